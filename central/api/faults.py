"""Faults (open and closed, with repair times) and the audit log."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, HTTPException, Query
from sqlalchemy import select

from central.api.deps import IntId, Principal, get_ctx, reader
from central.api.schemas import AuditOut, CommandOut, FaultDetailOut, FaultOut
from central.context import AppContext
from central.models import AuditEntry, CommandRow, Fault

router = APIRouter(prefix="/api/v1", tags=["faults", "audit"])


@router.get("/faults", response_model=list[FaultOut])
def list_faults(open: bool | None = None, site: str | None = None, device: str | None = None,
                limit: int = Query(200, ge=1, le=5000), _: Principal = Depends(reader),
                ctx: AppContext = Depends(get_ctx)) -> list[Fault]:
    query = select(Fault).order_by(Fault.opened_at.desc()).limit(limit)
    if open is not None:
        query = query.where(Fault.closed_at.is_(None) if open else Fault.closed_at.is_not(None))
    if site:
        query = query.where(Fault.site_id == site)
    if device:
        query = query.where(Fault.device_id == device)
    with ctx.unit() as session:
        return list(session.scalars(query))


@router.get("/faults/{fault_id}", response_model=FaultDetailOut)
def fault_detail(fault_id: IntId, _: Principal = Depends(reader),
                 ctx: AppContext = Depends(get_ctx)) -> FaultDetailOut:
    """A fault with the commands run against its device while it was open."""
    with ctx.unit() as session:
        fault = session.get(Fault, fault_id)
        if fault is None:
            raise HTTPException(404, f"no fault {fault_id}")
        query = select(CommandRow).where(CommandRow.device_id == fault.device_id,
                                         CommandRow.created_at >= fault.opened_at)
        if fault.closed_at is not None:
            query = query.where(CommandRow.created_at <= fault.closed_at)
        rows = session.scalars(query.order_by(CommandRow.created_at))
        return FaultDetailOut(**FaultOut.model_validate(fault).model_dump(),
                              commands=[CommandOut.model_validate(r) for r in rows])


@router.get("/audit", response_model=list[AuditOut])
def audit_log(actor: str | None = None, action: str | None = None, since: datetime | None = None,
              limit: int = Query(200, ge=1, le=5000), _: Principal = Depends(reader),
              ctx: AppContext = Depends(get_ctx)) -> list[AuditEntry]:
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if actor:
        query = query.where(AuditEntry.actor == actor)
    if action:
        query = query.where(AuditEntry.action == action)
    if since:
        query = query.where(AuditEntry.at >= since)
    with ctx.unit() as session:
        return list(session.scalars(query))
