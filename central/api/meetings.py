"""Meetings: schedule, read with per-site readiness and call state, start, stop, rate, and control
inside a running meeting (redial, drop, add a site, mute).

Errors: 404 unknown meeting or site; 409 a conflicting meeting (``detail.code`` is
``meeting_conflict``, ``detail.conflicts`` names each) or a state that does not allow the action;
422 a booking that breaks a rule (past end, one site, no bridge, over the host's capacity).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, HTTPException, Query
from sqlalchemy import select
from sqlalchemy.orm import Session

from central.api.deps import Principal, get_ctx, reader, secretariat
from central.api.schemas import (
    Created,
    MeetingDetailOut,
    MeetingIn,
    MeetingOut,
    MeetingSettingsOut,
    MeetingSiteAddIn,
    MeetingSiteOut,
    MeetingStartIn,
    MuteIn,
    RecordingOut,
    SatisfactionIn,
)
from central.context import AppContext
from central.models import Meeting, MeetingSite, Recording
from central.services import audit, meeting_control, meetings
from central.services.locks import lock_meeting

router = APIRouter(prefix="/api/v1/meetings", tags=["meetings"])


def _get(session: Session, meeting_id: str) -> Meeting:
    row = session.get(Meeting, meeting_id)
    if row is None:
        raise HTTPException(404, f"no meeting {meeting_id!r}")
    return row


def _conflict(exc: meetings.MeetingConflict) -> HTTPException:
    return HTTPException(409, exc.detail())


@router.get("/settings", response_model=MeetingSettingsOut)
def meeting_settings(_: Principal = Depends(reader),
                     ctx: AppContext = Depends(get_ctx)) -> MeetingSettingsOut:
    """What the booking form needs to know: the default bridge and whether meetings start by themselves."""
    return MeetingSettingsOut(default_bridge_uri=ctx.settings.default_bridge_uri or None,
                              auto_start=ctx.settings.auto_start_meetings)


@router.post("", response_model=Created, status_code=201)
def create_meeting(body: MeetingIn, user: Principal = Depends(secretariat),
                   ctx: AppContext = Depends(get_ctx)) -> Created:
    request = meetings.MeetingRequest(title=body.title, start=body.start, end=body.end,
                                      host_site=body.host_site, sites=body.sites, mode=body.mode,
                                      bridge_uri=body.bridge_uri, auto_start=body.auto_start,
                                      force=body.force, force_reason=body.force_reason)
    try:
        with ctx.unit() as session:
            row = meetings.create(session, request, user.username, ctx.settings.default_multisite_capacity,
                                  default_bridge=ctx.settings.default_bridge_uri)
            detail: dict[str, Any] = {"title": body.title, "sites": body.sites}
            overridden = meetings.overridden_by(session, row)
            if overridden:
                detail.update(overridden=overridden, reason=row.override_reason)
                audit.record(session, actor=user.username, action="meeting.conflict_override", target=row.id,
                             outcome="succeeded", detail={"reason": row.override_reason,
                                                          "conflicts": overridden})
            audit.record(session, actor=user.username, action="meeting.create", target=row.id,
                         outcome="succeeded", detail=detail)
            return Created(id=row.id)
    except meetings.MeetingConflict as exc:
        raise _conflict(exc) from exc
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


def _refused(ctx: AppContext, user: Principal, action: str, target: str, exc: Exception) -> None:
    with ctx.unit() as session:
        audit.record(session, actor=user.username, action=action, target=target, outcome="refused",
                     detail={"reason": str(exc)})


def _transition(meeting_id: str, user: Principal, ctx: AppContext, action: str,
                body: MeetingStartIn | None = None) -> MeetingOut:
    deadline = ctx.settings.command_deadline_seconds
    try:
        with ctx.unit() as session:
            lock_meeting(session, meeting_id)   # one start/stop at a time across instances
            row = _get(session, meeting_id)
            detail: dict[str, Any] = {}
            if action == "start":
                force = body.force if body else False
                reason = body.reason if body else None
                overridden = meetings.start(session, row, user.username, deadline, force=force, reason=reason)
                if overridden:
                    detail = {"overridden": overridden, "reason": reason}
            else:
                meetings.stop(session, row, user.username, deadline)
            audit.record(session, actor=user.username, action=f"meeting.{action}", target=meeting_id,
                         outcome="succeeded", detail=detail)
            return MeetingOut.model_validate(row)
    except meetings.MeetingError as exc:
        _refused(ctx, user, f"meeting.{action}", meeting_id, exc)
        if isinstance(exc, meetings.MeetingConflict):
            raise _conflict(exc) from exc
        raise HTTPException(409, str(exc)) from exc


@router.post("/{meeting_id}/start", response_model=MeetingOut, status_code=202)
def start_meeting(meeting_id: str, body: MeetingStartIn | None = Body(None),
                  user: Principal = Depends(secretariat), ctx: AppContext = Depends(get_ctx)) -> MeetingOut:
    return _transition(meeting_id, user, ctx, "start", body)


@router.post("/{meeting_id}/stop", response_model=MeetingOut, status_code=202)
def stop_meeting(meeting_id: str, user: Principal = Depends(secretariat),
                 ctx: AppContext = Depends(get_ctx)) -> MeetingOut:
    return _transition(meeting_id, user, ctx, "stop")


# -- control inside a meeting -----------------------------------------------------------------------
def _control(meeting_id: str, site: str, user: Principal, ctx: AppContext, action: str,
             detail: dict[str, Any], run: Any) -> MeetingSiteOut:
    """Run one control action, audited as ``meeting.<action>`` on ``<meeting>/<site>``."""
    target = f"{meeting_id}/{site}"
    try:
        with ctx.unit() as session:
            row = _get(session, meeting_id)
            extra = run(session, row) or {}
            audit.record(session, actor=user.username, action=f"meeting.{action}", target=target,
                         outcome="succeeded", detail={**detail, **extra})
            session.flush()
            link = session.get(MeetingSite, (meeting_id, site))
            assert link is not None
            return MeetingSiteOut.model_validate(link)
    except meeting_control.NotInMeeting as exc:
        raise HTTPException(404, str(exc)) from exc
    except meetings.MeetingError as exc:
        _refused(ctx, user, f"meeting.{action}", target, exc)
        if isinstance(exc, meetings.MeetingConflict):
            raise _conflict(exc) from exc
        raise HTTPException(409, str(exc)) from exc


@router.post("/{meeting_id}/sites/{site}/redial", response_model=MeetingSiteOut, status_code=202)
def redial_site(meeting_id: str, site: str, user: Principal = Depends(secretariat),
                ctx: AppContext = Depends(get_ctx)) -> MeetingSiteOut:
    deadline, capacity = ctx.settings.command_deadline_seconds, ctx.settings.default_multisite_capacity
    return _control(meeting_id, site, user, ctx, "redial", {}, lambda session, row: meeting_control.redial(
        session, row, site, user.username, deadline, capacity))


@router.post("/{meeting_id}/sites/{site}/drop", response_model=MeetingSiteOut, status_code=202)
def drop_site(meeting_id: str, site: str, user: Principal = Depends(secretariat),
              ctx: AppContext = Depends(get_ctx)) -> MeetingSiteOut:
    deadline = ctx.settings.command_deadline_seconds
    return _control(meeting_id, site, user, ctx, "drop", {}, lambda session, row: meeting_control.drop(
        session, row, site, user.username, deadline))


@router.post("/{meeting_id}/sites/{site}/mute", response_model=MeetingSiteOut, status_code=202)
def mute_site(meeting_id: str, site: str, body: MuteIn, user: Principal = Depends(secretariat),
              ctx: AppContext = Depends(get_ctx)) -> MeetingSiteOut:
    deadline = ctx.settings.command_deadline_seconds
    return _control(
        meeting_id, site, user, ctx, "mute" if body.on else "unmute", {"on": body.on},
        lambda session, row: meeting_control.mute(session, row, site, body.on, user.username, deadline))


@router.post("/{meeting_id}/sites", response_model=MeetingSiteOut, status_code=201)
def add_site(meeting_id: str, body: MeetingSiteAddIn, user: Principal = Depends(secretariat),
             ctx: AppContext = Depends(get_ctx)) -> MeetingSiteOut:
    settings = ctx.settings

    def run(session: Session, row: Meeting) -> dict[str, Any]:
        overridden = meeting_control.add_site(
            session, row, body.site, user.username, settings.command_deadline_seconds,
            settings.default_multisite_capacity, force=body.force, reason=body.reason)
        return {"overridden": overridden, "reason": body.reason} if overridden else {}

    return _control(meeting_id, body.site, user, ctx, "add_site", {}, run)


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
