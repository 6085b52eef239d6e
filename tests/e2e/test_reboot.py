"""Remote reboot through the API and the real agent: an engineer sees the codec go down and come
back; a viewer or the secretariat is refused and nothing reaches the room."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import pytest

from tests.e2e.stack import POLL_SECONDS, Stack

pytestmark = [pytest.mark.slow, pytest.mark.timeout(400)]


def device(stack: Stack, device_id: str) -> dict[str, Any]:
    return stack.get(f"/api/v1/devices/{device_id}")


def up_device(stack: Stack, device_id: str) -> dict[str, Any]:
    return stack.wait_for(lambda: (d := device(stack, device_id))["up"] is True and d, 60,
                          f"{device_id} reported up")


def faults_of(stack: Stack, device_id: str) -> list[dict[str, Any]]:
    return stack.get("/api/v1/faults", role="engineer", device=device_id)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_engineer_reboots_a_codec_and_sees_it_go_down_and_come_back(stack: Stack) -> None:
    codec = "urumqi.codec"
    before = up_device(stack, codec)
    reply = stack.post(f"/api/v1/devices/{codec}/commands", "engineer", {"kind": "reboot"})
    assert reply.status_code == 202, reply.text
    command_id = reply.json()["id"]

    down = stack.wait_for(lambda: (d := device(stack, codec))["up"] is False and d, 30,
                          f"{codec} reported down while rebooting", interval=0.1)
    assert at(down["since"]) > at(before["since"])

    def finished() -> dict[str, Any] | None:
        row = stack.get(f"/api/v1/commands/{command_id}")
        return row if row["state"] in ("succeeded", "failed", "expired") else None

    command = stack.wait_for(finished, 60, "reboot command finished")
    assert command["state"] == "succeeded", command
    assert command["result"]["method"] == "reboot", command["result"]      # its own reboot, no PDU
    assert command["requested_by"] == "engineer" and command["acked_at"] is not None

    back = stack.wait_for(lambda: (d := device(stack, codec))["up"] is True and d, 30, f"{codec} back up")
    assert at(back["since"]) > at(down["since"])
    # planned work: the outage is no fault; the reboot's maintenance window says who, why and when
    outages = [f for f in faults_of(stack, codec) if at(f["opened_at"]) >= at(before["since"])]
    assert outages == [], outages
    windows = [w for w in stack.get("/api/v1/maintenance", site="urumqi") if w["command_id"] == command_id]
    assert [(w["kind"], w["device_id"], w["actor"]) for w in windows] == [("reboot", codec, "engineer")]
    assert windows[0]["ended_at"] is not None and at(windows[0]["started_at"]) <= at(down["since"])
    audit = stack.get("/api/v1/audit", role="admin")
    assert any(a["command_id"] == command_id and a["actor"] == "engineer" and a["outcome"] == "succeeded"
               for a in audit), audit[:5]


@pytest.mark.parametrize("role", ["viewer", "secretariat"])
def test_other_roles_cannot_reboot_and_nothing_happens(stack: Stack, role: str) -> None:
    codec = "lhasa.codec"
    before = up_device(stack, codec)
    commands_before = stack.get("/api/v1/commands", role="admin", device=codec)
    faults_before = faults_of(stack, codec)

    reply = stack.post(f"/api/v1/devices/{codec}/commands", role, {"kind": "reboot"})
    assert reply.status_code == 403, reply.text

    assert stack.get("/api/v1/commands", role="admin", device=codec) == commands_before
    # a reboot would have shown within the agent's next polls (the codec boots in 3 s)
    polled_after = time.monotonic() + 3 * POLL_SECONDS
    stack.wait_for(lambda: time.monotonic() >= polled_after, 30, "a few agent polls")
    now = up_device(stack, codec)
    assert now["since"] == before["since"], (before, now)
    assert faults_of(stack, codec) == faults_before
    audit = stack.get("/api/v1/audit", role="admin")
    target = f"/api/v1/devices/{codec}/commands"
    assert any(a["actor"] == role and a["outcome"] == "denied" and a["target"] == target
               for a in audit), audit[:5]
