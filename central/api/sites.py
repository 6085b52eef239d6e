"""Sites and devices: health, agent connection, uplink measurements."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Depends, Query
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from central.api.deps import Principal, get_ctx, reader
from central.api.lookup import DEVICE_ID_HINT, filtered, get_or_404
from central.api.schemas import DeviceOut, HealthSummary, SiteDetailOut, SiteOut, UplinkOut
from central.context import AppContext
from central.models import Device, Fault, Site, UplinkMeasurement, utcnow

router = APIRouter(prefix="/api/v1", tags=["sites"])


def get_site(session: Session, site_id: str) -> Site:
    return get_or_404(session, Site, site_id, "site")


def _site_out(ctx: AppContext, site: Site) -> SiteOut:
    out = SiteOut.model_validate(site)
    # A flag left by a crashed instance is not trusted once the agent has been silent too long.
    allowance = timedelta(
        seconds=ctx.settings.heartbeat_interval_seconds * (ctx.settings.heartbeat_misses + 1)
    )
    fresh = site.last_seen is not None and utcnow() - site.last_seen <= allowance
    out.agent_connected = bool(site.agent_connected and fresh)
    return out


def health_verdict(total: int, up: int, down: int, degraded: bool, open_faults: int) -> str:
    """A site's verdict from its device counts (also used by the dashboard's grouped overview)."""
    if not total or up + down == 0:
        return "unknown"
    if down == total:
        return "down"
    if down or degraded or open_faults:
        return "degraded"
    return "ok"


def _health(session: Session, site_id: str) -> HealthSummary:
    devices = list(session.scalars(select(Device).where(Device.site_id == site_id)))
    up = sum(1 for d in devices if d.up is True)
    down = sum(1 for d in devices if d.up is False)
    degraded = any(d.verdict == "degraded" for d in devices)
    open_faults = session.scalar(
        select(func.count()).select_from(Fault).where(Fault.site_id == site_id, Fault.closed_at.is_(None))
    ) or 0
    verdict = health_verdict(len(devices), up, down, degraded, open_faults)
    return HealthSummary(devices=len(devices), up=up, down=down, unknown=len(devices) - up - down,
                         open_faults=open_faults, verdict=verdict)  # type: ignore[arg-type]


@router.get("/sites", response_model=list[SiteOut])
def list_sites(_: Principal = Depends(reader), ctx: AppContext = Depends(get_ctx),
               include_retired: bool = Query(False, description="also list retired sites")) -> list[SiteOut]:
    query = select(Site).order_by(Site.id)
    if include_retired is not True:       # direct callers (the dashboard) pass no value: active only
        query = query.where(Site.retired_at.is_(None))
    with ctx.unit() as session:
        return [_site_out(ctx, s) for s in session.scalars(query)]


@router.get("/sites/{site}", response_model=SiteDetailOut)
def site_detail(site: str, _: Principal = Depends(reader),
                ctx: AppContext = Depends(get_ctx)) -> SiteDetailOut:
    with ctx.unit() as session:
        row = get_site(session, site)
        return SiteDetailOut(**_site_out(ctx, row).model_dump(), health=_health(session, site))


@router.get("/sites/{site}/devices", response_model=list[DeviceOut])
def site_devices(site: str, _: Principal = Depends(reader),
                 ctx: AppContext = Depends(get_ctx)) -> list[Device]:
    with ctx.unit() as session:
        get_site(session, site)
        return list(session.scalars(filtered(Device, Device.id, site_id=site)))


@router.get("/devices/{device}", response_model=DeviceOut)
def device_detail(device: str, _: Principal = Depends(reader), ctx: AppContext = Depends(get_ctx)) -> Device:
    with ctx.unit() as session:
        return get_or_404(session, Device, device, "device", DEVICE_ID_HINT)


@router.get("/sites/{site}/uplink", response_model=list[UplinkOut])
def site_uplink(site: str, limit: int = Query(100, ge=1, le=10000), _: Principal = Depends(reader),
                ctx: AppContext = Depends(get_ctx)) -> list[UplinkMeasurement]:
    with ctx.unit() as session:
        get_site(session, site)
        return list(session.scalars(
            filtered(UplinkMeasurement, UplinkMeasurement.at.desc(), limit=limit, site_id=site)
        ))
