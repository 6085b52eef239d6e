"""Faults open when a device goes down or a pre-meeting check fails, and close on recovery."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from central.models import Fault


def _open_fault(session: Session, device_id: str, check_name: str | None) -> Fault | None:
    return session.scalars(
        select(Fault).where(
            Fault.device_id == device_id, Fault.closed_at.is_(None),
            Fault.check_name.is_(None) if check_name is None else Fault.check_name == check_name,
        )
    ).first()


def open_fault(
    session: Session, *, site_id: str, device_id: str, check_name: str | None, cause: str, at: datetime
) -> Fault:
    """Open a fault unless one is already open for the same device (and check)."""
    existing = _open_fault(session, device_id, check_name)
    if existing is not None:
        return existing
    fault = Fault(site_id=site_id, device_id=device_id, check_name=check_name, cause=cause, opened_at=at)
    session.add(fault)
    session.flush()
    return fault


def close_fault(
    session: Session, *, device_id: str, check_name: str | None, at: datetime, reason: str,
    closed_by: str = "system",
) -> Fault | None:
    fault = _open_fault(session, device_id, check_name)
    if fault is None:
        return None
    fault.closed_at = max(at, fault.opened_at)
    fault.closed_by = closed_by
    fault.reason = reason
    return fault
