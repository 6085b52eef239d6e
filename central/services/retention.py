"""Retention: history older than the policy's ages is deleted, a bounded chunk per statement.

Kept apart: ``messages_ingested`` (the ingest dedupe keys; an agent deletes a message from its
outbox once acked, so old keys are never needed again), ``events``, final ``commands`` and
``audit``. An age of 0 days keeps that table forever. Open work (queued or running commands) is
never deleted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Table, delete, select
from sqlalchemy.orm import Session

from central.models import FINAL_STATES, AuditEntry, CommandRow, EventRow, IngestedMessage
from central.models.retention import POLICY_ID, RetentionPolicy
from central.settings import Settings

#: rows per DELETE: keeps each statement's locks and WAL short on a table of millions
CHUNK = 5000

AGES = ("messages_days", "events_days", "commands_days", "audit_days")


@dataclass(frozen=True)
class Policy:
    messages_days: int
    events_days: int
    commands_days: int
    audit_days: int
    updated_by: str = ""
    updated_at: datetime | None = None


def defaults(settings: Settings) -> Policy:
    return Policy(settings.retention_messages_days, settings.retention_events_days,
                  settings.retention_commands_days, settings.retention_audit_days)


def current(session: Session, settings: Settings) -> Policy:
    row = session.get(RetentionPolicy, POLICY_ID)
    if row is None:
        return defaults(settings)
    return Policy(row.messages_days, row.events_days, row.commands_days, row.audit_days,
                  row.updated_by, row.updated_at)


def store(session: Session, policy: Policy, actor: str, now: datetime) -> Policy:
    row = session.get(RetentionPolicy, POLICY_ID)
    if row is None:
        row = RetentionPolicy(id=POLICY_ID)
        session.add(row)
    for name in AGES:
        setattr(row, name, getattr(policy, name))
    row.updated_by, row.updated_at = actor, now
    session.flush()
    return Policy(*(getattr(row, name) for name in AGES), actor, now)


def prune(session: Session, policy: Policy, now: datetime, chunk: int = CHUNK) -> dict[str, int]:
    """Delete one chunk per table beyond its age; returns rows deleted per table (call until all 0)."""
    out: dict[str, int] = {}
    plans: list[tuple[str, int, Table, ColumnElement[bool]]] = [
        ("messages_ingested", policy.messages_days, IngestedMessage.__table__,
         IngestedMessage.received_at < _cutoff(now, policy.messages_days)),
        ("events", policy.events_days, EventRow.__table__, EventRow.at < _cutoff(now, policy.events_days)),
        ("commands", policy.commands_days, CommandRow.__table__,
         CommandRow.state.in_(FINAL_STATES) & (CommandRow.created_at < _cutoff(now, policy.commands_days))),
        ("audit", policy.audit_days, AuditEntry.__table__, AuditEntry.at < _cutoff(now, policy.audit_days)),
    ]
    for name, days, table, older in plans:
        if days <= 0:
            out[name] = 0
            continue
        key = next(iter(table.primary_key.columns))
        victims = select(key).where(older).limit(chunk).scalar_subquery()
        result = session.execute(delete(table).where(key.in_(victims)))
        out[name] = int(result.rowcount or 0)  # type: ignore[attr-defined]
    return out


def _cutoff(now: datetime, days: int) -> datetime:
    return now - timedelta(days=max(days, 0))
