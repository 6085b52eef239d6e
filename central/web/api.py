"""API additions the dashboard needs and the core API does not offer (yet): the live change
stream, one-request summaries for the overview and the meetings list, meeting edit, and device
availability over time. Same auth, roles, CSRF and audit as the core API."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import AwareDatetime, BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from central.api.deps import Principal, get_ctx, reader, secretariat
from central.api.sites import list_sites, site_detail
from central.context import AppContext
from central.models import Device, Fault, Meeting, MeetingSite, SelftestRow, utcnow
from central.services import audit, meetings
from central.services.wake import wake_schedule
from central.web.feed import ChangeFeed

router = APIRouter(prefix="/api/v1", tags=["dashboard"])

KEEPALIVE_SECONDS = 15.0
#: A stream ends after this long and the browser reconnects (EventSource does so by itself), so a
#: server shutting down never waits longer than this for open dashboards.
STREAM_MAX_SECONDS = 30.0


# -- live change stream (server-sent events) -------------------------------------------------------
def change_feed(request: Request) -> ChangeFeed:
    """One feed per app instance, created on first use."""
    feed: ChangeFeed | None = getattr(request.app.state, "dashboard_feed", None)
    if feed is None:
        ctx: AppContext = request.app.state.ctx
        interval = getattr(request.app.state, "dashboard_feed_interval", None)
        feed = ChangeFeed(ctx.sessions) if interval is None else ChangeFeed(ctx.sessions, float(interval))
        request.app.state.dashboard_feed = feed
    return feed


@router.get("/stream", response_class=StreamingResponse)
async def stream(request: Request, _: Principal = Depends(reader)) -> StreamingResponse:
    """``event: change`` with ``{"topics": [...]}`` whenever data of those topics changed."""
    feed = change_feed(request)
    queue = feed.subscribe()
    lifetime = float(getattr(request.app.state, "dashboard_stream_seconds", STREAM_MAX_SECONDS))

    async def events() -> AsyncIterator[str]:
        loop = asyncio.get_running_loop()
        ends = loop.time() + lifetime
        try:
            yield "retry: 1000\n\n"
            while (left := ends - loop.time()) > 0:
                try:
                    topics = await asyncio.wait_for(queue.get(), min(KEEPALIVE_SECONDS, left))
                except TimeoutError:
                    yield ": keepalive\n\n"      # keeps proxies from closing an idle stream
                    continue
                if topics is None:
                    return
                payload = json.dumps({"topics": topics, "at": utcnow().isoformat()})
                yield f"event: change\ndata: {payload}\n\n"
        finally:
            feed.unsubscribe(queue)

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


# -- overview: every site with its state at a glance -----------------------------------------------
class MeetingBrief(BaseModel):
    id: str
    title: str
    start: datetime
    end: datetime
    state: str
    readiness: str | None = None


class SelftestBrief(BaseModel):
    id: str
    verdict: str | None
    trigger: str
    finished_at: datetime | None


class SiteCard(BaseModel):
    id: str
    name: str
    name_zh: str
    agent_connected: bool
    last_seen: datetime | None
    devices_total: int
    devices_up: int
    devices_down: int
    open_faults: int
    verdict: str
    next_meeting: MeetingBrief | None
    last_selftest: SelftestBrief | None


def _next_meeting(session: Session, site_id: str, now: datetime) -> MeetingBrief | None:
    row = session.execute(
        select(Meeting, MeetingSite.readiness)
        .join(MeetingSite, MeetingSite.meeting_id == Meeting.id)
        .where(MeetingSite.site_id == site_id, Meeting.state.in_(meetings.ACTIVE_STATES), Meeting.end > now)
        .order_by(Meeting.start).limit(1)
    ).first()
    if row is None:
        return None
    meeting, readiness = row
    return MeetingBrief(id=meeting.id, title=meeting.title, start=meeting.start, end=meeting.end,
                        state=meeting.state, readiness=readiness)


def _last_selftest(session: Session, site_id: str) -> SelftestBrief | None:
    row = session.scalars(
        select(SelftestRow).where(SelftestRow.site_id == site_id, SelftestRow.state == "done")
        .order_by(SelftestRow.finished_at.desc()).limit(1)
    ).first()
    if row is None:
        return None
    return SelftestBrief(id=row.id, verdict=row.verdict, trigger=row.trigger, finished_at=row.finished_at)


@router.get("/dashboard/sites", response_model=list[SiteCard])
def overview(user: Principal = Depends(reader), ctx: AppContext = Depends(get_ctx)) -> list[SiteCard]:
    now = utcnow()
    cards = []
    for site in list_sites(user, ctx):
        detail = site_detail(site.id, user, ctx)
        with ctx.unit() as session:
            cards.append(SiteCard(
                id=site.id, name=site.name, name_zh=site.name_zh, agent_connected=detail.agent_connected,
                last_seen=site.last_seen, devices_total=detail.health.devices, devices_up=detail.health.up,
                devices_down=detail.health.down, open_faults=detail.health.open_faults,
                verdict=detail.health.verdict, next_meeting=_next_meeting(session, site.id, now),
                last_selftest=_last_selftest(session, site.id),
            ))
    return cards


# -- meetings list with their sites ----------------------------------------------------------------
class MeetingRow(BaseModel):
    id: str
    title: str
    start: datetime
    end: datetime
    host_site: str
    mode: str
    state: str
    sites: list[str]


@router.get("/dashboard/meetings", response_model=list[MeetingRow])
def meeting_rows(limit: int = Query(500, ge=1, le=5000), _: Principal = Depends(reader),
                 ctx: AppContext = Depends(get_ctx)) -> list[MeetingRow]:
    with ctx.unit() as session:
        rows = session.scalars(select(Meeting).order_by(Meeting.start.desc()).limit(limit)).all()
        links: dict[str, list[str]] = {}
        for meeting_id, site_id in session.execute(
            select(MeetingSite.meeting_id, MeetingSite.site_id)
            .where(MeetingSite.meeting_id.in_([m.id for m in rows])).order_by(MeetingSite.site_id)
        ):
            links.setdefault(meeting_id, []).append(site_id)
        return [MeetingRow(id=m.id, title=m.title, start=m.start, end=m.end, host_site=m.host_site,
                           mode=m.mode, state=m.state, sites=links.get(m.id, [])) for m in rows]


# -- meeting edit ----------------------------------------------------------------------------------
class MeetingPatch(BaseModel):
    model_config = {"extra": "forbid"}

    title: str | None = Field(None, min_length=1, max_length=300)
    start: AwareDatetime | None = None
    end: AwareDatetime | None = None
    host_site: str | None = None
    sites: list[str] | None = Field(None, min_length=1)
    mode: Literal["bridge", "host"] | None = None
    bridge_uri: str | None = None


def _edit(session: Session, meeting: Meeting, body: MeetingPatch, default_capacity: int) -> dict[str, Any]:
    """Apply the changes to a scheduled meeting, with the same rules as creating one."""
    if meeting.state != "scheduled":
        raise meetings.MeetingError(f"meeting is {meeting.state}, only a scheduled meeting can be edited")
    old_sites = meetings.site_ids(session, meeting.id)
    changes = body.model_dump(exclude_unset=True)
    request = meetings.MeetingRequest(
        title=changes.get("title", meeting.title), start=changes.get("start", meeting.start),
        end=changes.get("end", meeting.end), host_site=changes.get("host_site", meeting.host_site),
        sites=changes.get("sites", old_sites), mode=changes.get("mode", meeting.mode),
        bridge_uri=changes.get("bridge_uri", meeting.bridge_uri), replaces=meeting.id,
    )
    # Validate exactly as creation does, inside a savepoint that is always rolled back.
    probe = session.begin_nested()
    try:
        meetings.create(session, request, "validation", default_capacity)
    finally:
        probe.rollback()
    sites = list(dict.fromkeys([request.host_site, *request.sites]))
    meeting.title, meeting.start, meeting.end = request.title, request.start, request.end
    meeting.host_site, meeting.mode = request.host_site, request.mode
    meeting.bridge_uri = request.bridge_uri if request.mode == "bridge" else None
    for link in session.scalars(select(MeetingSite).where(MeetingSite.meeting_id == meeting.id)):
        if link.site_id not in sites:
            session.delete(link)
    for site_id in sites:
        if site_id not in old_sites:
            session.add(MeetingSite(meeting_id=meeting.id, site_id=site_id, call_state="idle"))
    for site_id in set(old_sites) | set(sites):
        wake_schedule(session, site_id)     # removed sites get a schedule without it
    return {key: v.isoformat() if isinstance(v, datetime) else v for key, v in changes.items()}


@router.patch("/meetings/{meeting_id}", status_code=200)
def edit_meeting(meeting_id: str, body: MeetingPatch, user: Principal = Depends(secretariat),
                 ctx: AppContext = Depends(get_ctx)) -> dict[str, str]:
    try:
        with ctx.unit() as session:
            meeting = session.get(Meeting, meeting_id)
            if meeting is None:
                raise HTTPException(404, f"no meeting {meeting_id!r}")
            changed = _edit(session, meeting, body, ctx.settings.default_multisite_capacity)
            audit.record(session, actor=user.username, action="meeting.edit", target=meeting_id,
                         outcome="succeeded", detail=changed)
            return {"id": meeting_id}
    except meetings.MeetingConflict as exc:
        raise HTTPException(409, exc.detail()) from exc
    except meetings.MeetingError as exc:
        raise HTTPException(422, str(exc)) from exc


# -- availability over time ------------------------------------------------------------------------
class DeviceAvailability(BaseModel):
    id: str
    availability: float
    daily: list[float]


class Availability(BaseModel):
    site: str
    days: list[str]
    devices: list[DeviceAvailability]


def _overlap(start: datetime, end: datetime, lo: datetime, hi: datetime) -> float:
    return max(0.0, (min(end, hi) - max(start, lo)).total_seconds())


@router.get("/sites/{site}/availability", response_model=Availability)
def availability(site: str, days: int = Query(14, ge=1, le=366), user: Principal = Depends(reader),
                 ctx: AppContext = Depends(get_ctx)) -> Availability:
    """Share of each day a device was up, from its "device down" faults (open to close)."""
    site_detail(site, user, ctx)          # 404 for an unknown site
    now = utcnow()
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    bounds = [(today - timedelta(days=n), min(today - timedelta(days=n - 1), now))
              for n in range(days - 1, -1, -1)]
    window_start = bounds[0][0]
    with ctx.unit() as session:
        devices = list(session.scalars(select(Device.id).where(Device.site_id == site).order_by(Device.id)))
        outages = session.execute(
            select(Fault.device_id, Fault.opened_at, Fault.closed_at)
            .where(Fault.site_id == site, Fault.check_name.is_(None),
                   (Fault.closed_at.is_(None)) | (Fault.closed_at > window_start))
        ).all()
    result = []
    for device_id in devices:
        down = [(o.opened_at, o.closed_at or now) for o in outages if o.device_id == device_id]
        daily = []
        for lo, hi in bounds:
            span = (hi - lo).total_seconds() or 1.0
            daily.append(round(1.0 - min(span, sum(_overlap(a, b, lo, hi) for a, b in down)) / span, 4))
        total = (now - window_start).total_seconds()
        lost = sum(_overlap(a, b, window_start, now) for a, b in down)
        result.append(DeviceAvailability(id=device_id, availability=round(1.0 - min(total, lost) / total, 6),
                                         daily=daily))
    return Availability(site=site, days=[lo.date().isoformat() for lo, _ in bounds], devices=result)
