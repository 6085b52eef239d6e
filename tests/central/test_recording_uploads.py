"""``PUT /api/v1/agent/recordings/{meeting_id}``: an agent's recording lands in the archive only
when its checksum holds, only for a site of the meeting, never outside ``<recordings>/<site>/``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from central.db import make_session_factory, transaction
from central.services import meetings
from tests.central.helpers import RunningServer, Seeded, sha256_of

BODY = b"ROOMOPS-SIMULATED-RECORDING\n" + bytes(range(256)) * 4096   # ~1 MB, several chunks
NAME = "SMP351_20260101-100000_001.m4v"


@pytest.fixture
def meeting_id(server: RunningServer, seeded: Seeded) -> str:
    start = datetime.now(UTC) + timedelta(hours=1)
    with transaction(make_session_factory(server.engine)) as session:
        row = meetings.create(session, meetings.MeetingRequest(
            title="m", start=start, end=start + timedelta(hours=1),
            host_site="shanghai", sites=["shanghai", "urumqi"], mode="bridge", bridge_uri="bridge@x"), "t", 3)
        return row.id


def put(server: RunningServer, token: str, meeting_id: str, body: bytes, *, name: str = NAME,
        sha256: str | None = None) -> httpx.Response:
    return httpx.put(f"{server.base_url}/api/v1/agent/recordings/{meeting_id}",
                     params={"file": name, "sha256": sha256 or sha256_of(body)}, content=body,
                     headers={"Authorization": f"Bearer {token}"}, timeout=10)


def archive(server: RunningServer) -> Path:
    return server.settings.resolved_recordings_dir()


def leftovers(server: RunningServer) -> list[str]:
    root = archive(server)
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_upload_is_stored_under_the_site_and_a_retry_is_idempotent(server: RunningServer, seeded: Seeded,
                                                                    meeting_id: str) -> None:
    first = put(server, seeded.tokens["shanghai"], meeting_id, BODY)
    assert first.status_code == 201, first.text
    assert first.json() == {"site": "shanghai", "meeting_id": meeting_id, "file": NAME, "size": len(BODY),
                            "sha256": sha256_of(BODY)}
    assert (archive(server) / "shanghai" / NAME).read_bytes() == BODY
    again = put(server, seeded.tokens["shanghai"], meeting_id, BODY)
    assert again.status_code == 200, again.text
    assert leftovers(server) == [f"shanghai/{NAME}"]          # no partial files left behind


def test_wrong_checksum_keeps_nothing(server: RunningServer, seeded: Seeded, meeting_id: str) -> None:
    reply = put(server, seeded.tokens["shanghai"], meeting_id, BODY, sha256=sha256_of(b"other"))
    assert reply.status_code == 422 and "checksum mismatch" in reply.text
    assert leftovers(server) == []


def test_a_different_file_never_replaces_an_archived_one(server: RunningServer, seeded: Seeded,
                                                         meeting_id: str) -> None:
    assert put(server, seeded.tokens["shanghai"], meeting_id, BODY).status_code == 201
    reply = put(server, seeded.tokens["shanghai"], meeting_id, b"tampered")
    assert reply.status_code == 409, reply.text
    assert (archive(server) / "shanghai" / NAME).read_bytes() == BODY
    assert leftovers(server) == [f"shanghai/{NAME}"]


@pytest.mark.parametrize("name", ["../escape.m4v", "a/b.m4v", "..", ".hidden", "x\\y.m4v", ""])
def test_names_that_are_not_plain_file_names_are_refused(server: RunningServer, seeded: Seeded,
                                                         meeting_id: str, name: str) -> None:
    reply = put(server, seeded.tokens["shanghai"], meeting_id, BODY, name=name)
    assert reply.status_code == 422, reply.text
    assert leftovers(server) == []


def test_only_a_site_of_the_meeting_with_a_valid_token_may_upload(server: RunningServer, seeded: Seeded,
                                                                  meeting_id: str) -> None:
    assert put(server, seeded.tokens["lhasa"], meeting_id, BODY).status_code == 404     # not in the meeting
    assert put(server, seeded.tokens["shanghai"], "no-such-meeting", BODY).status_code == 404
    assert put(server, "not-a-token", meeting_id, BODY).status_code == 401
    user = httpx.post(f"{server.base_url}/api/v1/auth/token", data={"username": "admin",
                                                                    "password": "correct horse battery"})
    assert put(server, user.json()["access_token"], meeting_id, BODY).status_code == 401  # a user is no agent
    assert leftovers(server) == []
    # the other site of the meeting may, into its own folder
    assert put(server, seeded.tokens["urumqi"], meeting_id, BODY).status_code == 201
    assert leftovers(server) == [f"urumqi/{NAME}"]
