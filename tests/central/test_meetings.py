"""Meetings end to end: central under uvicorn, six fake site agents over real WebSockets."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx

from contracts.messages import CheckResult, Command, SelftestReport
from tests.central.helpers import (
    RECORDING,
    SITES,
    FakeAgent,
    RunningServer,
    Seeded,
    login,
    seed,
    sha256_of,
    wait_for,
)

BRIDGE = "sip:meet-100@bridge.roomops.test"


def meeting_body(mode: str = "bridge", sites: tuple[str, ...] = SITES, **extra: Any) -> dict[str, Any]:
    beijing = timezone(timedelta(hours=8))     # times carry their offset
    start = (datetime.now(UTC) + timedelta(hours=1)).astimezone(beijing)
    body = {
        "title": "联络处季度例会", "start": start.isoformat(),
        "end": (start + timedelta(hours=2)).isoformat(),
        "host_site": "shanghai", "sites": list(sites), "mode": mode,
    }
    if mode == "bridge":
        body["bridge_uri"] = BRIDGE
    body.update(extra)
    return body


@contextlib.asynccontextmanager
async def agents(server: RunningServer, seeded: Seeded, sites: tuple[str, ...] = SITES,
                 **kwargs: Any) -> AsyncIterator[dict[str, FakeAgent]]:
    running: dict[str, FakeAgent] = {}
    try:
        for site in sites:
            running[site] = await FakeAgent(server.ws_url, site, seeded.tokens[site], **kwargs).connect()
        for agent in running.values():
            await agent.wait(lambda a=agent: a.schedules, what="first schedule")
        yield running
    finally:
        for agent in running.values():
            await agent.close()


async def meeting(http: httpx.AsyncClient, headers: dict[str, str], meeting_id: str) -> dict[str, Any]:
    response = await http.get(f"/api/v1/meetings/{meeting_id}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_six_site_bridge_meeting_connects_records_and_archives(any_db_server: RunningServer) -> None:
    server = any_db_server
    seeded = seed(server.engine)
    http_client = httpx.AsyncClient(base_url=server.base_url, timeout=10)
    async with agents(server, seeded) as room, http_client as http:
        sec = await login(http, "secretariat")
        response = await http.post("/api/v1/meetings", headers=sec, json=meeting_body())
        assert response.status_code == 201, response.text
        meeting_id = response.json()["id"]

        # every site's agent gets the schedule (so its pre-meeting test can run)
        for agent in room.values():
            await agent.wait(lambda a=agent: any(m.id == meeting_id for m in a.schedules[-1].meetings),
                             what="schedule with the meeting")
        scheduled = next(m for m in room["lhasa"].schedules[-1].meetings if m.id == meeting_id)
        assert scheduled.bridge_uri == BRIDGE and sorted(scheduled.sites) == sorted(SITES)

        # a pre-meeting self-test gives readiness
        now = datetime.now(UTC)
        await room["lhasa"].send(SelftestReport(
            site="lhasa", trigger="pre_meeting", meeting_id=meeting_id, started_at=now, finished_at=now,
            verdict="ready",
            checks=[CheckResult(device="lhasa.codec", name="codec.registered", status="pass")]))

        started = await http.post(f"/api/v1/meetings/{meeting_id}/start", headers=sec)
        assert started.status_code == 202, started.text
        assert started.json()["state"] == "started"

        async def all_connected() -> dict[str, Any] | None:
            body = await meeting(http, sec, meeting_id)
            states = {s["site_id"]: s["call_state"] for s in body["sites"]}
            host = next(s for s in body["sites"] if s["site_id"] == "shanghai")
            ok = set(states.values()) == {"connected"} and host["recording"] == "recording"
            return body if ok else None

        body = await wait_for(all_connected, timeout=15, what="six sites connected and recording")
        assert {s["site_id"] for s in body["sites"]} == set(SITES)
        lhasa = next(s for s in body["sites"] if s["site_id"] == "lhasa")
        assert lhasa["readiness"] == "ready" and lhasa["call"]["remote_uri"] == BRIDGE
        for site, agent in room.items():
            kinds = [c.kind for c in agent.commands]
            assert kinds[:2] == ["prepare", "connect"], (site, kinds)
            connect = next(c for c in agent.commands if c.kind == "connect")
            assert connect.args == {"meeting_id": meeting_id, "mode": "bridge", "bridge_uri": BRIDGE}
        assert [c.kind for c in room["shanghai"].commands][2:] == ["record_start"]
        assert room["shanghai"].commands[2].device == "shanghai.recorder"

        # a second start is refused
        again = await http.post(f"/api/v1/meetings/{meeting_id}/start", headers=sec)
        assert again.status_code == 409 and "only a scheduled meeting" in again.json()["detail"]

        stopped = await http.post(f"/api/v1/meetings/{meeting_id}/stop", headers=sec)
        assert stopped.status_code == 202, stopped.text

        async def archived() -> dict[str, Any] | None:
            body = await meeting(http, sec, meeting_id)
            states = {s["call_state"] for s in body["sites"]}
            return body if states == {"disconnected"} and body["recordings"] else None

        body = await wait_for(archived, timeout=15, what="all disconnected, recording archived")
        [recording] = body["recordings"]
        assert recording["sha256"] == sha256_of(RECORDING) and recording["size"] == len(RECORDING)
        assert recording["duration_s"] == 61.5 and recording["site_id"] == "shanghai"
        assert body["state"] == "stopped"
        # the schedule sent after stop no longer lists the meeting
        xining = room["xining"]
        await xining.wait(lambda: all(m.id != meeting_id for m in xining.schedules[-1].meetings),
                          what="schedule without the meeting")

        audit = (await http.get("/api/v1/audit", headers=sec, params={"actor": "secretariat"})).json()
        actions = {(a["action"], a["outcome"]) for a in audit}
        assert {("meeting.create", "succeeded"), ("meeting.start", "succeeded"),
                ("meeting.stop", "succeeded"), ("meeting.start", "refused")} <= actions


async def test_host_mode_dials_far_ends_within_capacity(server: RunningServer) -> None:
    seeded = seed(server.engine, shanghai={"multisite_capacity": 3})
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
        sec = await login(http, "secretariat")
        too_many = await http.post("/api/v1/meetings", headers=sec, json=meeting_body("host"))
        assert too_many.status_code == 422
        assert "at most 3 other sites" in too_many.json()["detail"]

        sites = ("shanghai", "urumqi", "lhasa", "kunming")
        async with agents(server, seeded, sites) as room:
            created = await http.post("/api/v1/meetings", headers=sec, json=meeting_body("host", sites))
            meeting_id = created.json()["id"]
            await http.post(f"/api/v1/meetings/{meeting_id}/start", headers=sec)
            connect: Command = await room["shanghai"].wait(
                lambda: next((c for c in room["shanghai"].commands if c.kind == "connect"), None),
                what="host connect")
            assert connect.args["mode"] == "host"
            assert sorted(p["uri"] for p in connect.args["participants"]) == [
                "sip:kunming@roomops.test", "sip:lhasa@roomops.test", "sip:urumqi@roomops.test"]
            for site in sites[1:]:
                assert [c.kind for c in room[site].commands] == ["prepare"]
                assert room[site].commands[0].args["auto_answer"] is True
                await room[site].call(meeting_id, "connected", "sip:shanghai@roomops.test")

            async def connected() -> bool:
                body = await meeting(http, sec, meeting_id)
                return {s["call_state"] for s in body["sites"]} == {"connected"}

            await wait_for(connected, what="host and far ends connected")


async def test_failed_pre_meeting_check_opens_a_fault_and_recovery_closes_it(server: RunningServer,
                                                                             seeded: Seeded) -> None:
    async with agents(server, seeded, ("urumqi",)) as room, \
            httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
        sec = await login(http, "secretariat")
        meeting_id = (await http.post("/api/v1/meetings", headers=sec,
                                      json=meeting_body(sites=("urumqi", "shanghai")))).json()["id"]
        now = datetime.now(UTC)
        failed = SelftestReport(site="urumqi", trigger="pre_meeting", meeting_id=meeting_id, started_at=now,
                                finished_at=now, verdict="not_ready", checks=[CheckResult(
                                    device="urumqi.codec", name="codec.registered", status="fail",
                                    reason="SIP not registered")])
        await room["urumqi"].send(failed)
        await room["urumqi"].wait_acked(failed.msg_id)
        faults = (await http.get("/api/v1/faults", headers=sec, params={"open": "true"})).json()
        assert [(f["device_id"], f["check_name"], f["cause"]) for f in faults] == [
            ("urumqi.codec", "codec.registered", "SIP not registered")]
        body = await meeting(http, sec, meeting_id)
        urumqi = next(s for s in body["sites"] if s["site_id"] == "urumqi")
        assert urumqi["readiness"] == "not_ready"

        later = datetime.now(UTC)
        passed = failed.model_copy(update={
            "msg_id": "again-" + failed.msg_id, "run_id": "run-2", "verdict": "ready", "started_at": later,
            "finished_at": later,
            "checks": [failed.checks[0].model_copy(update={"status": "pass", "reason": ""})]})
        await room["urumqi"].send(passed)
        await room["urumqi"].wait_acked(passed.msg_id)
        [fault] = (await http.get("/api/v1/faults", headers=sec)).json()
        assert fault["closed_at"] is not None and fault["closed_by"] == "system"
        body = await meeting(http, sec, meeting_id)
        assert next(s for s in body["sites"] if s["site_id"] == "urumqi")["readiness"] == "ready"
