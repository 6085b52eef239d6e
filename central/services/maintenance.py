"""Maintenance windows: planned work on a device or a whole site, with who, why, start and end.

A reboot, power-cycle, relocation or inspection opens one (audited) for the devices it touches; it
ends with the command. Outages inside a window are not faults and count neither against
availability nor time to repair; the annual report lists the windows on their own.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from central.models import CommandRow, MaintenanceWindow, utcnow
from central.services import audit

KINDS = ("reboot", "power_cycle", "relocation", "inspection", "planned")
#: command kind -> window kind; a relocation covers the whole site
COMMAND_WINDOWS = {"reboot": "reboot", "power_cycle": "power_cycle", "relocate_apply": "relocation"}
#: a command's window ends at its deadline at the latest (plus this, for the result to arrive)
RESULT_GRACE = timedelta(minutes=2)


class MaintenanceError(ValueError):
    pass


def open_window(session: Session, *, site_id: str, device_id: str | None, kind: str, actor: str, why: str,
                started_at: datetime | None = None, planned_end: datetime | None = None,
                command_id: str | None = None) -> MaintenanceWindow:
    if kind not in KINDS:
        raise MaintenanceError(f"unknown maintenance kind {kind!r}: one of {', '.join(KINDS)}")
    window = MaintenanceWindow(site_id=site_id, device_id=device_id, kind=kind, actor=actor, why=why,
                               command_id=command_id, started_at=started_at or utcnow(),
                               planned_end=planned_end, outcome="open")
    session.add(window)
    session.flush()
    audit.record(session, actor=actor, action="maintenance.open", target=device_id or site_id,
                 outcome="open", command_id=command_id,
                 detail={"window": window.id, "kind": kind, "why": why,
                         "planned_end": planned_end.isoformat() if planned_end else None})
    return window


def for_command(session: Session, command: CommandRow, actor: str, why: str = "") -> MaintenanceWindow | None:
    """The window a device command opens (None for commands that are not planned work)."""
    kind = COMMAND_WINDOWS.get(command.kind)
    if command.kind == "selftest" and (command.args or {}).get("trigger") == "inspection":
        kind = "inspection"
    if kind is None:
        return None
    device = None if kind in ("relocation", "inspection") else command.device_id
    return open_window(session, site_id=command.site_id, device_id=device, kind=kind, actor=actor,
                       why=why or f"{command.kind} requested", started_at=command.created_at,
                       planned_end=command.deadline + RESULT_GRACE, command_id=command.id)


def end_window(session: Session, window: MaintenanceWindow, at: datetime, outcome: str,
               actor: str = "system", audited: bool = True) -> MaintenanceWindow:
    """End the window; ``audited`` False when its command's own audit entry records the end."""
    if window.ended_at is None:
        window.ended_at = max(at, window.started_at)
        window.outcome = outcome
        if not audited:
            return window
        audit.record(session, actor=actor, action="maintenance.end",
                     target=window.device_id or window.site_id, outcome=outcome,
                     command_id=window.command_id, detail={"window": window.id})
    return window


def end_for_command(session: Session, command: CommandRow) -> list[MaintenanceWindow]:
    """The command reached a final state: its windows end then."""
    rows = list(session.scalars(select(MaintenanceWindow).where(
        MaintenanceWindow.command_id == command.id, MaintenanceWindow.ended_at.is_(None))))
    at = command.finished_at or utcnow()
    # the command's audit entry gets its outcome and end time: no second entry for the window
    return [end_window(session, row, at, command.state, audited=False) for row in rows]


def covering(session: Session, device_id: str, at: datetime) -> MaintenanceWindow | None:
    """The window that holds ``device_id`` at ``at`` (its own, or one for its whole site)."""
    site_id = device_id.split(".", 1)[0]
    rows = session.scalars(select(MaintenanceWindow).where(
        MaintenanceWindow.site_id == site_id,
        or_(MaintenanceWindow.device_id == device_id, MaintenanceWindow.device_id.is_(None)),
        MaintenanceWindow.started_at <= at,
        or_(MaintenanceWindow.ended_at.is_(None), MaintenanceWindow.ended_at > at),
    ))
    for row in rows:
        if row.ended_at is None and row.planned_end is not None and row.planned_end < at:
            continue      # overdue and never ended: it no longer hides outages
        return row
    return None


def in_period(session: Session, site_ids: list[str], lo: datetime, hi: datetime) -> list[MaintenanceWindow]:
    """Windows overlapping [lo, hi) of these sites, oldest first."""
    return list(session.scalars(select(MaintenanceWindow).where(
        MaintenanceWindow.site_id.in_(site_ids), MaintenanceWindow.started_at < hi,
        or_(MaintenanceWindow.ended_at.is_(None), MaintenanceWindow.ended_at > lo),
    ).order_by(MaintenanceWindow.started_at, MaintenanceWindow.id)))


def effective_end(window: MaintenanceWindow, now: datetime) -> datetime:
    """Where a window stops counting: its end, else its planned end, else now."""
    if window.ended_at is not None:
        return window.ended_at
    if window.planned_end is not None:
        return min(window.planned_end, now)
    return now
