"""API additions the dashboard needs and the core API does not offer (yet): the live change
stream, one-request summaries for the overview and the meetings list, meeting edit, and device
availability over time. Same auth, roles, CSRF and audit as the core API."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import AwareDatetime, BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from central.api.deps import Principal, get_ctx, reader, secretariat
from central.api.faults import ProblemOut, language, lookups, site_problem_list
from central.api.sites import site_detail
from central.context import AppContext
from central.messages import catalogue
from central.models import Meeting, MeetingSite, SelftestRow, Site, utcnow
from central.services import audit, meetings
from central.services import availability as availability_service
from central.services.wake import wake_schedule
from central.web.feed import ChangeFeed
from central.web.overview import overview_rows

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
        feed = ChangeFeed(ctx.bus) if interval is None else ChangeFeed(ctx.bus, float(interval))
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
    #: why the verdict is not "ok": open faults, failing checks, maintenance (plain language)
    problems: list[ProblemOut] = []


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
def overview(_: Principal = Depends(reader), lang: str = Depends(language),
             ctx: AppContext = Depends(get_ctx)) -> list[SiteCard]:
    with ctx.unit() as session:
        cards = []
        for row in overview_rows(session, ctx.settings, utcnow()):
            # only a site that is not simply ok needs explaining (and costs the queries)
            if row["verdict"] != "ok" or not row["agent_connected"]:
                row["problems"] = [ProblemOut(**p) for p in site_problem_list(
                    session, session.get(Site, row["id"]), row["agent_connected"], lang)]
            cards.append(SiteCard.model_validate(row))
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
class DayShare(BaseModel):
    day: str
    up_s: float
    down_s: float
    maintenance_s: float
    unknown_s: float
    #: up / (up + down); None for a day with nothing observed (shown grey)
    availability: float | None


class DeviceAvailability(BaseModel):
    id: str
    name: str
    critical: bool
    availability: float | None
    daily: list[DayShare]


class Availability(BaseModel):
    site: str
    days: list[str]
    #: the site can hold a meeting (codec, network and what the profile marks critical up)
    availability: float | None
    daily: list[DayShare]
    devices: list[DeviceAvailability]


@router.get("/sites/{site}/availability", response_model=Availability)
def availability_strip(site: str, request: Request, days: int = Query(14, ge=1, le=366),
                       lang: str = Depends(language), user: Principal = Depends(reader),
                       ctx: AppContext = Depends(get_ctx)) -> Availability:
    """Each of the last ``days`` days (site timezone): time up, down, in maintenance and unknown,
    for the site and each device, from ``central.services.availability`` (as the annual report)."""
    site_detail(site, user, ctx)          # 404 for an unknown site
    now = utcnow()
    with ctx.unit() as session:
        row = session.get(Site, site)
        assert row is not None
        bounds = availability_service.days(now, days, row.timezone)
        whole = availability_service.measure(session, row, bounds[0][0], now, now)
        per_day = [availability_service.measure(session, row, lo, hi, now) for lo, hi in bounds]
        labels = [lo.date().isoformat() for lo, _ in bounds]
        _, roles = lookups(session)

    def share(day: str, s: availability_service.Shares) -> DayShare:
        return DayShare(day=day, **s.as_dict())

    devices = [DeviceAvailability(
        id=device_id, name=catalogue.device_label(device_id, roles.get(device_id), lang),
        critical=device_id in whole.critical, availability=shares.availability,
        daily=[share(label, day.devices.get(device_id, availability_service.Shares()))
               for label, day in zip(labels, per_day, strict=True)])
        for device_id, shares in sorted(whole.devices.items())]
    return Availability(site=site, days=labels, availability=whole.site.availability,
                        daily=[share(label, day.site) for label, day in zip(labels, per_day, strict=True)],
                        devices=devices)
