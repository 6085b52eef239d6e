"""Central checks every command argument at the door: a relocation names a venue (never a path),
device commands take only their own arguments; a plan the agent refuses is ``plan_failed``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from contracts.messages import Command
from tests.central.helpers import FakeAgent, RunningServer, Seeded, login, wait_for


@pytest.fixture
def http(server: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        yield client


def bearer(http: httpx.Client, user: str) -> dict[str, str]:
    from tests.central.helpers import PASSWORD

    response = http.post("/api/v1/auth/token", data={"username": user, "password": PASSWORD})
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.mark.parametrize("venue", ["/etc/shadow", "../../etc/shadow", "venues/x", "X", "", "a" * 65,
                                   "a\nb", "urumqi.yaml", "-x"])
def test_a_venue_path_is_a_422(server: RunningServer, seeded: Seeded, http: httpx.Client, venue: str) -> None:
    eng = bearer(http, "engineer")
    refused = http.post("/api/v1/sites/urumqi/relocations", json={"venue": venue}, headers=eng)
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["where"] == "body.venue"
    assert venue not in refused.json()["detail"] or not venue


def test_a_venue_name_is_accepted(server: RunningServer, seeded: Seeded, http: httpx.Client) -> None:
    eng = bearer(http, "engineer")
    accepted = http.post("/api/v1/sites/urumqi/relocations", json={"venue": "urumqi-new_hall2"}, headers=eng)
    assert accepted.status_code == 202, accepted.text


@pytest.mark.parametrize(("kind", "args"), [
    ("reboot", {"force": True}), ("standby", {"on": "sometimes"}), ("selftest", {"trigger": "relocation"}),
    ("apply_config", {}), ("apply_config", {"config": {"a b": 1}}),
    ("apply_config", {"config": {"name": "x\u0000y"}}), ("apply_config", {"config": {"n": 10**30}}),
    ("apply_config", {"config": {"a": {"b": {"c": 1}}}}), ("uplink_test", {"url": "http://x"}),
])
def test_device_command_arguments_are_checked(server: RunningServer, seeded: Seeded, http: httpx.Client,
                                              kind: str, args: dict[str, Any]) -> None:
    eng = bearer(http, "engineer")
    refused = http.post("/api/v1/devices/urumqi.codec/commands", json={"kind": kind, "args": args},
                        headers=eng)
    assert refused.status_code == 422, refused.text
    assert "args" in refused.json()["detail"]


async def test_checked_arguments_reach_the_agent_and_a_refused_plan_fails(server: RunningServer,
                                                                          seeded: Seeded) -> None:
    refusal = "venue 'gone' is not available on this agent: no such venue profile, or not a valid one"

    async def on_plan(agent: FakeAgent, command: Command) -> None:
        await agent.result(command, result={"ok": False, "error": refusal})

    async def on_ok(agent: FakeAgent, command: Command) -> None:
        await agent.result(command, result={})

    handlers = {"relocate_plan": on_plan, "apply_config": on_ok}
    async with FakeAgent(server.ws_url, "urumqi", seeded.tokens["urumqi"], handlers=handlers) as agent, \
            httpx.AsyncClient(base_url=server.base_url, timeout=10) as client:
        await agent.wait(lambda: agent.schedules, what="schedule")
        eng = await login(client, "engineer")
        sent = await client.post("/api/v1/devices/urumqi.codec/commands", headers=eng, json={
            "kind": "apply_config", "args": {"config": {"routes": {"1": 3}, "name": "Room 2"}}})
        assert sent.status_code == 202, sent.text
        relocation = (await client.post("/api/v1/sites/urumqi/relocations", headers=eng,
                                        json={"venue": "gone"})).json()["id"]

        async def failed() -> dict[str, Any] | None:
            body = (await client.get(f"/api/v1/relocations/{relocation}", headers=eng)).json()
            return body if body["state"] == "plan_failed" else None

        body = await wait_for(failed, what="plan_failed")
        assert refusal in body["error"]
        config = next(c for c in agent.commands if c.kind == "apply_config")
        assert config.args == {"config": {"routes": {"1": 3}, "name": "Room 2"}}
