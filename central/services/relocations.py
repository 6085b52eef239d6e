"""Relocations: the agent plans the change from a venue profile, an engineer applies it."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from central.models import CommandRow, Relocation, utcnow
from central.services import commands, maintenance


class RelocationError(ValueError):
    pass


def plan(session: Session, *, site_id: str, venue: str, actor: str, deadline_seconds: float) -> Relocation:
    row = Relocation(site_id=site_id, venue=venue, state="planning", requested_by=actor)
    session.add(row)
    session.flush()
    command = commands.enqueue(
        session, site_id=site_id, kind="relocate_plan", requested_by=actor,
        deadline=commands.deadline_in(deadline_seconds), args={"relocation_id": row.id, "venue": venue},
    )
    row.plan_command_id = command.id
    return row


def apply(session: Session, row: Relocation, *, actor: str, deadline_seconds: float) -> CommandRow:
    if row.state not in ("planned", "apply_failed"):
        raise RelocationError(f"relocation is {row.state}; only a planned relocation can be applied")
    command = commands.enqueue(
        session, site_id=row.site_id, kind="relocate_apply", requested_by=actor,
        deadline=commands.deadline_in(deadline_seconds),
        args={"relocation_id": row.id, "venue": row.venue, "plan": row.plan},
    )
    row.apply_command_id = command.id
    maintenance.for_command(session, command, actor, why=f"relocation to {row.venue}")   # planned work
    row.state = "applying"
    row.error = None
    row.updated_at = utcnow()
    return command


def on_command_final(session: Session, command: CommandRow) -> None:
    if command.kind not in ("relocate_plan", "relocate_apply"):
        return
    column = Relocation.plan_command_id if command.kind == "relocate_plan" else Relocation.apply_command_id
    row = session.scalars(select(Relocation).where(column == command.id)).first()
    if row is None:
        return
    ok = command.state == "succeeded"
    # a dry run "succeeds" as a command even when the plan cannot be carried out (a venue the
    # agent cannot use, a device not found): the agent's own verdict decides
    refused = ok and command.kind == "relocate_plan" and command.result.get("ok") is False
    if command.kind == "relocate_plan":
        row.state = "planned" if ok and not refused else "plan_failed"
        if ok:
            plan = command.result.get("plan", command.result)
            # the agent's plan is a list of per-device steps inside its result: keep the result
            row.plan = dict(plan) if isinstance(plan, dict) else dict(command.result)
    else:
        row.state = "applied" if ok else "apply_failed"
        row.result = dict(command.result)
    if refused:
        row.error = f"plan_failed: {command.result.get('error') or 'the plan has problems'}"
    else:
        row.error = None if ok else f"{command.state}: {command.error or 'no reason given'}"
    row.updated_at = utcnow()
