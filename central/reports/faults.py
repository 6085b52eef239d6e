"""Fault records: cause, the commands run against the device while the fault was open, time to
repair, engineers' notes, and closing by hand with a reason."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from central.messages import catalogue
from central.models import CommandRow, Device, Fault, Site, utcnow
from central.reports.models import FaultNote

#: reason codes of a device that does not answer (the rest are problems of a device that does)
DOWN_CODES = frozenset({"device.unreachable", "camera.silent", "device.auth_failed", "device.down"})


class FaultError(ValueError):
    """A request that does not fit the fault's state (reported as 409)."""


def repair_seconds(fault: Fault) -> float | None:
    if fault.closed_at is None:
        return None
    return (fault.closed_at - fault.opened_at).total_seconds()


def in_period(session: Session, site_ids: list[str], lo: datetime, hi: datetime) -> list[Fault]:
    """Faults of the sites opened in [lo, hi): root causes only (a fault merged into another as its
    symptom is part of that one)."""
    return list(session.scalars(
        select(Fault).where(Fault.site_id.in_(site_ids), Fault.opened_at >= lo, Fault.opened_at < hi,
                            Fault.root_id.is_(None))
        .order_by(Fault.opened_at, Fault.id)
    ))


def commands_during(session: Session, fault: Fault) -> list[CommandRow]:
    query = select(CommandRow).where(CommandRow.device_id == fault.device_id,
                                     CommandRow.created_at >= fault.opened_at)
    if fault.closed_at is not None:
        query = query.where(CommandRow.created_at <= fault.closed_at)
    return list(session.scalars(query.order_by(CommandRow.created_at)))


def notes(session: Session, fault_id: int) -> list[FaultNote]:
    return list(session.scalars(select(FaultNote).where(FaultNote.fault_id == fault_id)
                                .order_by(FaultNote.at, FaultNote.id)))


def plain(session: Session, fault: Fault) -> dict[str, dict[str, str]]:
    """What people read about the fault, per language: site, device and check names and the reason
    code's summary with what to do (the raw ``cause`` is the engineer's evidence)."""
    site = session.get(Site, fault.site_id)
    device = session.get(Device, fault.device_id)
    roles = list(device.roles or []) if device is not None else []
    code = fault.code or "check.failed"
    return {lang: {
        "site": catalogue.site_label(site, lang) if site is not None else fault.site_id,
        "device": catalogue.text(lang, "role.site") if fault.device_id == fault.site_id
        else catalogue.device_label(fault.device_id, roles, lang),
        "check": catalogue.check_label(fault.check_name, lang), "summary": catalogue.summary(code, lang),
    } for lang in catalogue.LANGUAGES}


def record(session: Session, fault: Fault) -> dict[str, Any]:
    return {
        "id": fault.id, "site_id": fault.site_id, "device_id": fault.device_id,
        "kind": "device_down" if fault.code in DOWN_CODES or (not fault.code and not fault.check_name)
        else "check_failed", "check_name": fault.check_name,
        "code": fault.code, "plain": plain(session, fault), "symptoms": list(fault.symptoms or []),
        "cause": fault.cause, "opened_at": fault.opened_at, "closed_at": fault.closed_at,
        "closed_by": fault.closed_by, "reason": fault.reason, "repair_seconds": repair_seconds(fault),
        "commands": [
            {"id": c.id, "kind": c.kind, "state": c.state, "requested_by": c.requested_by,
             "created_at": c.created_at, "finished_at": c.finished_at, "error": c.error}
            for c in commands_during(session, fault)
        ],
        "notes": [{"id": n.id, "author": n.author, "at": n.at, "text": n.text}
                  for n in notes(session, fault.id)],
    }


def add_note(session: Session, fault: Fault, text: str, author: str) -> FaultNote:
    note = FaultNote(fault_id=fault.id, author=author, at=utcnow(), text=text)
    session.add(note)
    session.flush()
    return note


def close(session: Session, fault: Fault, reason: str, actor: str) -> Fault:
    if fault.closed_at is not None:
        raise FaultError(f"fault {fault.id} was already closed by {fault.closed_by} ({fault.reason})")
    fault.closed_at = max(utcnow(), fault.opened_at)
    fault.closed_by = actor
    fault.reason = reason
    session.flush()
    return fault
