"""Meeting orchestration: schedule to agents, prepare -> connect -> record, stop -> archive.

Start sends ``prepare`` to every site. In bridge mode each site gets ``connect`` (dial the bridge)
as soon as its prepare has finished. In host mode the other sites prepare to answer, and once all
have finished the host gets one ``connect`` with the far ends' URIs, bounded by its multisite
capacity. When the host site's call is up its recorder gets ``record_start``. Stop sends
``disconnect`` everywhere and ``record_stop`` at the host; that result is archived.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from central.models import CommandRow, Device, Meeting, MeetingSite, Site, utcnow
from central.services import commands
from central.services.locks import lock_meeting
from central.services.meeting_rules import (
    ACTIVE_STATES,
    MeetingConflict,
    MeetingError,
    MeetingRequest,
    conflicts,
    validate,
)
from central.services.wake import wake_schedule
from contracts.messages import CallState, MeetingSchedule

CALL_UP = "connected"
CALL_IN_PROGRESS = frozenset({"dialing", "ringing", "connecting", "connected"})

__all__ = ["ACTIVE_STATES", "MeetingConflict", "MeetingError", "MeetingRequest"]


# -- sites' call facts ------------------------------------------------------------------------------
def _codec(session: Session, site_id: str) -> Device | None:
    for device in session.scalars(select(Device).where(Device.site_id == site_id).order_by(Device.id)):
        if "codec" in (device.roles or []):
            return device
    return None


def recorder(session: Session, site_id: str) -> Device | None:
    for device in session.scalars(select(Device).where(Device.site_id == site_id).order_by(Device.id)):
        if "recorder" in (device.roles or []):
            return device
    return None


def call_uri(session: Session, site: Site) -> str | None:
    if site.codec_uri:
        return site.codec_uri
    codec = _codec(session, site.id)
    if codec is None:
        return None
    uri = codec.capabilities.get("uri") or codec.identity.get("uri")
    return str(uri) if uri else None


def multisite_capacity(session: Session, site: Site, default: int) -> int:
    if site.multisite_capacity:
        return site.multisite_capacity
    codec = _codec(session, site.id)
    if codec is not None:
        value = codec.capabilities.get("multisite_capacity")
        if isinstance(value, int) and value > 0:
            return value
    return default


# -- create and schedule --------------------------------------------------------------------------
def create(session: Session, req: MeetingRequest, actor: str, default_capacity: int, *,
           default_bridge: str = "") -> Meeting:
    """A scheduled meeting, after ``meeting_rules.validate``; ``req.overridden`` is not used: the
    conflicts overridden are in ``meeting.override_reason`` and returned by ``overridden_by``."""
    sites, bridge, overridden = validate(session, req, default_capacity=default_capacity,
                                         default_bridge=default_bridge)
    meeting = Meeting(
        title=req.title, start=req.start, end=req.end, host_site=req.host_site, mode=req.mode,
        bridge_uri=bridge, state="scheduled", created_by=actor, auto_start=req.auto_start,
        override_reason=req.force_reason.strip() if overridden and req.force_reason else None,
    )
    session.add(meeting)
    session.flush()
    session.info.setdefault(_OVERRIDDEN, {})[meeting.id] = overridden
    for site_id in sites:
        session.add(MeetingSite(meeting_id=meeting.id, site_id=site_id, call_state="idle"))
        wake_schedule(session, site_id)
    session.flush()
    return meeting


_OVERRIDDEN = "meetings_overridden"


def overridden_by(session: Session, meeting: Meeting) -> list[dict[str, Any]]:
    """The conflicting meetings ``create`` booked over (for the audit record)."""
    return [c.as_dict() for c in session.info.get(_OVERRIDDEN, {}).get(meeting.id, [])]


def site_ids(session: Session, meeting_id: str) -> list[str]:
    return list(session.scalars(
        select(MeetingSite.site_id).where(MeetingSite.meeting_id == meeting_id).order_by(MeetingSite.site_id)
    ))


def schedule_for_site(session: Session, site_id: str, now: datetime) -> list[MeetingSchedule]:
    return schedules_for_sites(session, [site_id], now)[site_id]


def schedules_for_sites(
    session: Session, site_ids: Iterable[str], now: datetime
) -> dict[str, list[MeetingSchedule]]:
    """Each site's active meetings, oldest start first: two queries for any number of sites."""
    out: dict[str, list[MeetingSchedule]] = {site: [] for site in site_ids}
    if not out:
        return out
    pairs = session.execute(
        select(MeetingSite.site_id, Meeting)
        .join(Meeting, MeetingSite.meeting_id == Meeting.id)
        .where(MeetingSite.site_id.in_(list(out)), Meeting.state.in_(ACTIVE_STATES), Meeting.end > now)
        .order_by(Meeting.start, Meeting.id)
    ).all()
    members: dict[str, list[str]] = defaultdict(list)
    for meeting_id, member in session.execute(
        select(MeetingSite.meeting_id, MeetingSite.site_id)
        .where(MeetingSite.meeting_id.in_({m.id for _, m in pairs}))
        .order_by(MeetingSite.site_id)
    ):
        members[meeting_id].append(member)
    built: dict[str, MeetingSchedule] = {}
    for site, m in pairs:
        if m.id not in built:
            built[m.id] = MeetingSchedule(
                id=m.id, title=m.title, start=m.start, end=m.end, host_site=m.host_site,
                sites=members[m.id], mode=m.mode, bridge_uri=m.bridge_uri,  # type: ignore[arg-type]
            )
        out[site].append(built[m.id])
    return out


# -- start ------------------------------------------------------------------------------------------
def start(session: Session, meeting: Meeting, actor: str, deadline_seconds: float, *,
          force: bool = False, reason: str | None = None) -> list[dict[str, Any]]:
    """Send ``prepare`` everywhere. A site still held by another started meeting (one that ran
    past its planned end, or was booked over) refuses the start with ``MeetingConflict`` unless
    forced with a reason; returns the conflicts overridden."""
    if meeting.state != "scheduled":
        raise MeetingError(f"meeting is {meeting.state}, only a scheduled meeting can start")
    links = links_of(session, meeting.id)
    now = utcnow()
    running = [c for c in conflicts(session, [link.site_id for link in links], now, max(meeting.end, now),
                                    exclude=meeting.id, now=now) if c.state == "started"]
    if running and not force:
        raise MeetingConflict(running)
    if running and not (reason or "").strip():
        raise MeetingError("starting while another meeting holds a site needs a reason")
    meeting.state = "started"
    meeting.started_at = now
    meeting.started_by = actor
    for link in links:
        prepare_site(session, meeting, link, actor, deadline_seconds)
    return [c.as_dict() for c in running]


def prepare_site(session: Session, meeting: Meeting, link: MeetingSite, actor: str,
                 deadline_seconds: float, *, join: bool = False) -> None:
    """``prepare`` for one site; ``join`` marks a site added to a meeting already under way."""
    role = "host" if link.site_id == meeting.host_site else "participant"
    args: dict[str, Any] = {"meeting_id": meeting.id, "mode": meeting.mode, "role": role}
    if meeting.mode == "host" and role == "participant":
        args["auto_answer"] = True
    if join:
        args["join"] = True
    send(session, meeting, link.site_id, "prepare", args, actor, deadline_seconds)
    link.call_state = "preparing"
    link.problem = link.problem_code = None
    link.preparation = None
    wake_schedule(session, link.site_id)


def links_of(session: Session, meeting_id: str) -> list[MeetingSite]:
    return list(session.scalars(
        select(MeetingSite).where(MeetingSite.meeting_id == meeting_id).order_by(MeetingSite.site_id)
    ))


def send(
    session: Session, meeting: Meeting, site_id: str, kind: str, args: dict[str, Any], actor: str,
    deadline_seconds: float, device_id: str | None = None,
) -> CommandRow:
    # no flush per command: a meeting of many sites inserts its commands in one statement
    return commands.enqueue(
        session, site_id=site_id, kind=kind, args=args, requested_by=actor, meeting_id=meeting.id,
        device_id=device_id, deadline=commands.deadline_in(deadline_seconds), flush=False,
    )


_LOADED = "meetings_loaded"


def loaded(session: Session, meeting_id: str) -> tuple[Meeting | None, dict[str, MeetingSite]]:
    """A meeting and its sites, read once per session: results and call states of hundreds of
    sites arrive in one batch. Kept in ``session.info`` because the identity map holds objects
    weakly (a second ``session.get`` would read the row again)."""
    cache: dict[str, tuple[Meeting | None, dict[str, MeetingSite]]] = session.info.setdefault(_LOADED, {})
    if meeting_id not in cache:
        meeting = lock_meeting(session, meeting_id)     # other instances wait: one decision per change
        cache[meeting_id] = (meeting, {link.site_id: link for link in links_of(session, meeting_id)}
                             if meeting is not None else {})
    return cache[meeting_id]


def on_command_final(
    session: Session, command: CommandRow, deadline_seconds: float, default_capacity: int
) -> None:
    """Advance the meeting a finished command belongs to (meeting_progress.py)."""
    if command.meeting_id is None:
        return
    meeting, links = loaded(session, command.meeting_id)
    link = links.get(command.site_id)
    if meeting is None or link is None:
        return
    from central.services import meeting_progress

    meeting_progress.after(session, meeting, link, command, deadline_seconds, default_capacity)


# -- call state from agent reports ------------------------------------------------------------------
def on_call_state(session: Session, site_id: str, call: CallState) -> None:
    meeting_id = call.meeting_id or _current_meeting_id(session, site_id)
    if meeting_id is None:
        return
    meeting, links = loaded(session, meeting_id)
    link = links.get(site_id)
    if link is None or meeting is None:
        return
    link.call = call.model_dump(mode="json")
    if call.state in CALL_IN_PROGRESS:
        if meeting.state == "started" and link.call_state != "dropped":
            link.call_state = call.state
            if call.state == CALL_UP:
                link.problem = link.problem_code = None
    elif call.state in ("idle", "disconnected"):
        if link.call_state in CALL_IN_PROGRESS or link.call_state == "disconnecting":
            link.call_state = "disconnected"


def on_recording_event(session: Session, site_id: str, kind: str, data: dict[str, Any]) -> None:
    meeting_id = data.get("meeting_id") or _current_meeting_id(session, site_id)
    link = session.get(MeetingSite, (meeting_id, site_id)) if meeting_id else None
    if link is None:
        return
    if kind == "recording_started":
        link.recording = "recording"
    elif kind == "recording_stopped" and link.recording in ("starting", "recording"):
        link.recording = "stopping"


def _current_meeting_id(session: Session, site_id: str) -> str | None:
    started = session.scalars(
        select(Meeting.id)
        .join(MeetingSite, MeetingSite.meeting_id == Meeting.id)
        .where(MeetingSite.site_id == site_id, Meeting.state == "started")
    ).all()
    return started[0] if len(started) == 1 else None


# -- stop -------------------------------------------------------------------------------------------
def stop(session: Session, meeting: Meeting, actor: str, deadline_seconds: float) -> None:
    """Hang up this meeting's calls and stop its recording; nothing of another meeting."""
    if meeting.state != "started":
        raise MeetingError(f"meeting is {meeting.state}, only a started meeting can stop")
    meeting.state = "stopped"
    meeting.stopped_at = utcnow()
    meeting.stopped_by = actor
    for link in links_of(session, meeting.id):
        # the agent hangs up only this meeting's calls: a site also in another meeting stays in it
        send(session, meeting, link.site_id, "disconnect", {"meeting_id": meeting.id}, actor,
             deadline_seconds)
        if link.call_state not in ("failed", "dropped"):
            link.call_state = "disconnecting"
        if link.site_id == meeting.host_site and link.recording in ("starting", "recording"):
            rec = recorder(session, link.site_id)
            send(session, meeting, link.site_id, "record_stop", {"meeting_id": meeting.id}, actor,
                 deadline_seconds, rec.id if rec else None)
            link.recording = "stopping"
        wake_schedule(session, link.site_id)
