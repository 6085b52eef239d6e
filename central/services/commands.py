"""Commands for agents: queue, deliver, acknowledge, finish, expire."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, case, func, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from central.models import FINAL_STATES, CommandRow, new_id, utcnow
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
    flush: bool = True,
) -> CommandRow:
    """Queue a command; ``flush=False`` leaves the INSERT to the next flush (many rows, one statement)."""
    if kind not in COMMAND_KINDS:
        raise UnknownCommandKind(f"unknown command kind {kind!r}")
    row = CommandRow(
        id=new_id(), site_id=site_id, kind=kind, device_id=device_id, args=args or {}, deadline=deadline,
        requested_by=requested_by, meeting_id=meeting_id, state="queued", result={}, created_at=utcnow(),
    )
    session.add(row)
    if flush:
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


def queued_ids(session: Session, site_ids: Iterable[str], now: datetime) -> dict[str, set[str]]:
    """Ids of the queued, unexpired commands of each site (every site gets an entry)."""
    sites = list(site_ids)
    out: dict[str, set[str]] = {site: set() for site in sites}
    rows = session.execute(
        select(CommandRow.site_id, CommandRow.id)
        .where(CommandRow.site_id.in_(sites), CommandRow.state == "queued", CommandRow.deadline > now)
    )
    for site_id, command_id in rows:
        out[site_id].add(command_id)
    return out


def take_by_ids(session: Session, ids: Collection[str], now: datetime) -> dict[str, list[Command]]:
    """These commands as messages by site, oldest first; marked sent."""
    if not ids:
        return {}
    rows = session.scalars(
        select(CommandRow).where(CommandRow.id.in_(list(ids))).order_by(CommandRow.created_at, CommandRow.id)
    ).all()
    out: dict[str, list[Command]] = defaultdict(list)
    for row in rows:
        row.sent_at = now
        out[row.site_id].append(to_message(row))
    return dict(out)


def to_message(row: CommandRow) -> Command:
    # msg_id == command_id: a re-delivered command is the same message to the agent.
    return Command(
        msg_id=row.id, command_id=row.id, site=row.site_id, kind=row.kind, device=row.device_id,
        args=row.args, deadline=row.deadline,
    )


_COMMANDS = CommandRow.__table__
# one UPDATE per ack message (agents ack every command): no rows loaded
_ACK = (
    update(_COMMANDS)
    .where(_COMMANDS.c.id.in_(bindparam("ids", expanding=True)), _COMMANDS.c.site_id == bindparam("site"))
    .values(acked_at=func.coalesce(_COMMANDS.c.acked_at, bindparam("now", type_=_COMMANDS.c.acked_at.type)),
            state=case((_COMMANDS.c.state == "queued", "running"), else_=_COMMANDS.c.state))
)


def mark_acked(session: Session, site_id: str, ids: Iterable[str], now: datetime) -> None:
    """The agent has these commands: acked_at set once, queued -> running."""
    ids = list(ids)
    if not ids:
        return
    session.flush()     # a command queued in this transaction must exist for the UPDATE
    session.connection().execute(_ACK, {"ids": ids, "site": site_id, "now": now})
    for command_id in ids:   # rows loaded earlier in this session reload with the new state
        cached = session.identity_map.get(identity_key(CommandRow, command_id))
        if cached is not None:
            session.expire(cached)


def apply_result(session: Session, site_id: str, msg: CommandResult) -> CommandRow | None:
    """Record an agent's report on a command; returns the row when it just reached a final state."""
    # locked: a sweep expiring it on another instance finishes first, and its state is read fresh
    row = session.get(CommandRow, msg.command_id, with_for_update=True, populate_existing=True)
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
        # several instances sweep at once: each claims the rows no other sweep holds (PostgreSQL)
        .with_for_update(skip_locked=True)
    ).all()
    for row in rows:
        row.error = (
            "the agent was not reachable before the deadline" if row.state == "queued"
            else "no result from the agent before the deadline"
        )
        row.state = "expired"
        row.finished_at = now
    return list(rows)
