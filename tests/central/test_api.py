"""REST API behaviour against central under uvicorn: auth, errors, secrets, device operations."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from contracts.messages import Command, DeviceInfo, SelftestReport
from tests.central.helpers import PASSWORD, FakeAgent, RunningServer, Seeded, login, wait_for


@pytest.fixture
def http(server: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        yield client


def bearer(http: httpx.Client, username: str, password: str = PASSWORD) -> dict[str, str]:
    response = http.post("/api/v1/auth/token", data={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def test_wrong_password_then_rate_limited(server: RunningServer, seeded: Seeded, http: httpx.Client) -> None:
    for _ in range(server.settings.login_max_attempts):
        response = http.post("/api/v1/auth/token", data={"username": "viewer", "password": "wrong password"})
        assert response.status_code == 401
        assert response.json() == {"detail": "wrong username or password", "status": 401}
    limited = http.post("/api/v1/auth/token", data={"username": "viewer", "password": PASSWORD})
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
    assert "too many failed sign-ins" in limited.json()["detail"]


def test_bad_and_tampered_tokens_are_401(server: RunningServer, seeded: Seeded, http: httpx.Client) -> None:
    good = bearer(http, "viewer")["Authorization"]
    for value in ("Bearer nonsense", good[:-3] + "abc", "Bearer " + "x.y"):
        response = http.get("/api/v1/sites", headers={"Authorization": value})
        assert response.status_code == 401 and response.json()["detail"].startswith("the token is invalid")


def test_dashboard_session_cookie_needs_csrf_for_changes(server: RunningServer, seeded: Seeded,
                                                         http: httpx.Client) -> None:
    response = http.post("/api/v1/auth/session", data={"username": "secretariat", "password": PASSWORD})
    assert response.status_code == 200
    csrf = response.json()["csrf_token"]
    assert "httponly" in response.headers["set-cookie"].lower()
    assert http.get("/api/v1/sites").status_code == 200            # cookie reads need no CSRF
    body = {"title": "t", "start": "2031-05-01T09:00:00+08:00", "end": "2031-05-01T10:00:00+08:00",
            "host_site": "shanghai", "sites": ["urumqi"], "mode": "bridge", "bridge_uri": "sip:b@x"}
    refused = http.post("/api/v1/meetings", json=body)
    assert refused.status_code == 403 and "X-CSRF-Token" in refused.json()["detail"]
    wrong = http.post("/api/v1/meetings", json=body, headers={"X-CSRF-Token": "forged"})
    assert wrong.status_code == 403
    ok = http.post("/api/v1/meetings", json=body, headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 201, ok.text
    assert http.post("/api/v1/auth/logout").status_code == 204
    assert http.get("/api/v1/sites").status_code == 401


def test_errors_are_json_with_a_clear_message(server: RunningServer, seeded: Seeded,
                                               http: httpx.Client) -> None:
    sec = bearer(http, "secretariat")
    naive = {"title": "t", "start": "2031-05-01T09:00:00", "end": "2031-05-01T10:00:00+08:00",
             "host_site": "shanghai", "sites": ["urumqi"], "mode": "bridge", "bridge_uri": "sip:b@x"}
    response = http.post("/api/v1/meetings", json=naive, headers=sec)
    assert response.status_code == 422
    assert response.json()["detail"].startswith("invalid request: body.start: ")
    assert "timezone" in response.json()["detail"]
    cases: list[tuple[dict[str, Any], str]] = [
        ({**naive, "start": "2031-05-01T11:00:00+08:00"}, "end must be after start"),
        ({**naive, "start": "2031-05-01T09:00:00+08:00", "sites": ["atlantis"]}, "unknown site(s): atlantis"),
        ({**naive, "start": "2031-05-01T09:00:00+08:00", "bridge_uri": None},
         "bridge mode needs bridge_uri: no default bridge is set for the organisation "
         "(setting default_bridge_uri)"),
    ]
    for body, message in cases:
        response = http.post("/api/v1/meetings", json=body, headers=sec)
        assert response.status_code == 422 and response.json()["detail"] == message
    unknown_kind = http.post("/api/v1/devices/urumqi.codec/commands", json={"kind": "self_destruct"},
                             headers=bearer(http, "engineer"))
    assert unknown_kind.status_code == 422 and "body.kind" in unknown_kind.json()["detail"]
    missing = http.get("/api/v1/devices/nowhere.codec", headers=sec)
    assert missing.status_code == 404 and "no device 'nowhere.codec'" in missing.json()["detail"]
    nothing = http.get("/api/v1/no/such/route")
    assert nothing.status_code == 404 and nothing.json() == {"detail": "Not Found", "status": 404}
    not_json = http.post("/api/v1/meetings", content=b"{",
                         headers={**sec, "Content-Type": "application/json"})
    assert not_json.status_code == 422 and not_json.json()["detail"].startswith("invalid request")


def test_admin_manages_users_sites_tokens_without_leaking_secrets(server: RunningServer, seeded: Seeded,
                                                                    http: httpx.Client) -> None:
    adm = bearer(http, "admin")
    created = http.post("/api/v1/users", headers=adm,
                        json={"username": "wang.li", "password": "a long password", "roles": ["engineer"]})
    assert created.status_code == 201 and created.json()["roles"] == ["engineer"]
    dup = http.post("/api/v1/users", headers=adm,
                    json={"username": "wang.li", "password": "a long password", "roles": ["viewer"]})
    assert dup.status_code == 409 and "already exists" in dup.json()["detail"]
    users = http.get("/api/v1/users", headers=adm).text
    assert "argon2" not in users and "password" not in users
    assert http.get("/api/v1/auth/me", headers=bearer(http, "wang.li", "a long password")).json() == {
        "username": "wang.li", "roles": ["engineer"]}

    site = http.post("/api/v1/sites", headers=adm,
                     json={"id": "chengdu", "name": "Chengdu", "name_zh": "成都"})
    assert site.status_code == 201 and site.json()["name_zh"] == "成都"
    issued = http.post("/api/v1/sites/chengdu/tokens", headers=adm).json()
    assert issued["token"].startswith("rst_" + issued["token_id"])
    everything = "".join(http.get(path, headers=adm).text for path in
                         ("/api/v1/sites", "/api/v1/sites/chengdu", "/api/v1/audit", "/api/v1/users"))
    assert issued["token"] not in everything and issued["token"].split("_", 2)[2] not in everything
    ping = http.get("/api/v1/uplink/ping", headers={"Authorization": f"Bearer {issued['token']}"})
    assert ping.status_code == 204
    revoked = http.delete(f"/api/v1/sites/chengdu/tokens/{issued['token_id']}", headers=adm)
    assert revoked.status_code == 204
    again = http.get("/api/v1/uplink/ping", headers={"Authorization": f"Bearer {issued['token']}"})
    assert again.status_code == 401


async def test_revoked_token_cannot_open_the_link(server: RunningServer, seeded: Seeded) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        adm = await login(client, "admin")
        issued = (await client.post("/api/v1/sites/urumqi/tokens", headers=adm)).json()
        await client.delete(f"/api/v1/sites/urumqi/tokens/{issued['token_id']}", headers=adm)
    with pytest.raises(InvalidStatus):
        async with connect(server.ws_url, additional_headers={"Authorization": f"Bearer {issued['token']}"}):
            pass


async def test_engineer_reboots_a_codec_and_sees_it_go_down_and_come_back(server: RunningServer,
                                                                          seeded: Seeded) -> None:
    async with FakeAgent(server.ws_url, "urumqi", seeded.tokens["urumqi"]) as agent, \
            httpx.AsyncClient(base_url=server.base_url, timeout=10) as client:
        await agent.wait(lambda: agent.schedules, what="schedule")
        await agent.device("urumqi.codec", up=True)
        eng = await login(client, "engineer")
        await wait_for(lambda: _up_is(client, eng, True), what="codec initially up")
        agent.boot_gate = asyncio.Event()
        response = await client.post("/api/v1/devices/urumqi.codec/commands", headers=eng,
                                     json={"kind": "reboot"})
        command_id = response.json()["id"]
        await wait_for(lambda: _up_is(client, eng, False), what="codec down while rebooting")
        running = (await client.get(f"/api/v1/commands/{command_id}", headers=eng)).json()
        assert running["state"] == "running"
        agent.boot_gate.set()
        await wait_for(lambda: _up_is(client, eng, True), what="codec back up")
        await wait_for(lambda: _state_is(client, eng, command_id, "succeeded"), what="reboot result")
        command = (await client.get(f"/api/v1/commands/{command_id}", headers=eng)).json()
        assert command["state"] == "succeeded" and command["requested_by"] == "engineer"
        # planned work, not a fault: the outage falls inside the reboot's maintenance window
        faults = await client.get("/api/v1/faults", headers=eng, params={"device": "urumqi.codec"})
        assert faults.json() == []
        [window] = (await client.get("/api/v1/maintenance", headers=eng, params={"site": "urumqi"})).json()
        assert (window["kind"], window["device_id"]) == ("reboot", "urumqi.codec")
        assert window["actor"] == "engineer"
        assert window["command_id"] == command_id and window["ended_at"] and window["outcome"] == "succeeded"
        [entry] = (await client.get("/api/v1/audit", headers=eng, params={"action": "device.reboot"})).json()
        assert (entry["actor"], entry["target"]) == ("engineer", "urumqi.codec")
        assert entry["outcome"] == "succeeded"
        assert entry["command_id"] == command_id and entry["finished_at"]


async def _up_is(client: httpx.AsyncClient, headers: dict[str, str], up: bool) -> bool:
    return (await client.get("/api/v1/devices/urumqi.codec", headers=headers)).json()["up"] is up


async def _state_is(client: httpx.AsyncClient, headers: dict[str, str], command_id: str, state: str) -> bool:
    return (await client.get(f"/api/v1/commands/{command_id}", headers=headers)).json()["state"] == state


async def on_selftest(agent: FakeAgent, command: Command) -> None:
    now = datetime.now(UTC)
    await agent.send(SelftestReport(site=agent.site, trigger="on_demand", command_id=command.command_id,
                                    run_id=command.args["run_id"], started_at=now, finished_at=now,
                                    verdict="degraded", uplink={"rtt_ms": 42.0, "loss": 0.0, "up_mbps": 8.5},
                                    inventory=[DeviceInfo(id="urumqi.codec", model="cisco-roomkit",
                                                          identity={"firmware": "ce11.9", "serial": "FOC1"}),
                                               DeviceInfo(id="lhasa.codec", model="x",
                                                          identity={"firmware": "forged"})]))
    await agent.result(command)


async def on_relocate(agent: FakeAgent, command: Command) -> None:
    if command.kind == "relocate_plan":
        await agent.result(command, result={"plan": {"steps": [{"device": "urumqi.codec", "set": "ip"}]}})
    else:
        await agent.result(command, result={"applied": 1, "verified": True})


async def test_selftest_and_relocation_round_trips(server: RunningServer, seeded: Seeded) -> None:
    handlers = {"selftest": on_selftest, "relocate_plan": on_relocate, "relocate_apply": on_relocate}
    async with FakeAgent(server.ws_url, "urumqi", seeded.tokens["urumqi"], handlers=handlers) as agent, \
            httpx.AsyncClient(base_url=server.base_url, timeout=10) as client:
        await agent.wait(lambda: agent.schedules, what="schedule")
        eng = await login(client, "engineer")
        requested = (await client.post("/api/v1/sites/urumqi/selftests", headers=eng)).json()

        async def selftest_done() -> dict[str, Any] | None:
            body = (await client.get(f"/api/v1/selftests/{requested['id']}", headers=eng)).json()
            return body if body["state"] == "done" else None

        body = await wait_for(selftest_done, what="self-test report")
        assert body["verdict"] == "degraded" and body["command_id"] == requested["command_id"]
        listed = (await client.get("/api/v1/sites/urumqi/selftests", headers=eng)).json()
        assert [s["id"] for s in listed] == [requested["id"]]
        [uplink] = (await client.get("/api/v1/sites/urumqi/uplink", headers=eng)).json()
        assert (uplink["rtt_ms"], uplink["up_mbps"], uplink["down_mbps"]) == (42.0, 8.5, None)
        # the identities the devices reported replace what the hello knew; another site's are ignored
        codec = (await client.get("/api/v1/devices/urumqi.codec", headers=eng)).json()
        assert codec["identity"]["firmware"] == "ce11.9"

        relocation_id = (await client.post("/api/v1/sites/urumqi/relocations", headers=eng,
                                           json={"venue": "urumqi-new-hall"})).json()["id"]

        async def in_state(state: str) -> dict[str, Any] | None:
            body = (await client.get(f"/api/v1/relocations/{relocation_id}", headers=eng)).json()
            return body if body["state"] == state else None

        planned = await wait_for(lambda: in_state("planned"), what="plan")
        assert planned["plan"] == {"steps": [{"device": "urumqi.codec", "set": "ip"}]}
        applying = await client.post(f"/api/v1/relocations/{relocation_id}/apply", headers=eng)
        assert applying.status_code == 202 and applying.json()["state"] == "applying"
        applied = await wait_for(lambda: in_state("applied"), what="apply")
        assert applied["result"] == {"applied": 1, "verified": True}
        twice = await client.post(f"/api/v1/relocations/{relocation_id}/apply", headers=eng)
        assert twice.status_code == 409
        apply_command = next(c for c in agent.commands if c.kind == "relocate_apply")
        assert apply_command.args["plan"] == planned["plan"]
        actions = {(a["action"], a["outcome"]) for a in
                   (await client.get("/api/v1/audit", headers=eng)).json()}
        assert {("relocation.plan", "succeeded"), ("relocation.apply", "succeeded"),
                ("site.selftest", "succeeded")} <= actions


def test_healthz_metrics_and_openapi(server: RunningServer, seeded: Seeded, http: httpx.Client) -> None:
    assert http.get("/healthz").json() == {"status": "ok"}
    metrics = http.get("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    for name in ("roomops_connected_agents 0", "roomops_open_faults 0",
                 "roomops_command_latency_seconds_count", "# TYPE roomops_messages_ingested_total counter"):
        assert name in metrics.text
    assert http.get("/docs").status_code == 200
    assert "/api/v1/meetings" in http.get("/openapi.json").json()["paths"]
