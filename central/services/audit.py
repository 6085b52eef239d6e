"""The audit log: every device command, meeting start/stop, relocation and admin action."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from central.models import AuditEntry, utcnow


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    target: str,
    outcome: str,
    detail: dict[str, Any] | None = None,
    command_id: str | None = None,
) -> AuditEntry:
    entry = AuditEntry(
        actor=actor, action=action, target=target, outcome=outcome, detail=detail or {},
        command_id=command_id, at=utcnow(),
    )
    session.add(entry)
    return entry


def finish_command(session: Session, command_id: str, outcome: str, at: datetime, error: str | None) -> None:
    """A command's final state becomes the outcome of the audit entry that requested it."""
    for entry in session.scalars(select(AuditEntry).where(AuditEntry.command_id == command_id)):
        entry.outcome = outcome
        entry.finished_at = at
        if error:
            entry.detail = {**entry.detail, "error": error}
