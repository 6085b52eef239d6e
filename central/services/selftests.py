"""Self-tests: requested through the API or run by the agent on its own schedule."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from central.messages import codes
from central.models import CommandRow, Device, MeetingSite, SelftestRow, utcnow
from central.services import commands, faults, maintenance, uplink
from contracts.messages import CheckResult, SelftestReport

#: self-tests whose failures open faults (the others add their evidence to faults already open)
CHECK_FAULT_TRIGGERS = frozenset({"pre_meeting"})


def request(session: Session, *, site_id: str, actor: str, deadline_seconds: float) -> SelftestRow:
    row = SelftestRow(site_id=site_id, trigger="on_demand", state="requested", requested_by=actor)
    session.add(row)
    session.flush()
    command = commands.enqueue(
        session, site_id=site_id, kind="selftest", requested_by=actor,
        deadline=commands.deadline_in(deadline_seconds), args={"run_id": row.id, "trigger": "on_demand"},
    )
    row.command_id = command.id
    return row


def ingest_report(session: Session, site_id: str, msg: SelftestReport) -> SelftestRow:
    row = None
    if msg.command_id:
        row = session.scalars(select(SelftestRow).where(SelftestRow.command_id == msg.command_id)).first()
    if row is None:
        row = session.get(SelftestRow, msg.run_id)
    if row is None or row.site_id != site_id:
        row = SelftestRow(id=msg.run_id, site_id=site_id, command_id=msg.command_id)
        session.add(row)
    row.trigger = msg.trigger
    row.meeting_id = msg.meeting_id
    row.state = "done"
    row.verdict = msg.verdict
    row.late = msg.late
    row.started_at = msg.started_at
    row.finished_at = msg.finished_at
    row.checks = [_with_code(session, c) for c in msg.checks]
    row.inventory = [d.model_dump(mode="json") for d in msg.inventory]
    row.drift = list(msg.drift)
    row.uplink = msg.uplink
    session.flush()
    _update_identities(session, site_id, msg)
    faults.observe_checks(session, site_id=site_id, checks=row.checks, at=msg.finished_at,
                          may_open=msg.trigger in CHECK_FAULT_TRIGGERS,
                          run=f"{msg.trigger} self-test {msg.run_id}")
    if msg.trigger == "inspection" and not msg.command_id:
        _inspection_window(session, site_id, msg)
    if msg.meeting_id and msg.trigger == "pre_meeting":
        _update_readiness(session, site_id, msg, row)
    if msg.uplink:
        uplink.store(session, site_id, msg.uplink, at=msg.finished_at, source="selftest")
    return row


def _update_identities(session: Session, site_id: str, msg: SelftestReport) -> None:
    """What the devices said about themselves (firmware, serial) is the freshest identity:
    the agent's hello only knows what the profile expects."""
    for info in msg.inventory:
        if not info.identity or not info.id.startswith(f"{site_id}."):
            continue
        device = session.get(Device, info.id)
        if device is not None:
            device.identity = {**(device.identity or {}), **info.identity}


def _with_code(session: Session, check: CheckResult) -> dict[str, Any]:
    """The check as stored, with the reason code of a failure or warning ("" when it passed)."""
    out = check.model_dump(mode="json")
    if check.status in ("fail", "warn"):
        out["code"] = codes.check_code(check.name, check.reason, faults.roles_of(session, check.device))
    else:
        out["code"] = ""
    return out


def _inspection_window(session: Session, site_id: str, msg: SelftestReport) -> None:
    """The agent's own monthly inspection was planned work while it ran: recorded afterwards."""
    window = maintenance.open_window(session, site_id=site_id, device_id=None, kind="inspection",
                                     actor="agent", why=f"monthly inspection {msg.run_id}",
                                     started_at=msg.started_at, planned_end=msg.finished_at)
    maintenance.end_window(session, window, msg.finished_at, "done", actor="agent")


def _update_readiness(session: Session, site_id: str, msg: SelftestReport, row: SelftestRow) -> None:
    link = session.get(MeetingSite, (msg.meeting_id, site_id))
    if link is None:
        return
    if link.readiness_at is not None and link.readiness_at > msg.finished_at:
        return  # an older report arriving late does not override the latest
    link.readiness = msg.verdict
    link.readiness_at = msg.finished_at
    link.selftest_id = row.id


def on_command_final(session: Session, command: CommandRow) -> None:
    if command.kind != "selftest" or command.state == "succeeded":
        return
    row = session.scalars(select(SelftestRow).where(SelftestRow.command_id == command.id)).first()
    if row is not None and row.state == "requested":
        row.state = command.state          # failed or expired: the agent never reported a run
        row.finished_at = command.finished_at or utcnow()
