"""Commands for agents: queue, deliver, acknowledge, finish, expire."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from central.models import FINAL_STATES, CommandRow, utcnow
from central.services.wake import wake_commands
from contracts.messages import COMMAND_KINDS, Command, CommandResult


class UnknownCommandKind(ValueError):
    pass


def enqueue(
    session: Session,
    *,
    site_id: str,
    kind: str,
    deadline: datetime,
    requested_by: str,
    device_id: str | None = None,
    args: dict[str, Any] | None = None,
    meeting_id: str | None = None,
) -> CommandRow:
    if kind not in COMMAND_KINDS:
        raise UnknownCommandKind(f"unknown command kind {kind!r}")
    row = CommandRow(
        site_id=site_id, kind=kind, device_id=device_id, args=args or {}, deadline=deadline,
        requested_by=requested_by, meeting_id=meeting_id, state="queued", created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    wake_commands(session, site_id)
    return row


def deadline_in(seconds: float) -> datetime:
    return utcnow() + timedelta(seconds=seconds)


def take_deliverable(session: Session, site_id: str, skip: set[str], now: datetime) -> list[Command]:
    """Queued, unexpired commands of a site not yet sent on this connection; marked sent."""
    rows = session.scalars(
        select(CommandRow)
        .where(CommandRow.site_id == site_id, CommandRow.state == "queued", CommandRow.deadline > now)
        .order_by(CommandRow.created_at)
    ).all()
    messages = []
    for row in rows:
        if row.id in skip:
            continue
        row.sent_at = now
        messages.append(to_message(row))
    return messages


def to_message(row: CommandRow) -> Command:
    # msg_id == command_id: a re-delivered command is the same message to the agent.
    return Command(
        msg_id=row.id, command_id=row.id, site=row.site_id, kind=row.kind, device=row.device_id,
        args=row.args, deadline=row.deadline,
    )


def mark_acked(session: Session, site_id: str, ids: Iterable[str], now: datetime) -> None:
    ids = list(ids)
    if not ids:
        return
    rows = session.scalars(
        select(CommandRow).where(CommandRow.id.in_(ids), CommandRow.site_id == site_id)
    ).all()
    for row in rows:
        row.acked_at = row.acked_at or now
        if row.state == "queued":
            row.state = "running"


def apply_result(session: Session, site_id: str, msg: CommandResult) -> CommandRow | None:
    """Record an agent's report on a command; returns the row when it just reached a final state."""
    row = session.get(CommandRow, msg.command_id)
    if row is None or row.site_id != site_id or row.state in FINAL_STATES:
        return None
    now = utcnow()
    row.acked_at = row.acked_at or now
    row.state = msg.state
    if msg.result:
        row.result = msg.result
    if msg.error is not None:
        row.error = msg.error
    if msg.state in FINAL_STATES:
        row.finished_at = msg.finished_at or now
        return row
    return None


def expire_overdue(session: Session, now: datetime, grace_seconds: float) -> list[CommandRow]:
    """Queued commands past their deadline, and running ones silent past deadline + grace."""
    grace = timedelta(seconds=grace_seconds)
    rows = session.scalars(
        select(CommandRow).where(
            ((CommandRow.state == "queued") & (CommandRow.deadline <= now))
            | ((CommandRow.state == "running") & (CommandRow.deadline <= now - grace))
        )
    ).all()
    for row in rows:
        row.error = (
            "the agent was not reachable before the deadline" if row.state == "queued"
            else "no result from the agent before the deadline"
        )
        row.state = "expired"
        row.finished_at = now
    return list(rows)
