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
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from central.models import CommandRow, Device, Meeting, MeetingSite, Recording, Site, utcnow
from central.services import commands
from central.services.locks import lock_meeting
from central.services.wake import wake_schedule
from contracts.messages import CallState, MeetingSchedule

ACTIVE_STATES = ("scheduled", "started")
CALL_UP = "connected"
CALL_IN_PROGRESS = frozenset({"dialing", "ringing", "connecting", "connected"})


class MeetingError(ValueError):
    """A request that does not fit the meeting's data or state (reported as 409/422)."""


@dataclass(frozen=True)
class MeetingRequest:
    title: str
    start: datetime
    end: datetime
    host_site: str
    sites: list[str]
    mode: str
    bridge_uri: str | None


# -- sites' call facts ------------------------------------------------------------------------------
def _codec(session: Session, site_id: str) -> Device | None:
    for device in session.scalars(select(Device).where(Device.site_id == site_id).order_by(Device.id)):
        if "codec" in (device.roles or []):
            return device
    return None


def _recorder(session: Session, site_id: str) -> Device | None:
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
def create(session: Session, req: MeetingRequest, actor: str, default_capacity: int) -> Meeting:
    sites = list(dict.fromkeys(req.sites))
    if req.host_site not in sites:
        sites.insert(0, req.host_site)
    known = {s.id: s for s in session.scalars(select(Site).where(Site.id.in_(sites)))}
    missing = [s for s in sites if s not in known]
    if missing:
        raise MeetingError(f"unknown site(s): {', '.join(missing)}")
    if req.end <= req.start:
        raise MeetingError("end must be after start")
    if req.mode == "bridge" and not req.bridge_uri:
        raise MeetingError("bridge mode needs bridge_uri")
    if req.mode == "host":
        capacity = multisite_capacity(session, known[req.host_site], default_capacity)
        if len(sites) - 1 > capacity:
            raise MeetingError(
                f"host site {req.host_site} can host at most {capacity} other sites, not {len(sites) - 1}"
            )
    meeting = Meeting(
        title=req.title, start=req.start, end=req.end, host_site=req.host_site, mode=req.mode,
        bridge_uri=req.bridge_uri, state="scheduled", created_by=actor,
    )
    session.add(meeting)
    session.flush()
    for site_id in sites:
        session.add(MeetingSite(meeting_id=meeting.id, site_id=site_id, call_state="idle"))
        wake_schedule(session, site_id)
    session.flush()
    return meeting


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
def start(session: Session, meeting: Meeting, actor: str, deadline_seconds: float) -> None:
    if meeting.state != "scheduled":
        raise MeetingError(f"meeting is {meeting.state}, only a scheduled meeting can start")
    meeting.state = "started"
    meeting.started_at = utcnow()
    meeting.started_by = actor
    for link in _links(session, meeting.id):
        role = "host" if link.site_id == meeting.host_site else "participant"
        args: dict[str, Any] = {"meeting_id": meeting.id, "mode": meeting.mode, "role": role}
        if meeting.mode == "host" and role == "participant":
            args["auto_answer"] = True
        _send(session, meeting, link.site_id, "prepare", args, actor, deadline_seconds)
        link.call_state = "preparing"
        link.problem = None
        wake_schedule(session, link.site_id)


def _links(session: Session, meeting_id: str) -> list[MeetingSite]:
    return list(session.scalars(
        select(MeetingSite).where(MeetingSite.meeting_id == meeting_id).order_by(MeetingSite.site_id)
    ))


def _send(
    session: Session, meeting: Meeting, site_id: str, kind: str, args: dict[str, Any], actor: str,
    deadline_seconds: float, device_id: str | None = None,
) -> CommandRow:
    # no flush per command: a meeting of many sites inserts its commands in one statement
    return commands.enqueue(
        session, site_id=site_id, kind=kind, args=args, requested_by=actor, meeting_id=meeting.id,
        device_id=device_id, deadline=commands.deadline_in(deadline_seconds), flush=False,
    )


_LOADED = "meetings_loaded"


def _loaded(session: Session, meeting_id: str) -> tuple[Meeting | None, dict[str, MeetingSite]]:
    """A meeting and its sites, read once per session: results and call states of hundreds of
    sites arrive in one batch. Kept in ``session.info`` because the identity map holds objects
    weakly (a second ``session.get`` would read the row again)."""
    cache: dict[str, tuple[Meeting | None, dict[str, MeetingSite]]] = session.info.setdefault(_LOADED, {})
    if meeting_id not in cache:
        meeting = lock_meeting(session, meeting_id)     # other instances wait: one decision per change
        cache[meeting_id] = (meeting, {link.site_id: link for link in _links(session, meeting_id)}
                             if meeting is not None else {})
    return cache[meeting_id]


def on_command_final(
    session: Session, command: CommandRow, deadline_seconds: float, default_capacity: int
) -> None:
    """Advance the meeting a finished command belongs to."""
    if command.meeting_id is None:
        return
    meeting, links = _loaded(session, command.meeting_id)
    link = links.get(command.site_id)
    if meeting is None or link is None:
        return
    ok = command.state == "succeeded"
    problem = None if ok else f"{command.kind} {command.state}: {command.error or 'no reason given'}"
    handler = {
        "prepare": _after_prepare, "connect": _after_connect, "record_start": _after_record_start,
        "record_stop": _after_record_stop, "disconnect": _after_disconnect,
    }.get(command.kind)
    if handler is not None:
        handler(session, meeting, link, command, ok, problem, deadline_seconds, default_capacity)


def _after_prepare(
    session: Session, meeting: Meeting, link: MeetingSite, command: CommandRow, ok: bool,
    problem: str | None, deadline_seconds: float, default_capacity: int,
) -> None:
    if meeting.state != "started":
        return
    if command.state == "expired":
        link.call_state, link.problem = "failed", problem
    else:
        link.call_state = "prepared"
        link.problem = problem     # a failed prepare still lets the site try to join
    if meeting.mode == "bridge":
        if command.state != "expired":
            _send(session, meeting, link.site_id, "connect",
                  {"meeting_id": meeting.id, "mode": "bridge", "bridge_uri": meeting.bridge_uri},
                  meeting.started_by or "system", deadline_seconds)
            link.call_state = "dialing"
        return
    _maybe_host_dials(session, meeting, deadline_seconds, default_capacity)


def _maybe_host_dials(
    session: Session, meeting: Meeting, deadline_seconds: float, default_capacity: int
) -> None:
    links = _links(session, meeting.id)
    if any(link.call_state == "preparing" for link in links):
        return
    host = next(link for link in links if link.site_id == meeting.host_site)
    if host.call_state != "prepared":
        return
    host_site = session.get(Site, meeting.host_site)
    assert host_site is not None
    capacity = multisite_capacity(session, host_site, default_capacity)
    participants: list[dict[str, str]] = []
    for link in links:
        if link is host or link.call_state != "prepared":
            continue
        site = session.get(Site, link.site_id)
        uri = call_uri(session, site) if site is not None else None
        if uri is None:
            link.call_state, link.problem = "failed", "no call URI known for this site's codec"
        elif len(participants) >= capacity:
            link.call_state, link.problem = "failed", f"over the host codec's multisite capacity ({capacity})"
        else:
            participants.append({"site": link.site_id, "uri": uri})
            link.call_state = "ringing"
    if not participants:
        host.call_state, host.problem = "failed", "no site to dial"
        return
    _send(session, meeting, host.site_id, "connect",
          {"meeting_id": meeting.id, "mode": "host", "participants": participants},
          meeting.started_by or "system", deadline_seconds)
    host.call_state = "dialing"


def _after_connect(
    session: Session, meeting: Meeting, link: MeetingSite, command: CommandRow, ok: bool,
    problem: str | None, deadline_seconds: float, default_capacity: int,
) -> None:
    if meeting.state != "started":
        return
    if not ok:
        link.call_state, link.problem = "failed", problem
        return
    reported = command.result.get("call_state")
    link.call_state = str(reported) if reported else CALL_UP
    link.problem = None
    if link.site_id == meeting.host_site and link.recording is None:
        recorder = _recorder(session, link.site_id)
        _send(session, meeting, link.site_id, "record_start", {"meeting_id": meeting.id},
              meeting.started_by or "system", deadline_seconds, recorder.id if recorder else None)
        link.recording = "starting"


def _after_record_start(
    session: Session, meeting: Meeting, link: MeetingSite, command: CommandRow, ok: bool,
    problem: str | None, deadline_seconds: float, default_capacity: int,
) -> None:
    if link.recording == "starting":
        link.recording = "recording" if ok else "failed"
    if not ok:
        link.problem = problem


def _after_disconnect(
    session: Session, meeting: Meeting, link: MeetingSite, command: CommandRow, ok: bool,
    problem: str | None, deadline_seconds: float, default_capacity: int,
) -> None:
    link.call_state = "disconnected" if ok else "failed"
    if not ok:
        link.problem = problem


RECORDING_FIELDS = ("file", "size", "duration", "sha256")


def _after_record_stop(
    session: Session, meeting: Meeting, link: MeetingSite, command: CommandRow, ok: bool,
    problem: str | None, deadline_seconds: float, default_capacity: int,
) -> None:
    if not ok:
        link.recording, link.problem = "failed", problem
        return
    result = command.result
    missing = [name for name in RECORDING_FIELDS if name not in result]
    try:
        if missing:
            raise ValueError(f"missing {', '.join(missing)}")
        recording = Recording(
            meeting_id=meeting.id, site_id=link.site_id, file=str(result["file"]), size=int(result["size"]),
            duration_s=float(result["duration"]), sha256=str(result["sha256"]).lower(),
        )
        if len(recording.sha256) != 64 or any(c not in "0123456789abcdef" for c in recording.sha256):
            raise ValueError("sha256 is not 64 hex digits")
    except (ValueError, TypeError) as exc:
        link.recording, link.problem = "failed", f"record_stop result unusable: {exc}"
        return
    session.add(recording)
    link.recording = "stopped"


# -- call state from agent reports ------------------------------------------------------------------
def on_call_state(session: Session, site_id: str, call: CallState) -> None:
    meeting_id = call.meeting_id or _current_meeting_id(session, site_id)
    if meeting_id is None:
        return
    meeting, links = _loaded(session, meeting_id)
    link = links.get(site_id)
    if link is None or meeting is None:
        return
    link.call = call.model_dump(mode="json")
    if call.state in CALL_IN_PROGRESS:
        if meeting.state == "started":
            link.call_state = call.state
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
    if meeting.state != "started":
        raise MeetingError(f"meeting is {meeting.state}, only a started meeting can stop")
    meeting.state = "stopped"
    meeting.stopped_at = utcnow()
    meeting.stopped_by = actor
    for link in _links(session, meeting.id):
        _send(session, meeting, link.site_id, "disconnect", {"meeting_id": meeting.id}, actor,
              deadline_seconds)
        link.call_state = "disconnecting" if link.call_state != "failed" else link.call_state
        if link.site_id == meeting.host_site and link.recording in ("starting", "recording"):
            recorder = _recorder(session, link.site_id)
            _send(session, meeting, link.site_id, "record_stop", {"meeting_id": meeting.id}, actor,
                  deadline_seconds, recorder.id if recorder else None)
            link.recording = "stopping"
        wake_schedule(session, link.site_id)
