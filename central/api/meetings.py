"""Meetings: schedule, read with per-site readiness and call state, start, stop, rate."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Query
from sqlalchemy import select
from sqlalchemy.orm import Session

from central.api.deps import Principal, get_ctx, reader, secretariat
from central.api.schemas import (
    Created,
    MeetingDetailOut,
    MeetingIn,
    MeetingOut,
    MeetingSiteOut,
    RecordingOut,
    SatisfactionIn,
)
from central.context import AppContext
from central.models import Meeting, MeetingSite, Recording
from central.services import audit, meetings
from central.services.locks import lock_meeting

router = APIRouter(prefix="/api/v1/meetings", tags=["meetings"])


def _get(session: Session, meeting_id: str) -> Meeting:
    row = session.get(Meeting, meeting_id)
    if row is None:
        raise HTTPException(404, f"no meeting {meeting_id!r}")
    return row


@router.post("", response_model=Created, status_code=201)
def create_meeting(body: MeetingIn, user: Principal = Depends(secretariat),
                   ctx: AppContext = Depends(get_ctx)) -> Created:
    request = meetings.MeetingRequest(title=body.title, start=body.start, end=body.end,
                                      host_site=body.host_site, sites=body.sites, mode=body.mode,
                                      bridge_uri=body.bridge_uri)
    try:
        with ctx.unit() as session:
            row = meetings.create(session, request, user.username, ctx.settings.default_multisite_capacity)
            audit.record(session, actor=user.username, action="meeting.create", target=row.id,
                         outcome="succeeded", detail={"title": body.title, "sites": body.sites})
            return Created(id=row.id)
    except meetings.MeetingError as exc:
        raise HTTPException(422, str(exc)) from exc


@router.get("", response_model=list[MeetingOut])
def list_meetings(state: str | None = None, limit: int = Query(100, ge=1, le=1000),
                  _: Principal = Depends(reader), ctx: AppContext = Depends(get_ctx)) -> list[Meeting]:
    query = select(Meeting).order_by(Meeting.start.desc()).limit(limit)
    if state:
        query = query.where(Meeting.state == state)
    with ctx.unit() as session:
        return list(session.scalars(query))


@router.get("/{meeting_id}", response_model=MeetingDetailOut)
def meeting_detail(meeting_id: str, _: Principal = Depends(reader),
                   ctx: AppContext = Depends(get_ctx)) -> MeetingDetailOut:
    with ctx.unit() as session:
        row = _get(session, meeting_id)
        links = session.scalars(
            select(MeetingSite).where(MeetingSite.meeting_id == meeting_id).order_by(MeetingSite.site_id)
        )
        recordings = session.scalars(select(Recording).where(Recording.meeting_id == meeting_id))
        return MeetingDetailOut(
            **MeetingOut.model_validate(row).model_dump(),
            sites=[MeetingSiteOut.model_validate(link) for link in links],
            recordings=[RecordingOut.model_validate(r) for r in recordings],
        )


def _transition(meeting_id: str, user: Principal, ctx: AppContext, action: str) -> MeetingOut:
    deadline = ctx.settings.command_deadline_seconds
    try:
        with ctx.unit() as session:
            lock_meeting(session, meeting_id)   # one start/stop at a time across instances
            row = _get(session, meeting_id)
            if action == "start":
                meetings.start(session, row, user.username, deadline)
            else:
                meetings.stop(session, row, user.username, deadline)
            audit.record(session, actor=user.username, action=f"meeting.{action}", target=meeting_id,
                         outcome="succeeded")
            return MeetingOut.model_validate(row)
    except meetings.MeetingError as exc:
        with ctx.unit() as session:
            audit.record(session, actor=user.username, action=f"meeting.{action}", target=meeting_id,
                         outcome="refused", detail={"reason": str(exc)})
        raise HTTPException(409, str(exc)) from exc


@router.post("/{meeting_id}/start", response_model=MeetingOut, status_code=202)
def start_meeting(meeting_id: str, user: Principal = Depends(secretariat),
                  ctx: AppContext = Depends(get_ctx)) -> MeetingOut:
    return _transition(meeting_id, user, ctx, "start")


@router.post("/{meeting_id}/stop", response_model=MeetingOut, status_code=202)
def stop_meeting(meeting_id: str, user: Principal = Depends(secretariat),
                 ctx: AppContext = Depends(get_ctx)) -> MeetingOut:
    return _transition(meeting_id, user, ctx, "stop")


@router.put("/{meeting_id}/sites/{site}/satisfaction", response_model=MeetingSiteOut)
def rate_meeting(meeting_id: str, site: str, body: SatisfactionIn, user: Principal = Depends(secretariat),
                 ctx: AppContext = Depends(get_ctx)) -> MeetingSite:
    with ctx.unit() as session:
        link = session.get(MeetingSite, (meeting_id, site))
        if link is None:
            raise HTTPException(404, f"site {site!r} is not in meeting {meeting_id!r}")
        link.satisfaction = body.rating
        audit.record(session, actor=user.username, action="meeting.rate", target=f"{meeting_id}/{site}",
                     outcome="succeeded", detail={"rating": body.rating})
        session.flush()
        return link
