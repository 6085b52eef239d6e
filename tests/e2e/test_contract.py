"""The agent <-> central contract, real agent against real central (uvicorn in a thread, SQLite):
what one side sends is what the other side reads. Fast: no simulated rooms, one process.

- a frame central will never ingest comes back in ``Ack.rejected`` and ``Ack.kept`` (central keeps
  it as a dead letter); the agent drops it from its outbox (and keeps sending what follows)
  instead of resending it forever;
- the agent talks often enough that central never drops a quiet link;
- ``hello`` tells central the codec's call URI and multisite capacity;
- a self-test central asked for is reported under central's run id and command id;
- a relocation plan (a list of per-device steps) is stored, not lost;
- a codec's calls become one ``call_state`` event per change, tagged with the meeting.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from agent.coordinator import CallTracker
from agent.runtime import Agent, AgentConfig
from agent.site import DeviceSpec, SiteSpec
from central.db import make_session_factory, transaction
from central.models import CommandRow, DeadLetter, Device, EventRow, Relocation, SelftestRow, Site
from central.services import relocations
from contracts.messages import Event
from drivers.roles import CallInfo, Endpoint
from tests.central.helpers import RunningServer, Seeded, central_settings, login, seed

SITE = "urumqi"


@pytest.fixture
def server(tmp_path: Path, loopback: str) -> Iterator[RunningServer]:
    running = RunningServer(central_settings(tmp_path / "central"), loopback).start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def seeded(server: RunningServer) -> Seeded:
    return seed(server.engine)


def codec_spec() -> DeviceSpec:
    # never dialled in these tests: the agent only describes it
    endpoint = Endpoint(transport="ssh", host="127.0.0.1", port=1, boot_time=1.0,
                        options={"multisite_capacity": 4})
    return DeviceSpec(id=f"{SITE}.codec", driver="cisco-roomos", endpoint=endpoint,
                      roles=frozenset({"codec"}), model="cisco-roomkit",
                      desired={"sip.uri": "urumqi@roomops.example"})


def make_agent(server: RunningServer, seeded: Seeded, tmp_path: Path, *, heartbeat: float = 0.5,
               devices: tuple[DeviceSpec, ...] = ()) -> Agent:
    site = SiteSpec(id=SITE, devices=devices)
    return Agent(site, AgentConfig(state_dir=tmp_path / "agent", central=server.base_url,
                                   token=seeded.tokens[SITE], poll_interval=0, heartbeat_interval=heartbeat,
                                   link_backoff_initial=0.1, link_backoff_cap=0.5))


async def eventually(check: Callable[[], Any] | Callable[[], Awaitable[Any]], timeout: float,
                     what: str) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if asyncio.iscoroutine(last):
            last = await last
        if last:
            return last
        await asyncio.sleep(0.05)   # waiting on another component's progress, not on a device
    raise AssertionError(f"{what}: not within {timeout:g} s (last {last!r})")


def db(server: RunningServer) -> Any:
    return transaction(make_session_factory(server.engine))


async def test_rejected_frames_leave_the_outbox_and_later_ones_still_flow(
        server: RunningServer, seeded: Seeded, tmp_path: Path) -> None:
    agent = make_agent(server, seeded, tmp_path, devices=(codec_spec(),))
    foreign = Event(site=SITE, kind="note", device="lhasa.codec", data={"n": 1})   # another site's device
    good = Event(site=SITE, kind="note", device=f"{SITE}.codec", data={"n": 2})
    agent.emit(foreign)
    agent.emit(good)
    await agent.start()
    try:
        await eventually(lambda: len(agent.outbox) == 0, 10, "outbox drained")
        assert agent.link is not None
        [(msg_id, reason)] = list(agent.link.rejected)
        assert msg_id == foreign.msg_id and "lhasa.codec" in reason
        with db(server) as session:
            kept = session.scalars(select(EventRow).where(EventRow.kind == "note")).all()
            assert [e.msg_id for e in kept] == [good.msg_id]
            [letter] = session.scalars(select(DeadLetter)).all()
            assert letter.msg_id == foreign.msg_id and letter.state == "held"
    finally:
        await agent.stop()


async def test_a_quiet_agent_keeps_its_link(server: RunningServer, seeded: Seeded, tmp_path: Path) -> None:
    # central drops a link silent for 3 heartbeat intervals (1 s each here); the agent has
    # nothing to report, so only its own heartbeats keep the one connection alive
    agent = make_agent(server, seeded, tmp_path, heartbeat=0.5)
    await agent.start()
    try:
        def connected_at() -> datetime | None:
            with db(server) as session:
                site = session.get(Site, SITE)
                return site.connected_at if site is not None and site.agent_connected else None

        first = await eventually(connected_at, 10, "agent connected")
        await asyncio.sleep(4.0)   # longer than central's allowance for silence
        assert connected_at() == first, "central dropped the link and the agent had to reconnect"
    finally:
        await agent.stop()


async def test_hello_gives_central_the_codec_uri_and_multisite_capacity(
        server: RunningServer, seeded: Seeded, tmp_path: Path) -> None:
    agent = make_agent(server, seeded, tmp_path, devices=(codec_spec(),))
    await agent.start()
    try:
        def capabilities() -> dict[str, Any] | None:
            with db(server) as session:
                device = session.get(Device, f"{SITE}.codec")
                return dict(device.capabilities) if device is not None else None

        caps = await eventually(capabilities, 10, "codec known to central")
        assert caps == {"uri": "urumqi@roomops.example", "multisite_capacity": 4, "critical": True,
                        "reboot_methods": caps.get("reboot_methods")}
        assert caps["reboot_methods"][0] == "command"     # what the dashboard's reboot button says
    finally:
        await agent.stop()


async def test_requested_selftest_is_reported_under_centrals_run_and_command_ids(
        server: RunningServer, seeded: Seeded, tmp_path: Path) -> None:
    agent = make_agent(server, seeded, tmp_path)
    await agent.start()
    try:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
            headers = await login(http, "engineer")
            reply = await http.post(f"/api/v1/sites/{SITE}/selftests", headers=headers)
            assert reply.status_code == 202, reply.text
            requested = reply.json()

            async def done() -> dict[str, Any] | None:
                row = (await http.get(f"/api/v1/selftests/{requested['id']}", headers=headers)).json()
                return row if row["state"] == "done" else None

            await eventually(done, 20, "self-test done")
            listed = (await http.get(f"/api/v1/sites/{SITE}/selftests", headers=headers)).json()
        assert [r["id"] for r in listed] == [requested["id"]]          # one run, under central's id
        assert agent.last_selftest is not None
        assert agent.last_selftest.run_id == requested["id"]
        assert agent.last_selftest.command_id == requested["command_id"]
        with db(server) as session:
            command = session.get(CommandRow, requested["command_id"])
            assert command is not None and command.state == "succeeded" and command.acked_at is not None
            assert session.get(SelftestRow, requested["id"]).command_id == requested["command_id"]
    finally:
        await agent.stop()


def test_relocation_plan_as_the_agent_reports_it_is_stored(server: RunningServer, seeded: Seeded) -> None:
    result = {"plan": [{"device": f"{SITE}.codec", "found_at": "127.0.20.10", "target": "127.1.20.10",
                        "problem": "", "strangers": [], "settings": {}, "address": {}}],
              "dry_run": True, "ok": True}
    with db(server) as session:
        row = relocations.plan(session, site_id=SITE, venue="v", actor="t", deadline_seconds=60)
        command = session.get(CommandRow, row.plan_command_id)
        assert command is not None
        command.state, command.result = "succeeded", result
        relocations.on_command_final(session, command)
        relocation_id = row.id
    with db(server) as session:
        stored = session.get(Relocation, relocation_id)
        assert stored is not None and stored.state == "planned"
        assert stored.plan == result


# -- call reporting (agent side) ------------------------------------------------------------------------
def call(state: str, call_id: str = "7", resolution: str = "1920x1080", rate: int = 1920) -> CallInfo:
    return CallInfo(call_id=call_id, direction="outgoing", remote_uri="bridge@mcu.example", state=state,
                    rate_kbps=rate, resolution=resolution, protocol="sip")


def test_each_change_of_a_call_is_one_call_state_event_tagged_with_its_meeting() -> None:
    events: list[Event] = []
    meeting: list[str | None] = ["m-1"]
    tracker = CallTracker(f"{SITE}.codec", SITE, events.append, lambda: meeting[0])

    tracker.update([call("dialing")])
    tracker.update([call("dialing")])                     # nothing changed: nothing reported
    tracker.update([call("connected")])
    meeting[0] = None                                     # the agent stopped serving the meeting...
    tracker.update([call("connected", resolution="704x576", rate=768)])
    tracker.update([])                                    # ...and the call ended

    assert [e.kind for e in events] == ["call_state"] * 4
    assert all(e.device == f"{SITE}.codec" and "device" not in e.data for e in events)
    assert [(e.data["state"], e.data["hd"], e.data["meeting_id"]) for e in events] == [
        ("dialing", True, "m-1"), ("connected", True, "m-1"), ("connected", False, "m-1"),
        ("idle", False, "m-1")]
    assert tracker.current() == []


def test_a_call_first_seen_outside_a_meeting_carries_no_meeting() -> None:
    events: list[Event] = []
    tracker = CallTracker(f"{SITE}.codec", SITE, events.append)
    tracker.update([call("connected", call_id="1"), call("ringing", call_id="2")])
    assert {(e.data["call_id"], e.data["state"], e.data["meeting_id"]) for e in events} == {
        ("1", "connected", None), ("2", "ringing", None)}
