"""Operations truth (issue 17): one fault per device and root cause with linked symptoms, reason
codes with plain-language summaries in zh-CN and en, planned work in maintenance windows.

Agent messages go through central's real ingest path (the hub calls the same function); what a
user sees is read back over HTTP from a real uvicorn server on SQLite.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from central.models import utcnow
from central.services.ingest import OrchestrationLimits, ingest
from contracts.messages import (
    CheckResult,
    CommandResult,
    DeviceInfo,
    DeviceStatus,
    Event,
    Hello,
    SelftestReport,
    Status,
)
from tests.central.helpers import PASSWORD, RunningServer, Seeded

LIMITS = OrchestrationLimits(command_deadline_seconds=10.0, default_multisite_capacity=4)
SILENT = "timeout: no b'\\xff' from serial:/dev/pts/9@9600 within the deadline"


@pytest.fixture
def http(server: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        yield client


def bearer(http: httpx.Client, username: str) -> dict[str, str]:
    response = http.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def send(server: RunningServer, site: str, msg: Any) -> None:
    with server.ctx.unit() as session:
        ingest(session, site, msg, LIMITS)


def hello(server: RunningServer, site: str) -> None:
    send(
        server,
        site,
        Hello(
            site=site,
            agent_version="t",
            devices=[
                DeviceInfo(id=f"{site}.codec", model="cisco-sx20", roles=["codec"]),
                DeviceInfo(id=f"{site}.camera1", model="sony-evi-d70", roles=["camera"]),
                DeviceInfo(id=f"{site}.router", model="huawei-ar1220", roles=["router"]),
            ],
        ),
    )


def status(server: RunningServer, site: str, *devices: DeviceStatus, at: Any = None) -> None:
    send(server, site, Status(site=site, devices=list(devices), sent_at=at or utcnow()))


def selftest(server: RunningServer, site: str, *checks: CheckResult, trigger: str = "pre_meeting") -> None:
    now = utcnow()
    send(
        server,
        site,
        SelftestReport(
            site=site,
            trigger=trigger,
            started_at=now,
            finished_at=now,
            verdict="not_ready",
            checks=list(checks),
        ),
    )


def problems_of(http: httpx.Client, auth: dict[str, str], site: str) -> list[dict[str, Any]]:
    """Why the site is not ok, less the agent link (these tests feed ingest without a link)."""
    body = http.get(f"/api/v1/sites/{site}/problems", headers=auth).json()
    assert body["problems"][0]["code"] == "site.agent_offline"
    return body["problems"][1:]


def open_faults(http: httpx.Client, auth: dict[str, str], site: str, **params: str) -> list[dict[str, Any]]:
    response = http.get("/api/v1/faults", params={"open": "true", "site": site, **params}, headers=auth)
    assert response.status_code == 200, response.text
    return response.json()


def test_unregistered_codec_is_one_fault_whoever_sees_it_with_plain_summary(
    server: RunningServer, seeded: Seeded, http: httpx.Client
) -> None:
    auth = bearer(http, "viewer")
    hello(server, "guangzhou")
    # before any self-test: the health poll sees the codec unregistered (degraded, still "up")
    status(
        server,
        "guangzhou",
        DeviceStatus(
            id="guangzhou.codec",
            up=True,
            verdict="degraded",
            reasons=["SIP registration Failed", "diagnostics: Warning: SIP registration failed"],
        ),
        DeviceStatus(id="guangzhou.camera1", up=True, verdict="ok"),
        DeviceStatus(id="guangzhou.router", up=True, verdict="ok"),
    )
    assert http.get("/api/v1/sites/guangzhou/problems", headers=auth).json()["verdict"] == "degraded"
    found = problems_of(http, auth, "guangzhou")
    assert [(p["kind"], p["code"]) for p in found] == [("fault", "codec.unregistered")]
    assert found[0]["summary"] == "视频终端未注册到 SIP 服务器：请检查 SIP 账号和网络"
    # the overview card says why it is degraded, in the reader's language
    [card] = [
        c
        for c in http.get("/api/v1/dashboard/sites", headers=auth, params={"lang": "en"}).json()
        if c["id"] == "guangzhou"
    ]
    assert card["verdict"] == "degraded"
    assert [(p["code"], p["title"]) for p in card["problems"] if p["kind"] != "agent"] == [
        ("codec.unregistered", "The codec is not registered to the SIP server")
    ]
    # the pre-meeting self-test sees the same cause three times: still one fault, the rest linked
    selftest(
        server,
        "guangzhou",
        CheckResult(
            device="guangzhou.codec", name="codec.registered", status="fail", reason="SIP Failed, H.323 Off"
        ),
        CheckResult(
            device="guangzhou.codec",
            name="codec.diagnostics",
            status="fail",
            reason="Warning: SIP registration failed",
        ),
        CheckResult(
            device="guangzhou.codec",
            name="codec.test_call",
            status="fail",
            reason="rejected: rejected NetworkRejected: not registered",
        ),
    )
    faults = open_faults(http, auth, "guangzhou", lang="en")
    assert len(faults) == 1, faults
    fault = faults[0]
    assert fault["code"] == "codec.unregistered" and fault["check_name"] is None
    assert (
        fault["summary"]
        == "The codec is not registered to the SIP server: check the SIP account and the network"
    )
    assert fault["device_name"] == "Codec" and fault["cause"] == "SIP registration Failed"
    linked = {(s["source"], s["check"], s["code"]) for s in fault["symptoms"]}
    assert linked == {
        ("health", None, "codec.diagnostics"),
        ("selftest", "codec.registered", "codec.unregistered"),
        ("selftest", "codec.diagnostics", "codec.diagnostics"),
        ("selftest", "codec.test_call", "codec.test_call_failed"),
    }
    assert {s["check_name"] for s in fault["symptoms"]} >= {"SIP registration", "Test call"}
    # nothing on the self-test's failing checks is left unexplained beside the fault
    assert [p["code"] for p in problems_of(http, auth, "guangzhou")] == ["codec.unregistered"]
    # an unregistered codec answers but cannot hold a meeting: the room counts as unavailable
    strip = http.get("/api/v1/sites/guangzhou/availability", params={"days": 1}, headers=auth).json()
    codec = next(d for d in strip["devices"] if d["id"] == "guangzhou.codec")
    assert codec["critical"] is True and codec["availability"] == 0.0 and strip["availability"] == 0.0
    # registered again: the health poll closes it
    status(server, "guangzhou", DeviceStatus(id="guangzhou.codec", up=True, verdict="ok"))
    assert open_faults(http, auth, "guangzhou") == []
    closed = http.get("/api/v1/faults", params={"site": "guangzhou"}, headers=auth).json()
    assert len(closed) == 1 and closed[0]["closed_at"] is not None


def test_silent_camera_seen_by_selftest_then_health_poll_is_one_fault(
    server: RunningServer, seeded: Seeded, http: httpx.Client
) -> None:
    auth = bearer(http, "viewer")
    hello(server, "lhasa")
    selftest(
        server,
        "lhasa",
        CheckResult(device="lhasa.camera1", name="reachable", status="fail", reason=SILENT),
        CheckResult(
            device="lhasa.camera1", name="camera.power", status="skip", reason="device not reachable"
        ),
    )
    status(server, "lhasa", DeviceStatus(id="lhasa.camera1", up=False, verdict="down", reasons=[SILENT]))
    send(
        server,
        "lhasa",
        Event(site="lhasa", kind="device_down", device="lhasa.camera1", data={"reason": SILENT}),
    )
    faults = open_faults(http, auth, "lhasa")
    assert [(f["code"], f["check_name"]) for f in faults] == [("camera.silent", "reachable")]
    assert faults[0]["device_name"] == "摄像机 1" and faults[0]["check_label"] == "设备连通"
    assert faults[0]["summary"].startswith("摄像机无应答：")
    assert faults[0]["cause"] == SILENT  # the raw text stays, as evidence
    assert [s["source"] for s in faults[0]["symptoms"]] == ["health"]
    # Accept-Language picks English; an unknown lang is a clear 422
    english = http.get(
        "/api/v1/faults", params={"site": "lhasa"}, headers={**auth, "Accept-Language": "en-US"}
    )
    assert english.json()[0]["title"] == "The camera does not answer"
    assert (
        http.get("/api/v1/faults", params={"lang": "zh"}, headers=auth).json()[0]["title"] == "摄像机无应答"
    )
    bad = http.get("/api/v1/faults", params={"lang": "fr"}, headers=auth)
    assert bad.status_code == 422 and "zh, zh-CN or en" in bad.text
    # it answers again
    send(server, "lhasa", Event(site="lhasa", kind="device_up", device="lhasa.camera1"))
    assert open_faults(http, auth, "lhasa") == []


def test_symptom_first_then_root_merges_into_one(
    server: RunningServer, seeded: Seeded, http: httpx.Client
) -> None:
    auth = bearer(http, "viewer")
    hello(server, "kunming")
    selftest(
        server,
        "kunming",
        CheckResult(
            device="kunming.codec",
            name="codec.test_call",
            status="fail",
            reason="test call to bridge ended before it connected",
        ),
    )
    assert [f["code"] for f in open_faults(http, auth, "kunming")] == ["codec.test_call_failed"]
    status(
        server,
        "kunming",
        DeviceStatus(id="kunming.codec", up=True, verdict="degraded", reasons=["SIP registration Failed"]),
    )
    faults = open_faults(http, auth, "kunming")
    assert [f["code"] for f in faults] == ["codec.unregistered"]
    assert [s["code"] for s in faults[0]["symptoms"]] == ["codec.test_call_failed"]
    merged = http.get("/api/v1/faults", params={"site": "kunming", "linked": "true"}, headers=auth).json()
    assert sorted((f["code"], f["root_id"] == faults[0]["id"]) for f in merged) == [
        ("codec.test_call_failed", True),
        ("codec.unregistered", False),
    ]


def test_selftest_checks_carry_codes_and_names(
    server: RunningServer, seeded: Seeded, http: httpx.Client
) -> None:
    auth = bearer(http, "viewer")
    hello(server, "xining")
    selftest(
        server,
        "xining",
        CheckResult(
            device="xining.camera1",
            name="identity",
            status="fail",
            reason="wrong device at serial:…/camera1: expected model 'EVI-D70', found 'SRG-300H'",
        ),
        CheckResult(device="xining", name="site.uplink", status="pass"),
        trigger="on_demand",
    )
    run = http.get("/api/v1/sites/xining/selftests", params={"lang": "en"}, headers=auth).json()[0]
    wrong = run["checks"][0]
    assert wrong["code"] == "device.wrong_identity" and wrong["title"] == "Wrong device at this address"
    assert wrong["check_name"] == "Device identity" and wrong["device_name"] == "Camera 1"
    assert run["checks"][1]["code"] == "" and run["checks"][1]["device_name"] == "Room"
    # an on-demand run does not open faults, but the site still says why it is not ok
    assert open_faults(http, auth, "xining") == []
    problems = problems_of(http, auth, "xining")
    assert [(p["kind"], p["code"], p["check"]) for p in problems] == [
        ("check", "device.wrong_identity", "identity")
    ]


def test_reboot_is_planned_work_not_a_fault(
    server: RunningServer, seeded: Seeded, http: httpx.Client
) -> None:
    auth = bearer(http, "engineer")
    hello(server, "xining")
    status(server, "xining", DeviceStatus(id="xining.codec", up=True, verdict="ok"))
    created = http.post(
        "/api/v1/devices/xining.codec/commands",
        headers=auth,
        json={"kind": "reboot", "reason": "codec froze after the morning meeting"},
    )
    assert created.status_code == 202, created.text
    command_id = created.json()["id"]
    windows = http.get("/api/v1/maintenance", params={"site": "xining", "open": "true"}, headers=auth).json()
    assert [(w["device_id"], w["kind"], w["actor"], w["why"], w["command_id"]) for w in windows] == [
        ("xining.codec", "reboot", "engineer", "codec froze after the morning meeting", command_id)
    ]
    assert windows[0]["kind_name"] == "远程重启" and windows[0]["device_name"] == "视频终端"
    # the agent takes it down and brings it back: no fault
    send(
        server,
        "xining",
        Event(
            site="xining",
            kind="device_down",
            device="xining.codec",
            data={"reason": "disconnected: session closed"},
        ),
    )
    assert open_faults(http, auth, "xining") == []
    problems = problems_of(http, auth, "xining")
    assert [(p["kind"], p["code"]) for p in problems] == [("maintenance", "maintenance.reboot")]
    send(server, "xining", Event(site="xining", kind="device_up", device="xining.codec"))
    send(
        server,
        "xining",
        CommandResult(
            site="xining",
            command_id=command_id,
            state="succeeded",
            result={"method": "reboot"},
            finished_at=utcnow(),
        ),
    )
    window = http.get("/api/v1/maintenance", params={"site": "xining"}, headers=auth).json()[0]
    assert window["ended_at"] is not None and window["outcome"] == "succeeded"
    assert open_faults(http, auth, "xining") == []
    audit = {e["action"] for e in http.get("/api/v1/audit", headers=auth).json()}
    assert {"device.reboot", "maintenance.open"} <= audit


def test_device_still_down_when_the_window_ends_gets_a_fault(
    server: RunningServer, seeded: Seeded, http: httpx.Client
) -> None:
    auth = bearer(http, "engineer")
    hello(server, "urumqi")
    status(server, "urumqi", DeviceStatus(id="urumqi.camera1", up=True, verdict="ok"))
    opened = http.post(
        "/api/v1/sites/urumqi/maintenance",
        headers=auth,
        json={"device": "urumqi.camera1", "why": "replace the camera cable", "minutes": 30},
    )
    assert opened.status_code == 201, opened.text
    status(server, "urumqi", DeviceStatus(id="urumqi.camera1", up=False, verdict="down", reasons=[SILENT]))
    assert open_faults(http, auth, "urumqi") == []
    ended = http.post(f"/api/v1/maintenance/{opened.json()['id']}/end", headers=auth)
    assert ended.status_code == 200 and ended.json()["ended_at"] is not None
    assert http.post(f"/api/v1/maintenance/{opened.json()['id']}/end", headers=auth).status_code == 409
    assert [f["code"] for f in open_faults(http, auth, "urumqi")] == ["camera.silent"]
    # a viewer may not declare maintenance; bad input is a 4xx that names the problem
    viewer = bearer(http, "viewer")
    assert (
        http.post("/api/v1/sites/urumqi/maintenance", headers=viewer, json={"why": "x y z"}).status_code
        == 403
    )
    assert http.post("/api/v1/sites/urumqi/maintenance", headers=auth, json={"why": ""}).status_code == 422
    assert (
        http.post(
            "/api/v1/sites/urumqi/maintenance", headers=auth, json={"why": "work", "device": "lhasa.codec"}
        ).status_code
        == 404
    )


def test_unknown_state_before_first_poll_is_not_a_fault(
    server: RunningServer, seeded: Seeded, http: httpx.Client
) -> None:
    auth = bearer(http, "viewer")
    hello(server, "shanghai")
    status(
        server,
        "shanghai",
        DeviceStatus(id="shanghai.codec", up=False, verdict="unknown"),
        at=utcnow() - timedelta(seconds=5),
    )
    assert open_faults(http, auth, "shanghai") == []
    device = http.get("/api/v1/devices/shanghai.codec", headers=auth).json()
    assert device["up"] is None


def test_named_faults_for_callers_outside_the_detectors(
    server: RunningServer, seeded: Seeded, http: httpx.Client
) -> None:
    """``open_fault``/``close_fault`` (e.g. an agent of an incompatible schema version) keep one fault
    per device and name, with the name as its reason code and a plain summary."""
    from central.services import faults

    with server.ctx.unit() as session:
        first = faults.open_fault(
            session,
            site_id="kunming",
            device_id="kunming",
            check_name="agent.schema_version",
            cause="agent 9.0 refused: schema 9",
            at=utcnow(),
        )
        again = faults.open_fault(
            session,
            site_id="kunming",
            device_id="kunming",
            check_name="agent.schema_version",
            cause="agent 9.0 refused: schema 9",
            at=utcnow(),
        )
        assert first.id == again.id
    auth = bearer(http, "viewer")
    [fault] = open_faults(http, auth, "kunming", lang="en")
    assert fault["code"] == "agent.schema_version" and fault["device_name"] == "Room"
    assert fault["title"] == "The room agent's version does not fit central"
    with server.ctx.unit() as session:
        assert (
            faults.close_fault(
                session,
                device_id="kunming",
                check_name="agent.schema_version",
                at=utcnow(),
                reason="compatible hello",
            )
            is not None
        )
    assert open_faults(http, auth, "kunming") == []
