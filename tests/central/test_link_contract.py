"""The agent link under version skew, bad and hostile frames: rejects that keep the link up, dead
letters an admin lists and replays, poison frames set aside, revocation closing an open link.
Real uvicorn, real WebSocket client, real SQLite."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import sqlalchemy
from sqlalchemy import func, select

from central.db import make_session_factory, transaction
from central.models import DeadLetter, Device, EventRow, Fault, IngestedMessage
from contracts.messages import (
    CLOSE_INCOMPATIBLE,
    CLOSE_REVOKED,
    Ack,
    DeviceInfo,
    DeviceStatus,
    Event,
    Hello,
    Status,
    dump_message,
)
from tests.central.helpers import FakeAgent, RunningServer, Seeded, login, seed, wait_for


def count(server: RunningServer, model: type, *where: object) -> int:
    with transaction(make_session_factory(server.engine)) as session:
        return session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def acks_for(agent: FakeAgent, msg_id: str) -> list[Ack]:
    return [m for m in agent.received if isinstance(m, Ack) and (msg_id in m.ack_ids or msg_id in m.rejected)]


def newer(msg: Any, **added: Any) -> str:
    """``msg`` as an agent one minor version ahead sends it: a higher minor and an added field."""
    body = json.loads(dump_message(msg))
    body.update(schema_minor=msg.schema_minor + 1, **added)
    return json.dumps(body)


async def test_newer_minor_with_unknown_fields_is_ingested(server: RunningServer, seeded: Seeded) -> None:
    async with FakeAgent(server.ws_url, "urumqi", seeded.tokens["urumqi"]) as agent:
        status = Status(site="urumqi", devices=[DeviceStatus(id="urumqi.codec", up=True, verdict="ok")])
        await agent.send_raw(newer(status, battery={"level": 80}))
        event = Event(site="urumqi", kind="device_down", device="urumqi.codec")
        body = json.loads(newer(event, severity="high"))
        body["data"] = {"reason": "no reply", "added_in_1_2": True}
        await agent.send_raw(json.dumps(body))
        await agent.wait_acked(status.msg_id)
        await agent.wait_acked(event.msg_id)
    assert count(server, IngestedMessage) == 3      # hello, status, event
    assert count(server, Fault, Fault.device_id == "urumqi.codec") == 1


async def test_older_agent_without_schema_minor_gets_acks_it_can_read(server: RunningServer,
                                                                       seeded: Seeded) -> None:
    agent = FakeAgent(server.ws_url, "lhasa", seeded.tokens["lhasa"])
    await agent.connect(hello=False)
    try:
        hello = json.loads(dump_message(Hello(site="lhasa", agent_version="0.0.9")))
        del hello["schema_minor"]                     # a 1.0 agent does not know the field
        await agent.send_raw(json.dumps(hello))
        await agent.wait(lambda: agent.schedules, what="schedule")
        raw_frames = [m for m in agent.received if isinstance(m, Ack)]
        assert raw_frames and all("schema_minor" not in m.model_fields_set for m in raw_frames)
    finally:
        await agent.close()


async def test_incompatible_major_is_refused_and_shown(server: RunningServer, seeded: Seeded) -> None:
    agent = FakeAgent(server.ws_url, "kunming", seeded.tokens["kunming"])
    await agent.connect(hello=False)
    try:
        hello = json.loads(dump_message(Hello(site="kunming", agent_version="9.0.0")))
        hello["schema_version"] = 2
        await agent.send_raw(json.dumps(hello))
        await agent.wait(lambda: agent.closed_code is not None, what="close")
        assert agent.closed_code == CLOSE_INCOMPATIBLE
        assert "not supported" in (agent.ws.close_reason or "")
    finally:
        await agent.close()
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        headers = await login(http, "viewer")
        faults = (await http.get("/api/v1/faults", params={"site": "kunming", "open": True},
                                 headers=headers)).json()
        assert len(faults) == 1 and "9.0.0" in faults[0]["cause"] and "schema version 2" in faults[0]["cause"]
        site = (await http.get("/api/v1/sites/kunming", headers=headers)).json()
        assert site["agent_version"] == "9.0.0" and site["agent_connected"] is False
        # the agent downgraded: a compatible hello closes the fault
        async with FakeAgent(server.ws_url, "kunming", seeded.tokens["kunming"]) as fixed:
            await fixed.wait(lambda: fixed.schedules, what="schedule")
        faults = (await http.get("/api/v1/faults", params={"site": "kunming", "open": True},
                                 headers=headers)).json()
        assert faults == []


async def test_bad_frames_are_rejected_kept_and_the_link_stays_up(server: RunningServer,
                                                                  seeded: Seeded) -> None:
    async with FakeAgent(server.ws_url, "urumqi", seeded.tokens["urumqi"]) as agent:
        await agent.wait(lambda: agent.schedules, what="schedule")
        nested = "[" * 200_000 + "]" * 200_000
        deep = '{"type": "status", "msg_id": "deep1", "site": "urumqi", "x": ' + nested + "}"
        big = Status(site="urumqi", msg_id="big1", devices=[
            DeviceStatus(id="urumqi.codec", up=True, details={"blob": "x" * 60_000})]).model_dump(mode="json")
        big["devices"][0]["details"]["blob"] = "x" * (10 * 2**20)        # a 10 MiB details blob
        many = Status(site="urumqi", msg_id="many1").model_dump(mode="json")
        many["devices"] = [{"id": f"urumqi.ghost{i}", "up": False} for i in range(300)]
        huge = Status(site="urumqi", msg_id="huge1").model_dump(mode="json")
        huge["devices"] = [{"id": f"urumqi.ghost{i}", "up": False} for i in range(20_000)]
        unknown = Status(site="urumqi", msg_id="unknown1", devices=[
            DeviceStatus(id="urumqi.codec", up=True), DeviceStatus(id="urumqi.ghost", up=False)])
        foreign_call = Event(site="urumqi", msg_id="call1", kind="call_state", device="urumqi.codec",
                             data={"device": "lhasa.codec", "call_id": "1", "state": "connected"})
        frames = {
            "deep1": deep,
            "big1": json.dumps(big),
            "many1": json.dumps(many),
            "huge1": json.dumps(huge),
            "unknown1": dump_message(unknown),
            "call1": dump_message(foreign_call),
            "zap1": json.dumps({"type": "zap", "msg_id": "zap1", "site": "urumqi"}),
        }
        for frame in frames.values():
            await agent.send_raw(frame)
        long_id = {"type": "event", "msg_id": "x" * 5000, "site": "urumqi", "kind": "k"}
        await agent.send_raw(json.dumps(long_id))
        await agent.wait(lambda: all(i in agent.rejected for i in [*frames, "<no msg_id>"]), timeout=30,
                         what="rejects")
        kept = {i for m in agent.received if isinstance(m, Ack) for i in m.kept}
        assert kept == set(frames)
        assert "64 KB" in agent.rejected["big1"] or "limit" in agent.rejected["big1"]
        assert "did not declare" in agent.rejected["unknown1"]
        assert "at most 256" in agent.rejected["many1"]
        assert "does not belong" in agent.rejected["call1"]
        # the link is still up and ingests the next good frame
        ok = await agent.send(Status(site="urumqi", devices=[DeviceStatus(id="urumqi.codec", up=True)]))
        await agent.wait_acked(ok)
    assert count(server, Device) == 3           # the hello's devices, nothing created by the bad frames
    assert count(server, EventRow) == 0
    assert count(server, DeadLetter) == len(frames) + 1
    with transaction(make_session_factory(server.engine)) as session:
        big_letter = session.scalars(select(DeadLetter).where(DeadLetter.msg_id == "big1")).one()
        assert big_letter.truncated and len(big_letter.body) <= 64 * 1024


async def test_dead_letter_listed_and_replayed_after_the_cause_is_fixed(server: RunningServer,
                                                                       seeded: Seeded) -> None:
    async with FakeAgent(server.ws_url, "xining", seeded.tokens["xining"]) as agent:
        await agent.wait(lambda: agent.schedules, what="schedule")
        early = Status(site="xining", devices=[DeviceStatus(id="xining.camera", up=False, verdict="down",
                                                   reasons=["dark"])])
        await agent.send(early)
        await agent.wait(lambda: early.msg_id in agent.rejected, what="reject")
        async with httpx.AsyncClient(base_url=server.base_url) as http:
            admin = await login(http, "admin")
            viewer = await login(http, "viewer")
            assert (await http.get("/api/v1/admin/dead-letters", headers=viewer)).status_code == 403
            [letter] = (await http.get("/api/v1/admin/dead-letters", params={"site": "xining"},
                                       headers=admin)).json()
            assert letter["msg_id"] == early.msg_id and letter["state"] == "held"
            assert "xining.camera" in letter["reason"]
            replay = f"/api/v1/admin/dead-letters/{letter['id']}/replay"
            # still unknown: the replay fails and the letter stays held with the reason
            failed = (await http.post(replay, headers=admin)).json()
            assert failed["ingested"] is False and "did not declare" in failed["error"]
            assert failed["dead_letter"]["state"] == "held"
            # the profile gained the camera: the next hello declares it, and the replay goes in
            await agent.send(Hello(site="xining", agent_version="fake-2", devices=[
                *agent.devices, DeviceInfo(id="xining.camera", model="sony", roles=["camera"])]))
            await agent.wait(lambda: len(agent.schedules) >= 2, what="second schedule")
            done = (await http.post(replay, headers=admin)).json()
            assert done["ingested"] is True and done["dead_letter"]["state"] == "replayed"
            assert done["dead_letter"]["replayed_by"] == "admin"
            camera = (await http.get("/api/v1/devices/xining.camera", headers=admin)).json()
            assert camera["up"] is False
            again = await http.post(replay, headers=admin)
            assert again.status_code == 409 and "replayed already" in again.json()["detail"]
            audit = (await http.get("/api/v1/audit", params={"action": "dead_letter.replay"},
                                    headers=admin)).json()
            assert sorted(a["outcome"] for a in audit) == ["failed", "succeeded"]
            assert (await http.get("/api/v1/admin/dead-letters/999999", headers=admin)).status_code == 404


async def test_poison_frame_is_set_aside_and_the_next_frame_arrives(server: RunningServer,
                                                                    seeded: Seeded) -> None:
    # a lasting storage failure: the database refuses this one row for good (an integrity error)
    with server.engine.begin() as connection:
        connection.execute(sqlalchemy.text(
            "CREATE TRIGGER poison BEFORE INSERT ON events WHEN NEW.kind = 'poison' "
            "BEGIN SELECT RAISE(ABORT, 'poisoned row'); END"))
    async with FakeAgent(server.ws_url, "guangzhou", seeded.tokens["guangzhou"]) as agent:
        await agent.wait(lambda: agent.schedules, what="schedule")
        poison = Event(site="guangzhou", kind="poison", data={"n": 1})
        behind = Event(site="guangzhou", kind="fine", data={"n": 2})
        await agent.send(poison)
        await agent.send(behind)
        await agent.wait_acked(behind.msg_id)
        assert "IntegrityError" in agent.rejected[poison.msg_id]
        assert poison.msg_id in acks_for(agent, poison.msg_id)[0].kept
        # resent (as an agent does after a reconnect): counted, not stored twice, still not blocking
        await agent.send(poison)
        await agent.wait(lambda: len(acks_for(agent, poison.msg_id)) == 2, what="second reject")
    assert count(server, EventRow) == 1
    with transaction(make_session_factory(server.engine)) as session:
        letter = session.scalars(select(DeadLetter).where(DeadLetter.msg_id == poison.msg_id)).one()
        assert letter.received == 2 and letter.type == "event"


async def test_revoked_token_closes_its_open_link_within_a_second(server: RunningServer,
                                                                  seeded: Seeded) -> None:
    token = seeded.tokens["shanghai"]
    token_id = token.split("_")[1]
    async with FakeAgent(server.ws_url, "shanghai", token) as agent, \
            httpx.AsyncClient(base_url=server.base_url) as http:
        await agent.wait(lambda: agent.schedules, what="schedule")
        admin = await login(http, "admin")
        loop = asyncio.get_running_loop()
        started = loop.time()
        response = await http.delete(f"/api/v1/sites/shanghai/tokens/{token_id}", headers=admin)
        assert response.status_code == 204
        await agent.wait(lambda: agent.closed_code is not None, timeout=5, what="close")
        assert agent.closed_code == CLOSE_REVOKED
        assert loop.time() - started < 1.0 + 0.5      # the request's own time plus a second


async def test_hub_close_links_for_sites(server: RunningServer, seeded: Seeded) -> None:
    async with FakeAgent(server.ws_url, "lhasa", seeded.tokens["lhasa"]) as agent:
        await agent.wait(lambda: agent.schedules, what="schedule")
        assert server.ctx.hub.close_links_for(site_ids=["lhasa"], reason="site disabled") == 1
        await agent.wait(lambda: agent.closed_code is not None, timeout=5, what="close")
        assert agent.closed_code == CLOSE_REVOKED

    async def gone() -> bool:
        return "lhasa" not in server.ctx.hub.connected_sites

    await wait_for(gone, what="link forgotten")


def _fuzzed_frames() -> list[str]:
    """A seeded sample of bad and odd frames from the contracts' fuzz strategies."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from tests.contracts.test_frames_fuzz import envelopes, json_values, nested

    frames: list[str] = []

    @settings(max_examples=120, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(st.one_of(st.text(max_size=200), json_values.map(json.dumps), envelopes().map(json.dumps),
                     st.integers(min_value=30, max_value=50_000).map(nested)))
    def collect(frame: str) -> None:
        frames.append(frame)

    collect()
    return frames


def _quiet(frame: str) -> bool:
    from contracts.messages import BadMessage, Heartbeat, parse_message

    try:
        return isinstance(parse_message(frame), Ack | Heartbeat)
    except BadMessage:
        return False


async def test_fuzzed_frames_become_rejects_and_the_link_stays_up(server: RunningServer,
                                                                 seeded: Seeded) -> None:
    frames = _fuzzed_frames()
    async with FakeAgent(server.ws_url, "urumqi", seeded.tokens["urumqi"]) as agent:
        await agent.wait(lambda: agent.schedules, what="schedule")
        for frame in frames:
            await agent.send_raw(frame)
        probe = await agent.send(Status(site="urumqi", devices=[DeviceStatus(id="urumqi.codec", up=True)]))
        await agent.wait_acked(probe, timeout=60)
        assert agent.closed_code is None
        # every frame was answered (ack or reject) except the acks and heartbeats, which need none
        silent = sum(1 for f in frames if _quiet(f))
        answers = [m for m in agent.received if isinstance(m, Ack)]
        assert len(answers) == 2 + len(frames) - silent        # + the hello's and the probe's acks
    assert count(server, Device) == 3           # nothing created a device


async def test_rejects_and_dead_letters_on_every_database(any_db_server: RunningServer) -> None:
    seeded = seed(any_db_server.engine)
    async with FakeAgent(any_db_server.ws_url, "urumqi", seeded.tokens["urumqi"]) as agent:
        await agent.wait(lambda: agent.schedules, what="schedule")
        frames = {
            "nul1": '{"type": "event", "msg_id": "nul1", "site": "urumqi", "kind": "k", "x": "\x00"}',
            "sur1": '{"type": "event", "msg_id": "sur1", "site": "urumqi", "kind": "k\\ud800"}',
            "ghost1": dump_message(Event(site="urumqi", msg_id="ghost1", kind="device_down",
                                         device="urumqi.ghost")),
            "typ1": json.dumps({"type": "zap\x00", "msg_id": "typ1", "site": "urumqi"}),
        }
        for frame in frames.values():
            await agent.send_raw(frame)
        await agent.send_raw("garbage \x00 frame")
        ok = await agent.send(Event(site="urumqi", kind="fine"))
        await agent.wait_acked(ok)
        await agent.wait(lambda: all(i in agent.acked or i in agent.rejected for i in frames), what="answers")
        assert {"ghost1", "typ1"} <= set(agent.rejected)
        assert agent.closed_code is None
    assert count(any_db_server, EventRow) >= 1
    assert count(any_db_server, DeadLetter) >= 3


def test_only_passing_database_errors_close_the_link() -> None:
    from sqlalchemy.exc import DataError, IntegrityError, OperationalError

    from central.hub.connection import is_transient

    assert is_transient(OperationalError("SELECT 1", {}, Exception("database is locked")))
    assert not is_transient(IntegrityError("INSERT", {}, Exception("UNIQUE constraint failed")))
    assert not is_transient(DataError("INSERT", {}, Exception("value too long")))
    assert not is_transient(ValueError("a bug"))
