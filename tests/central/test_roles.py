"""Role-by-endpoint matrix against central under uvicorn: every /api/v1 route, every role."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from central.db import make_session_factory, transaction
from central.models import (
    AgentToken,
    AuditEntry,
    CommandRow,
    DeadLetter,
    Device,
    Fault,
    MaintenanceWindow,
    Recording,
    Relocation,
    SelftestRow,
)
from central.services import commands, meetings
from tests.central.helpers import PASSWORD, ROLES, RunningServer, Seeded

_unique = itertools.count()

R, M, D, A, DL = "read", "meetings", "devices", "admin", "download"
ALLOWED = {
    R: {"viewer", "secretariat", "engineer", "admin"},
    M: {"secretariat", "admin"},
    D: {"engineer", "admin"},
    A: {"admin"},
    DL: {"secretariat", "admin"},   # the report policy's default recording_download_roles
}


def meeting_json() -> dict[str, Any]:
    start = datetime.now(UTC) + timedelta(days=1)
    return {"title": "t", "start": start.isoformat(), "end": (start + timedelta(hours=1)).isoformat(),
            "host_site": "shanghai", "sites": ["urumqi"], "mode": "bridge", "bridge_uri": "sip:b@x"}


def user_json() -> dict[str, Any]:
    return {"username": f"u{next(_unique)}", "password": "long enough pw", "roles": ["viewer"]}


def site_json() -> dict[str, Any]:
    return {"id": f"site{next(_unique)}"}


# (method, route template, permission, body factory)
MATRIX: list[tuple[str, str, str, Any]] = [
    ("GET", "/api/v1/users", A, None),
    ("POST", "/api/v1/users", A, user_json),
    ("POST", "/api/v1/sites", A, site_json),
    ("POST", "/api/v1/sites/{site}/tokens", A, None),
    ("DELETE", "/api/v1/sites/{site}/tokens/{token_id}", A, None),
    ("GET", "/api/v1/admin/dead-letters", A, None),
    ("GET", "/api/v1/admin/dead-letters/{letter_id}", A, None),
    ("POST", "/api/v1/admin/dead-letters/{letter_id}/replay", A, None),
    ("GET", "/api/v1/admin/retention", A, None),
    ("PUT", "/api/v1/admin/retention", A,
     lambda: {"messages_days": 30, "events_days": 400, "commands_days": 400, "audit_days": 0}),
    ("GET", "/api/v1/sites", R, None),
    ("GET", "/api/v1/sites/{site}", R, None),
    ("GET", "/api/v1/sites/{site}/devices", R, None),
    ("GET", "/api/v1/sites/{site}/uplink", R, None),
    ("GET", "/api/v1/devices/{device}", R, None),
    ("POST", "/api/v1/devices/{device}/commands", D, lambda: {"kind": "reboot"}),
    ("GET", "/api/v1/commands", R, None),
    ("GET", "/api/v1/commands/{command_id}", R, None),
    ("POST", "/api/v1/sites/{site}/selftests", D, None),
    ("GET", "/api/v1/sites/{site}/selftests", R, None),
    ("GET", "/api/v1/selftests/{selftest_id}", R, None),
    ("POST", "/api/v1/meetings", M, meeting_json),
    ("GET", "/api/v1/meetings", R, None),
    ("GET", "/api/v1/meetings/{meeting_id}", R, None),
    ("POST", "/api/v1/meetings/{meeting_id}/start", M, None),
    ("POST", "/api/v1/meetings/{meeting_id}/stop", M, None),
    ("PUT", "/api/v1/meetings/{meeting_id}/sites/{site}/satisfaction", M, lambda: {"rating": 4}),
    ("GET", "/api/v1/meetings/settings", R, None),
    ("POST", "/api/v1/meetings/{meeting_id}/sites/{site}/redial", M, None),
    ("POST", "/api/v1/meetings/{meeting_id}/sites/{site}/drop", M, None),
    ("POST", "/api/v1/meetings/{meeting_id}/sites/{site}/mute", M, lambda: {"on": True}),
    ("POST", "/api/v1/meetings/{meeting_id}/sites", M, lambda: {"site": "lhasa"}),
    ("POST", "/api/v1/sites/{site}/relocations", D, lambda: {"venue": "new-building"}),
    ("GET", "/api/v1/relocations/{relocation_id}", R, None),
    ("POST", "/api/v1/relocations/{relocation_id}/apply", D, None),
    ("GET", "/api/v1/faults", R, None),
    ("GET", "/api/v1/faults/{fault_id}", R, None),
    ("GET", "/api/v1/audit", R, None),
    ("PATCH", "/api/v1/meetings/{meeting_id}", M, lambda: {"title": "renamed"}),
    ("GET", "/api/v1/sites/{site}/availability", R, None),
    ("GET", "/api/v1/dashboard/sites", R, None),
    ("GET", "/api/v1/dashboard/meetings", R, None),
    ("GET", "/api/v1/reports/charts", R, None),
    ("GET", "/api/v1/reports/map", R, None),
    ("GET", "/api/v1/reports/annual", R, None),
    ("GET", "/api/v1/reports/inspections", R, None),
    ("GET", "/api/v1/reports/inspections/{selftest_id}", R, None),
    ("PUT", "/api/v1/reports/inspections/{selftest_id}/remarks", D, lambda: {"remarks": "checked"}),
    ("POST", "/api/v1/reports/inspections/{selftest_id}/signoff", D, None),
    ("GET", "/api/v1/reports/faults", R, None),
    ("GET", "/api/v1/reports/faults/{fault_id}", R, None),
    ("POST", "/api/v1/reports/faults/{fault_id}/notes", D, lambda: {"text": "cable reseated"}),
    ("POST", "/api/v1/reports/faults/{fault_id}/close", D, lambda: {"reason": "repaired"}),
    ("GET", "/api/v1/reports/settings", R, None),
    ("PUT", "/api/v1/reports/settings", A, lambda: {}),
    ("GET", "/api/v1/recordings", R, None),
    ("GET", "/api/v1/recordings/{recording_id}/file", DL, None),
    ("POST", "/api/v1/recordings/{recording_id}/verify", D, None),
    ("POST", "/api/v1/recordings/retention/apply", A, None),
    ("GET", "/api/v1/sites/{site}/problems", R, None),
    ("GET", "/api/v1/maintenance", R, None),
    ("POST", "/api/v1/sites/{site}/maintenance", D, lambda: {"why": "replace a cable"}),
    ("POST", "/api/v1/maintenance/{window_id}/end", D, None),
    ("PATCH", "/api/v1/sites/{site}", A, lambda: {"name": "Urumqi Office"}),
    ("POST", "/api/v1/sites/{site}/retire", A, lambda: {"reason": "the office closed"}),   # last: it retires
]
#: Not role-gated: sign-in itself, and the agent-token endpoints (tested in test_uplink.py and
#: test_recording_uploads.py).
UNGATED = {
    ("POST", "/api/v1/auth/token"), ("POST", "/api/v1/auth/session"), ("POST", "/api/v1/auth/logout"),
    ("GET", "/api/v1/auth/me"), ("GET", "/api/v1/uplink/ping"), ("GET", "/api/v1/uplink/download"),
    ("POST", "/api/v1/uplink/upload"), ("PUT", "/api/v1/agent/recordings/{meeting_id}"),
    # A server-sent event stream stays open: its roles are tested in tests/dashboard.
    ("GET", "/api/v1/stream"),
}


def fixtures(server: RunningServer, seeded: Seeded) -> dict[str, Any]:
    """Rows every route can point at."""
    factory = make_session_factory(server.engine)
    with transaction(factory) as session:
        session.add(Device(id="urumqi.codec", site_id="urumqi", roles=["codec"]))
        meeting = meetings.create(session, meetings.MeetingRequest(
            title="m", start=datetime.now(UTC) + timedelta(hours=1),
            end=datetime.now(UTC) + timedelta(hours=2),
            host_site="shanghai", sites=["urumqi"], mode="bridge", bridge_uri="sip:b@x"), "t", 3)
        command = commands.enqueue(session, site_id="urumqi", kind="standby", requested_by="t",
                                   deadline=commands.deadline_in(60))
        selftest = SelftestRow(site_id="urumqi", trigger="on_demand")
        relocation = Relocation(site_id="urumqi", venue="v", state="planned")
        fault = Fault(site_id="urumqi", device_id="urumqi.codec", cause="down")
        recording = Recording(meeting_id=meeting.id, site_id="shanghai", file="m.m4v", size=1,
                              duration_s=1.0, sha256="0" * 64)
        letter = DeadLetter(site_id="urumqi", msg_id="dl-1", type="event", reason="r", body="{}")
        window = MaintenanceWindow(site_id="urumqi", kind="planned", why="w")
        session.add_all([selftest, relocation, fault, recording, letter, window])
        session.flush()
        token_id = session.scalars(select(AgentToken.id).where(AgentToken.site_id == "urumqi")).first()
        return {"site": "urumqi", "device": "urumqi.codec", "meeting_id": meeting.id,
                "command_id": command.id, "selftest_id": selftest.id, "relocation_id": relocation.id,
                "fault_id": fault.id, "token_id": token_id, "recording_id": recording.id,
                "letter_id": letter.id, "window_id": window.id}


@pytest.fixture
def http(server: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        yield client


def bearer(http: httpx.Client, username: str) -> dict[str, str]:
    response = http.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def test_matrix_covers_every_api_route(server: RunningServer) -> None:
    # The OpenAPI document lists every included route (FastAPI's app.routes no longer flattens
    # included routers, so walking it found nothing and this test could not fail).
    routes = {
        (method.upper(), path)
        for path, operations in server.app.openapi()["paths"].items() if path.startswith("/api/v1/")
        for method in operations
    }
    assert len(routes) > 30, f"found only {len(routes)} API routes: the route listing is broken"
    covered = {(method, path) for method, path, _, _ in MATRIX} | UNGATED
    assert routes - covered == set(), "add these routes to the role matrix"


def test_role_matrix(server: RunningServer, seeded: Seeded, http: httpx.Client) -> None:
    ids = fixtures(server, seeded)
    headers = {role: bearer(http, role) for role in ROLES}
    problems = []
    for method, template, permission, body in MATRIX:
        url = template.format(**ids)
        anonymous = http.request(method, url, json=body() if body else None)
        if anonymous.status_code != 401:
            problems.append(f"anonymous {method} {template}: {anonymous.status_code}")
        # denied roles first, so an allowed call that changes state cannot mask a denial
        for role in sorted(ROLES, key=lambda r: r in ALLOWED[permission]):
            response = http.request(method, url, headers=headers[role], json=body() if body else None)
            allowed = role in ALLOWED[permission]
            if allowed and response.status_code in (401, 403):
                problems.append(f"{role} {method} {template}: refused {response.status_code} {response.text}")
            if allowed and response.status_code >= 500:
                problems.append(f"{role} {method} {template}: {response.status_code}")
            if not allowed and response.status_code != 403:
                problems.append(f"{role} {method} {template}: {response.status_code}, expected 403")
            if not allowed:
                assert "needs one of the roles" in response.json()["detail"]
    assert problems == []


def test_viewer_and_secretariat_cannot_reboot_and_nothing_happens(server: RunningServer, seeded: Seeded,
                                                                   http: httpx.Client) -> None:
    fixtures(server, seeded)
    factory = make_session_factory(server.engine)
    with transaction(factory) as session:
        before = session.scalar(select(func.count()).select_from(CommandRow))
    for role in ("viewer", "secretariat"):
        response = http.post("/api/v1/devices/urumqi.codec/commands", headers=bearer(http, role),
                             json={"kind": "reboot"})
        assert response.status_code == 403
        assert response.json() == {"detail": "this needs one of the roles: admin, engineer", "status": 403}
    with transaction(factory) as session:
        assert session.scalar(select(func.count()).select_from(CommandRow)) == before
        denied = session.scalars(select(AuditEntry).where(AuditEntry.outcome == "denied")).all()
        assert sorted(e.actor for e in denied) == ["secretariat", "viewer"]
        assert {e.target for e in denied} == {"/api/v1/devices/urumqi.codec/commands"}
