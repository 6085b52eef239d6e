"""Control inside a running meeting over the real API with fake agents on real WebSockets: redial,
drop, add a site, mute; a stop touches only its own meeting; no recording for a host without a
recorder; the room's preparation reported beside the call."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from contracts.messages import Command, DeviceInfo, Event, Hello
from tests.central.helpers import DEFAULT_HANDLERS, FakeAgent, RunningServer, login, seed, wait_for
from tests.central.test_meetings import agents, meeting


def body(sites: tuple[str, ...], mode: str = "bridge", **extra: Any) -> dict[str, Any]:
    start = datetime.now(UTC) - timedelta(minutes=1)
    out = {"title": "control", "start": start.isoformat(), "end": (start + timedelta(hours=1)).isoformat(),
           "host_site": sites[0], "sites": list(sites), "mode": mode}
    if mode == "bridge":
        out["bridge_uri"] = "sip:meet@bridge.roomops.test"
    out.update(extra)
    return out


async def started(http: httpx.AsyncClient, sec: dict[str, str], payload: dict[str, Any]) -> str:
    created = await http.post("/api/v1/meetings", headers=sec, json=payload)
    assert created.status_code == 201, created.text
    meeting_id = created.json()["id"]
    assert (await http.post(f"/api/v1/meetings/{meeting_id}/start", headers=sec)).status_code == 202
    return meeting_id


def link(body: dict[str, Any], site: str) -> dict[str, Any]:
    return next(s for s in body["sites"] if s["site_id"] == site)


def states(sites: dict[str, str]) -> Any:
    async def check(http: httpx.AsyncClient, sec: dict[str, str], meeting_id: str) -> Any:
        got = await meeting(http, sec, meeting_id)
        now = {s["site_id"]: s["call_state"] for s in got["sites"]}
        return got if all(now.get(k) == v for k, v in sites.items()) else None
    return check


async def until(http: httpx.AsyncClient, sec: dict[str, str], meeting_id: str, want: dict[str, str]) -> Any:
    check = states(want)
    return await wait_for(lambda: check(http, sec, meeting_id), timeout=15, what=f"call states {want}")


async def audit_of(http: httpx.AsyncClient, sec: dict[str, str]) -> list[dict[str, Any]]:
    return (await http.get("/api/v1/audit", headers=sec, params={"actor": "secretariat"})).json()


# -- redial, drop, mute ------------------------------------------------------------------------------
async def test_a_failed_site_is_redialled_dropped_and_muted(server: RunningServer) -> None:
    seeded = seed(server.engine)
    attempts: dict[str, int] = {}

    async def first_dial_fails(agent: FakeAgent, command: Command) -> None:
        attempts[agent.site] = attempts.get(agent.site, 0) + 1
        if agent.site == "lhasa" and attempts[agent.site] == 1:
            await agent.result(command, state="failed",
                               error="CommandFailed: every call ended before connecting")
            return
        await DEFAULT_HANDLERS["connect"](agent, command)

    handlers = {**DEFAULT_HANDLERS, "connect": first_dial_fails, "mute": DEFAULT_HANDLERS["prepare"]}
    sites = ("shanghai", "lhasa", "xining")
    async with agents(server, seeded, sites, handlers=handlers) as room, \
            httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
        sec = await login(http, "secretariat")
        meeting_id = await started(http, sec, body(sites))
        got = await until(http, sec, meeting_id, {"shanghai": "connected", "lhasa": "failed",
                                                  "xining": "connected"})
        lhasa = link(got, "lhasa")
        assert lhasa["problem_code"] == "connect_failed" and "every call ended" in lhasa["problem"]

        viewer = await login(http, "viewer")
        assert (await http.post(f"/api/v1/meetings/{meeting_id}/sites/lhasa/redial",
                                headers=viewer)).status_code == 403
        redial = await http.post(f"/api/v1/meetings/{meeting_id}/sites/lhasa/redial", headers=sec)
        assert redial.status_code == 202, redial.text
        assert redial.json()["call_state"] == "dialing" and redial.json()["problem_code"] is None
        got = await until(http, sec, meeting_id, {"lhasa": "connected"})
        assert link(got, "lhasa")["problem"] is None
        connects = [c for c in room["lhasa"].commands if c.kind == "connect"]
        assert len(connects) == 2 and connects[1].args["redial"] is True
        assert [c.kind for c in room["xining"].commands].count("connect") == 1   # nobody else redialled

        mute = await http.post(f"/api/v1/meetings/{meeting_id}/sites/xining/mute", headers=sec,
                               json={"on": True})
        assert mute.status_code == 202, mute.text
        await wait_for(lambda: _muted(http, sec, meeting_id, "xining"), what="xining muted")
        [muting] = [c for c in room["xining"].commands if c.kind == "mute"]
        assert muting.args == {"meeting_id": meeting_id, "on": True}

        drop = await http.post(f"/api/v1/meetings/{meeting_id}/sites/xining/drop", headers=sec)
        assert drop.status_code == 202 and drop.json()["call_state"] == "dropped"
        [hangup] = await room["xining"].wait(
            lambda: [c for c in room["xining"].commands if c.kind == "disconnect"], what="the drop")
        assert hangup.args == {"meeting_id": meeting_id, "drop": True}
        got = await wait_for(lambda: _settled_drop(http, sec, meeting_id), what="xining dropped, others on")
        assert link(got, "shanghai")["call_state"] == "connected"
        assert [c.kind for c in room["shanghai"].commands].count("disconnect") == 0

        unknown = await http.post(f"/api/v1/meetings/{meeting_id}/sites/kunming/redial", headers=sec)
        assert unknown.status_code == 404
        actions = {(a["action"], a["target"], a["outcome"]) for a in await audit_of(http, sec)}
        assert {("meeting.redial", f"{meeting_id}/lhasa", "succeeded"),
                ("meeting.mute", f"{meeting_id}/xining", "succeeded"),
                ("meeting.drop", f"{meeting_id}/xining", "succeeded")} <= actions

        # redial brings a dropped site back
        back = await http.post(f"/api/v1/meetings/{meeting_id}/sites/xining/redial", headers=sec)
        assert back.status_code == 202
        await until(http, sec, meeting_id, {"xining": "connected"})


async def _muted(http: httpx.AsyncClient, sec: dict[str, str], meeting_id: str, site: str) -> bool:
    return link(await meeting(http, sec, meeting_id), site)["muted"] is True


async def _settled_drop(http: httpx.AsyncClient, sec: dict[str, str], meeting_id: str) -> Any:
    got = await meeting(http, sec, meeting_id)
    return got if link(got, "xining")["call_state"] == "dropped" else None


async def test_control_refusals(server: RunningServer) -> None:
    seeded = seed(server.engine, shanghai={"multisite_capacity": 2})
    sites = ("shanghai", "urumqi")
    async with agents(server, seeded, sites) as _room, \
            httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
        sec = await login(http, "secretariat")
        other = await http.post("/api/v1/meetings", headers=sec, json=body(("lhasa", "kunming")))
        scheduled = other.json()["id"]
        early = await http.post(f"/api/v1/meetings/{scheduled}/sites/lhasa/redial", headers=sec)
        assert early.status_code == 409 and "only a started meeting" in early.json()["detail"]
        meeting_id = await started(http, sec, body(sites, "host"))
        host_drop = await http.post(f"/api/v1/meetings/{meeting_id}/sites/shanghai/drop", headers=sec)
        assert host_drop.status_code == 409 and "host carries every call" in host_drop.json()["detail"]
        again = await http.post(f"/api/v1/meetings/{meeting_id}/sites", headers=sec, json={"site": "urumqi"})
        assert again.status_code == 409 and "already in this meeting" in again.json()["detail"]
        busy = await http.post(f"/api/v1/meetings/{meeting_id}/sites", headers=sec, json={"site": "lhasa"})
        assert busy.status_code == 409 and busy.json()["conflicts"][0]["id"] == scheduled
        assert (await http.post(f"/api/v1/meetings/{meeting_id}/sites", headers=sec,
                                json={"site": "nowhere"})).status_code == 404
        audit = await audit_of(http, sec)
        assert ("meeting.drop", "refused") in {(a["action"], a["outcome"]) for a in audit}


# -- add a site -----------------------------------------------------------------------------------------
async def test_a_site_added_to_a_running_bridge_meeting_prepares_and_dials(server: RunningServer) -> None:
    seeded = seed(server.engine)
    async with agents(server, seeded, ("shanghai", "urumqi", "kunming")) as room, \
            httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
        sec = await login(http, "secretariat")
        meeting_id = await started(http, sec, body(("shanghai", "urumqi")))
        await until(http, sec, meeting_id, {"shanghai": "connected", "urumqi": "connected"})
        added = await http.post(f"/api/v1/meetings/{meeting_id}/sites", headers=sec, json={"site": "kunming"})
        assert added.status_code == 201, added.text
        assert added.json()["call_state"] == "preparing"
        await until(http, sec, meeting_id, {"kunming": "connected", "urumqi": "connected"})
        kinds = [c.kind for c in room["kunming"].commands]
        assert kinds == ["prepare", "connect"], kinds
        assert room["kunming"].commands[0].args["join"] is True
        await room["kunming"].wait(lambda: any(meeting_id in [m.id for m in s.meetings]
                                               for s in room["kunming"].schedules), what="schedule")


async def test_a_site_added_to_a_host_meeting_is_dialled_by_the_host_alone(server: RunningServer) -> None:
    seeded = seed(server.engine, shanghai={"multisite_capacity": 3})
    sites = ("shanghai", "urumqi", "lhasa")
    async with agents(server, seeded, (*sites, "xining")) as room, \
            httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
        sec = await login(http, "secretariat")
        meeting_id = await started(http, sec, body(sites, "host"))
        host = room["shanghai"]
        first = await host.wait(lambda: next((c for c in host.commands if c.kind == "connect"), None),
                                what="the host's first connect")
        assert "for_sites" not in first.args
        added = await http.post(f"/api/v1/meetings/{meeting_id}/sites", headers=sec, json={"site": "xining"})
        assert added.status_code == 201, added.text
        second = await host.wait(lambda: [c for c in host.commands if c.kind == "connect"][1:], what="2nd")
        assert second[0].args["participants"] == [{"site": "xining", "uri": "sip:xining@roomops.test"}]
        assert second[0].args["for_sites"] == ["xining"]
        # the host redials one far end: only that one, after hanging up its old call
        await room["lhasa"].call(meeting_id, "connected", "sip:shanghai@roomops.test")
        redial = await http.post(f"/api/v1/meetings/{meeting_id}/sites/lhasa/redial", headers=sec)
        assert redial.status_code == 202, redial.text
        third = await host.wait(lambda: [c for c in host.commands if c.kind == "connect"][2:], what="3rd")
        assert third[0].args["participants"] == [{"site": "lhasa", "uri": "sip:lhasa@roomops.test"}]
        assert third[0].args["redial"] is True and third[0].args["for_sites"] == ["lhasa"]


# -- a stop touches only its own meeting --------------------------------------------------------------
async def test_stopping_one_meeting_leaves_a_site_in_the_other(server: RunningServer) -> None:
    seeded = seed(server.engine)
    async with agents(server, seeded, ("shanghai", "lhasa", "xining")) as room, \
            httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
        sec = await login(http, "secretariat")
        first = await started(http, sec, body(("shanghai", "lhasa", "xining")))
        await until(http, sec, first, {"lhasa": "connected", "xining": "connected"})
        second_body = body(("lhasa", "xining"), force=True, force_reason="urgent coordination")
        second_body["title"] = "second"
        created = await http.post("/api/v1/meetings", headers=sec, json=second_body)
        assert created.status_code == 201, created.text
        second = created.json()["id"]
        start = await http.post(f"/api/v1/meetings/{second}/start", headers=sec,
                                json={"force": True, "reason": "urgent coordination"})
        assert start.status_code == 202, start.text
        await until(http, sec, second, {"lhasa": "connected", "xining": "connected"})

        assert (await http.post(f"/api/v1/meetings/{second}/stop", headers=sec)).status_code == 202
        for site in ("lhasa", "xining"):
            hangups = await room[site].wait(
                lambda r=room[site]: [c for c in r.commands if c.kind == "disconnect"], what="hang-up")
            assert [c.args["meeting_id"] for c in hangups] == [second], site
        await until(http, sec, second, {"lhasa": "disconnected", "xining": "disconnected"})
        # the other meeting's sites never heard a hang-up for it and stay in it
        got = await meeting(http, sec, first)
        assert {s["site_id"]: s["call_state"] for s in got["sites"]} == {
            "shanghai": "connected", "lhasa": "connected", "xining": "connected"}
        assert got["state"] == "started" and link(got, "shanghai")["recording"] == "recording"
        assert not [c for c in room["shanghai"].commands if c.kind in ("disconnect", "record_stop")]


# -- recording, preparation -------------------------------------------------------------------------------
def without_recorder(site: str) -> list[DeviceInfo]:
    return [DeviceInfo(id=f"{site}.codec", model="cisco-roomkit", roles=["codec"],
                       capabilities={"uri": f"sip:{site}@roomops.test", "multisite_capacity": 5})]


async def test_a_host_without_a_recorder_has_no_recording(server: RunningServer) -> None:
    seeded = seed(server.engine)
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
        sec = await login(http, "secretariat")
        host = await FakeAgent(server.ws_url, "xining", seeded.tokens["xining"],
                               devices=without_recorder("xining")).connect()
        other = await FakeAgent(server.ws_url, "lhasa", seeded.tokens["lhasa"]).connect()
        try:
            meeting_id = await started(http, sec, body(("xining", "lhasa")))
            got = await until(http, sec, meeting_id, {"xining": "connected", "lhasa": "connected"})
            assert link(got, "xining")["recording"] is None
            assert [c.kind for c in host.commands] == ["prepare", "connect"]
            assert (await http.post(f"/api/v1/meetings/{meeting_id}/stop", headers=sec)).status_code == 202
            got = await until(http, sec, meeting_id, {"xining": "disconnected"})
            assert link(got, "xining")["recording"] is None and got["recordings"] == []
            assert "record_stop" not in [c.kind for c in host.commands]
        finally:
            await host.close()
            await other.close()


async def test_the_room_prepares_beside_the_call_and_reports_live(server: RunningServer) -> None:
    seeded = seed(server.engine)

    async def prepare_beside(agent: FakeAgent, command: Command) -> None:
        mid = command.args["meeting_id"]
        beside = [{"device": f"{agent.site}.display1", "step": "power on", "role": "display"},
                  {"device": f"{agent.site}.switcher", "step": "route 1->1", "role": "switcher"}]
        await agent.result(command, result={"steps": [], "beside": beside})
        if agent.site == "xining":
            # the projector is a device of the site: its hello declares it (central refuses others)
            await agent.send(Hello(site="xining", agent_version="fake-1", devices=[
                *agent.devices,
                DeviceInfo(id="xining.display1", model="pjlink-projector", roles=["display"])]))
            await agent.send(Event(site="xining", kind="prepare_step", device="xining.display1", data={
                "meeting_id": mid, "step": "power on", "role": "display", "state": "waiting",
                "reason": "lamp error", "evidence": "PJLINK ERR4"}))

    handlers = {**DEFAULT_HANDLERS, "prepare": prepare_beside}
    async with agents(server, seeded, ("shanghai", "xining"), handlers=handlers), \
            httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
        sec = await login(http, "secretariat")
        meeting_id = await started(http, sec, body(("shanghai", "xining")))
        got = await until(http, sec, meeting_id, {"shanghai": "connected", "xining": "connected"})

        async def waiting() -> Any:
            steps = link(await meeting(http, sec, meeting_id), "xining")["preparation"] or []
            return steps if any(s["state"] == "waiting" for s in steps) else None

        steps = await wait_for(waiting, what="the projector's step reported")
        display = next(s for s in steps if s["device"] == "xining.display1")
        assert display == {"device": "xining.display1", "step": "power on", "role": "display",
                           "state": "waiting", "reason": "lamp error", "evidence": "PJLINK ERR4"}
        switcher = next(s for s in steps if s["device"] == "xining.switcher")
        assert switcher["state"] == "running"
        assert link(got, "xining")["problem"] is None       # the call is fine: the room is not the call
