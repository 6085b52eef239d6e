"""The recordings archive: every recorded meeting with file, size, duration and checksum; the
retention policy; checksum verification on demand.

Files live under the server's recordings directory as ``<site>/<file name>``; the agent reports
its own path, of which only the file name is used, so a report can never point outside it.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from central.models import Meeting, Recording, utcnow
from central.reports.models import RecordingCheck
from central.reports.policy import ReportPolicy

CHUNK = 1024 * 1024


class ArchiveError(ValueError):
    """A recording whose file cannot be served (missing, purged, or a name that escapes the archive)."""


def archive_path(root: Path, recording: Recording) -> Path:
    name = PurePosixPath(recording.file.replace("\\", "/")).name
    if name in ("", ".", ".."):
        raise ArchiveError(f"recording {recording.id}: unusable file name {recording.file!r}")
    base = root.resolve()
    path = (base / recording.site_id / name).resolve()
    if not path.is_relative_to(base):
        raise ArchiveError(f"recording {recording.id}: {recording.file!r} points outside the archive")
    return path


def sha256_file(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _check(session: Session, recording_id: str) -> RecordingCheck:
    row = session.get(RecordingCheck, recording_id)
    if row is None:
        row = RecordingCheck(recording_id=recording_id)
        session.add(row)
    return row


def verify(session: Session, recording: Recording, root: Path, actor: str) -> RecordingCheck:
    """Hash the archived file and compare with the checksum the recorder reported."""
    check = _check(session, recording.id)
    check.verified_at, check.verified_by = utcnow(), actor
    check.actual_sha256 = check.actual_size = None
    if check.purged_at is not None:
        check.ok, check.problem = False, "purged by the retention policy"
        return check
    try:
        path = archive_path(root, recording)
        check.actual_sha256, check.actual_size = sha256_file(path)
    except ArchiveError as exc:
        check.ok, check.problem = False, str(exc)
        return check
    except OSError as exc:
        check.ok, check.problem = False, f"file not readable: {exc.strerror or exc}"
        return check
    check.ok = check.actual_sha256 == recording.sha256.lower() and check.actual_size == recording.size
    check.problem = None if check.ok else (
        "checksum differs" if check.actual_sha256 != recording.sha256.lower() else "size differs")
    session.flush()
    return check


def expires_at(recording: Recording, policy: ReportPolicy) -> datetime:
    return recording.created_at + timedelta(days=policy.retention_days)


def apply_retention(session: Session, root: Path, policy: ReportPolicy,
                    now: datetime | None = None) -> list[str]:
    """Delete the files of recordings past retention; the rows stay as the archive's history."""
    now = now or utcnow()
    cutoff = now - timedelta(days=policy.retention_days)
    purged = []
    for recording in session.scalars(select(Recording).where(Recording.created_at < cutoff)):
        check = _check(session, recording.id)
        if check.purged_at is not None:
            continue
        try:
            archive_path(root, recording).unlink(missing_ok=True)
        except ArchiveError:
            pass  # nothing of ours to delete: the name never resolved inside the archive
        check.purged_at = now
        purged.append(recording.id)
    session.flush()
    return purged


def listing(session: Session, policy: ReportPolicy, site_ids: list[str] | None = None,
            lo: datetime | None = None, hi: datetime | None = None) -> list[dict[str, Any]]:
    query = select(Recording, Meeting.title, Meeting.start).join(Meeting, Meeting.id == Recording.meeting_id)
    if site_ids:
        query = query.where(Recording.site_id.in_(site_ids))
    if lo is not None:
        query = query.where(Recording.created_at >= lo)
    if hi is not None:
        query = query.where(Recording.created_at < hi)
    rows = session.execute(query.order_by(Recording.created_at.desc())).all()
    checks = {c.recording_id: c for c in session.scalars(
        select(RecordingCheck).where(RecordingCheck.recording_id.in_([r.Recording.id for r in rows])))}
    out = []
    for recording, title, start in rows:
        check = checks.get(recording.id)
        out.append({
            "id": recording.id, "meeting_id": recording.meeting_id, "meeting_title": title,
            "meeting_start": start, "site_id": recording.site_id, "file": PurePosixPath(recording.file).name,
            "size": recording.size, "duration_s": recording.duration_s, "sha256": recording.sha256,
            "created_at": recording.created_at, "expires_at": expires_at(recording, policy),
            "purged_at": check.purged_at if check else None,
            "verified_at": check.verified_at if check else None,
            "verified_ok": check.ok if check else None, "problem": check.problem if check else None,
        })
    return out
