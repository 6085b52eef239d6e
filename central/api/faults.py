"""Faults (open and closed, with repair times, reason code and plain-language summary), why a
site is not "ok", maintenance windows, and the audit log.

Texts for people come in the language asked for: ``?lang=zh|zh-CN|en``, else the dashboard's
language cookie, else Accept-Language, else Chinese. The raw driver text stays in ``cause`` and
the symptoms' ``reason`` (engineer's evidence).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from central.api.deps import IntId, Principal, engineer, get_ctx, reader
from central.api.lookup import filtered, get_or_404
from central.api.schemas import AuditOut, CommandOut, FaultOut, In
from central.api.sites import get_site, site_detail
from central.context import AppContext
from central.messages import catalogue
from central.models import AuditEntry, CommandRow, Device, Fault, MaintenanceWindow, Site, utcnow
from central.services import faults, maintenance, problems
from central.web.i18n import LANG_COOKIE

router = APIRouter(prefix="/api/v1", tags=["faults", "audit", "maintenance"])


def language(request: Request, lang: str | None = Query(None, description="zh, zh-CN or en")) -> str:
    """The language of the texts in the answer (422 for one we have no texts for)."""
    try:
        return catalogue.choose(
            lang, request.cookies.get(LANG_COOKIE), request.headers.get("accept-language")
        )
    except catalogue.UnknownLanguage as exc:
        raise HTTPException(422, str(exc)) from exc


# -- faults ----------------------------------------------------------------------------------------
class SymptomOut(BaseModel):
    source: str  # health or selftest
    check: str | None
    check_name: str
    code: str
    summary: str
    reason: str  # raw text (evidence)
    at: str


class FaultView(FaultOut):
    code: str
    title: str
    action: str
    summary: str
    site_name: str
    device_name: str
    check_label: str
    root_id: int | None
    symptoms: list[SymptomOut]


class FaultDetailView(FaultView):
    commands: list[CommandOut]


def fault_view(
    fault: Fault, lang: str, sites: dict[str, Site], roles: dict[str, list[str]]
) -> dict[str, Any]:
    code = fault.code or "check.failed"
    site = sites.get(fault.site_id)
    return {
        **FaultOut.model_validate(fault).model_dump(),
        **catalogue.explain(code, lang),
        "root_id": fault.root_id,
        "site_name": catalogue.site_label(site, lang) if site is not None else fault.site_id,
        "device_name": catalogue.device_label(fault.device_id, roles.get(fault.device_id), lang)
        if fault.device_id != fault.site_id
        else catalogue.text(lang, "role.site"),
        "check_label": catalogue.check_label(fault.check_name, lang),
        "symptoms": [
            {
                "source": str(s.get("source", "")),
                "check": s.get("check"),
                "check_name": catalogue.check_label(s.get("check"), lang),
                "code": str(s.get("code", "")),
                "summary": catalogue.summary(str(s.get("code", "check.failed")), lang),
                "reason": str(s.get("reason", "")),
                "at": str(s.get("at", "")),
            }
            for s in fault.symptoms or []
        ],
    }


def lookups(session: Session) -> tuple[dict[str, Site], dict[str, list[str]]]:
    sites = {s.id: s for s in session.scalars(select(Site))}
    roles = {d_id: list(r or []) for d_id, r in session.execute(select(Device.id, Device.roles))}
    return sites, roles


@router.get("/faults", response_model=list[FaultView])
def list_faults(
    open: bool | None = None,
    site: str | None = None,
    device: str | None = None,
    linked: bool = Query(False, description="include faults merged into another as its symptom"),
    limit: int = Query(200, ge=1, le=5000),
    lang: str = Depends(language),
    _: Principal = Depends(reader),
    ctx: AppContext = Depends(get_ctx),
) -> list[dict[str, Any]]:
    query = filtered(Fault, Fault.opened_at.desc(), Fault.id.desc(), limit=limit,
                     site_id=site, device_id=device)
    if open is not None:
        query = query.where(Fault.closed_at.is_(None) if open else Fault.closed_at.is_not(None))
    if not linked:
        query = query.where(Fault.root_id.is_(None))
    with ctx.unit() as session:
        sites, roles = lookups(session)
        return [fault_view(f, lang, sites, roles) for f in session.scalars(query)]


@router.get("/faults/{fault_id}", response_model=FaultDetailView)
def fault_detail(
    fault_id: IntId,
    lang: str = Depends(language),
    _: Principal = Depends(reader),
    ctx: AppContext = Depends(get_ctx),
) -> dict[str, Any]:
    """A fault with the commands run against its device while it was open."""
    with ctx.unit() as session:
        fault = get_or_404(session, Fault, fault_id, "fault")
        query = select(CommandRow).where(
            CommandRow.device_id == fault.device_id, CommandRow.created_at >= fault.opened_at
        )
        if fault.closed_at is not None:
            query = query.where(CommandRow.created_at <= fault.closed_at)
        rows = session.scalars(query.order_by(CommandRow.created_at))
        sites, roles = lookups(session)
        return {
            **fault_view(fault, lang, sites, roles),
            "commands": [CommandOut.model_validate(r) for r in rows],
        }


# -- why a site is not "ok" ------------------------------------------------------------------------
class ProblemOut(BaseModel):
    kind: Literal["fault", "check", "maintenance", "device", "agent"]
    code: str
    title: str
    action: str
    summary: str
    device: str | None
    device_name: str | None
    check: str | None
    check_name: str | None
    fault_id: int | None
    window_id: int | None
    since: datetime | None
    evidence: str


class SiteProblemsOut(BaseModel):
    site: str
    site_name: str
    verdict: str
    problems: list[ProblemOut]


def site_problem_list(session: Session, site: Site, agent_connected: bool, lang: str) -> list[dict[str, Any]]:
    _, roles = lookups(session)
    return [p.render(lang, roles) for p in problems.site_problems(session, site, agent_connected)]


@router.get("/sites/{site}/problems", response_model=SiteProblemsOut)
def site_problems(
    site: str,
    lang: str = Depends(language),
    user: Principal = Depends(reader),
    ctx: AppContext = Depends(get_ctx),
) -> SiteProblemsOut:
    """Every reason the site is not simply "ok", each with a reason code and what to do."""
    detail = site_detail(site, user, ctx)
    with ctx.unit() as session:
        row = get_site(session, site)
        found = site_problem_list(session, row, detail.agent_connected, lang)
        return SiteProblemsOut(
            site=site,
            site_name=catalogue.site_label(row, lang),
            verdict=detail.health.verdict,
            problems=[ProblemOut(**p) for p in found],
        )


# -- maintenance windows ---------------------------------------------------------------------------
class MaintenanceIn(In):
    kind: Literal["planned", "inspection", "relocation"] = "planned"
    device: str | None = Field(None, description="a device id of the site; none: the whole site")
    why: str = Field(min_length=3, max_length=500)
    minutes: float = Field(60, gt=0, le=7 * 24 * 60, description="how long it lasts at most")


class MaintenanceOut(BaseModel):
    id: int
    site_id: str
    site_name: str
    device_id: str | None
    device_name: str | None
    kind: str
    kind_name: str
    actor: str
    why: str
    command_id: str | None
    started_at: datetime
    planned_end: datetime | None
    ended_at: datetime | None
    outcome: str


def window_view(
    window: MaintenanceWindow, lang: str, sites: dict[str, Site], roles: dict[str, list[str]]
) -> MaintenanceOut:
    site = sites.get(window.site_id)
    return MaintenanceOut(
        id=window.id,
        site_id=window.site_id,
        site_name=catalogue.site_label(site, lang) if site else window.site_id,
        device_id=window.device_id,
        device_name=catalogue.device_label(window.device_id, roles.get(window.device_id), lang)
        if window.device_id
        else None,
        kind=window.kind,
        kind_name=catalogue.text(lang, f"maintenance.{window.kind}"),
        actor=window.actor,
        why=window.why,
        command_id=window.command_id,
        started_at=window.started_at,
        planned_end=window.planned_end,
        ended_at=window.ended_at,
        outcome=window.outcome,
    )


@router.get("/maintenance", response_model=list[MaintenanceOut])
def list_maintenance(
    site: str | None = None,
    open: bool | None = None,
    lang: str = Depends(language),
    limit: int = Query(200, ge=1, le=5000),
    _: Principal = Depends(reader),
    ctx: AppContext = Depends(get_ctx),
) -> list[MaintenanceOut]:
    query = select(MaintenanceWindow).order_by(MaintenanceWindow.started_at.desc()).limit(limit)
    if site:
        query = query.where(MaintenanceWindow.site_id == site)
    if open is not None:
        query = query.where(
            MaintenanceWindow.ended_at.is_(None) if open else MaintenanceWindow.ended_at.is_not(None)
        )
    with ctx.unit() as session:
        sites, roles = lookups(session)
        return [window_view(w, lang, sites, roles) for w in session.scalars(query)]


@router.post("/sites/{site}/maintenance", response_model=MaintenanceOut, status_code=201)
def open_maintenance(
    site: str,
    body: MaintenanceIn,
    lang: str = Depends(language),
    user: Principal = Depends(engineer),
    ctx: AppContext = Depends(get_ctx),
) -> MaintenanceOut:
    """Declare planned work (audited): outages inside it are not faults."""
    with ctx.unit() as session:
        get_site(session, site)
        if body.device is not None:
            device = session.get(Device, body.device)
            if device is None or device.site_id != site:
                raise HTTPException(404, f"site {site!r} has no device {body.device!r}")
        now = utcnow()
        window = maintenance.open_window(
            session,
            site_id=site,
            device_id=body.device,
            kind=body.kind,
            actor=user.username,
            why=body.why,
            started_at=now,
            planned_end=now + timedelta(minutes=body.minutes),
        )
        sites, roles = lookups(session)
        return window_view(window, lang, sites, roles)


@router.post("/maintenance/{window_id}/end", response_model=MaintenanceOut)
def end_maintenance(
    window_id: IntId,
    lang: str = Depends(language),
    user: Principal = Depends(engineer),
    ctx: AppContext = Depends(get_ctx),
) -> MaintenanceOut:
    """End planned work now (audited); a device still down then has a fault."""
    with ctx.unit() as session:
        window = get_or_404(session, MaintenanceWindow, window_id, "maintenance window")
        if window.ended_at is not None:
            raise HTTPException(409, f"maintenance window {window_id} already ended at {window.ended_at}")
        maintenance.end_window(session, window, utcnow(), "done", actor=user.username)
        devices = (
            [window.device_id]
            if window.device_id
            else list(session.scalars(select(Device.id).where(Device.site_id == window.site_id)))
        )
        faults.after_maintenance(
            session, site_id=window.site_id, device_ids=devices, at=window.ended_at or utcnow()
        )
        sites, roles = lookups(session)
        return window_view(window, lang, sites, roles)


# -- audit -----------------------------------------------------------------------------------------
@router.get("/audit", response_model=list[AuditOut])
def audit_log(
    actor: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    limit: int = Query(200, ge=1, le=5000),
    _: Principal = Depends(reader),
    ctx: AppContext = Depends(get_ctx),
) -> list[AuditEntry]:
    query = filtered(AuditEntry, AuditEntry.id.desc(), limit=limit, actor=actor, action=action)
    if since:
        query = query.where(AuditEntry.at >= since)
    with ctx.unit() as session:
        return list(session.scalars(query))
