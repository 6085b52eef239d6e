"""What a booking must satisfy: known sites, at least two of them, a time that ends in the future,
a bridge (the meeting's or the organisation's default), the host's capacity, and no other meeting
holding one of its sites at the same time (unless the clerk overrides that with a reason).

Kept apart from orchestration (meetings.py) so creating, editing and starting apply one rule set.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from central.models import Meeting, MeetingSite, Site, utcnow

#: meetings that hold their sites' rooms
ACTIVE_STATES = ("scheduled", "started")


class MeetingError(ValueError):
    """A request that does not fit the meeting's data or state (reported as 409/422)."""


@dataclass(frozen=True)
class Conflict:
    """Another meeting that holds some of the same sites at an overlapping time."""

    id: str
    title: str
    start: datetime
    end: datetime
    state: str
    sites: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "start": self.start.isoformat(),
                "end": self.end.isoformat(), "state": self.state, "sites": self.sites}


class MeetingConflict(MeetingError):
    """The booking overlaps other meetings at shared sites (409, names them)."""

    code = "meeting_conflict"

    def __init__(self, conflicts: list[Conflict]) -> None:
        self.conflicts = conflicts
        names = "; ".join(f"{c.title!r} ({c.id}, {c.start:%Y-%m-%d %H:%M}-{c.end:%H:%M} UTC) at "
                          f"{', '.join(c.sites)}" for c in conflicts)
        super().__init__(f"overlaps {names}")

    def detail(self) -> dict[str, Any]:
        """The 409 body: ``detail`` (the message), ``code`` and the ``conflicts``."""
        return {"detail": str(self), "code": self.code, "conflicts": [c.as_dict() for c in self.conflicts]}


@dataclass(frozen=True)
class MeetingRequest:
    title: str
    start: datetime
    end: datetime
    host_site: str
    sites: list[str]
    mode: str
    bridge_uri: str | None
    #: None follows the organisation's setting
    auto_start: bool | None = None
    #: book over conflicting meetings; needs ``force_reason``
    force: bool = False
    force_reason: str | None = None
    #: the meeting this request edits (it does not conflict with itself)
    replaces: str | None = None
    #: ids of the meetings overridden (filled by ``validate``)
    overridden: list[str] = field(default_factory=list)


def all_sites(req: MeetingRequest) -> list[str]:
    """The host first, then the other sites, each once."""
    return list(dict.fromkeys([req.host_site, *req.sites]))


def conflicts(session: Session, sites: list[str], start: datetime, end: datetime,
              exclude: str | None = None, now: datetime | None = None) -> list[Conflict]:
    """Active meetings holding one of ``sites`` between ``start`` and ``end``. A started meeting
    holds its rooms until it is stopped, also past its planned end."""
    now = now or utcnow()
    query = (
        select(Meeting, MeetingSite.site_id)
        .join(MeetingSite, MeetingSite.meeting_id == Meeting.id)
        .where(MeetingSite.site_id.in_(sites), Meeting.state.in_(ACTIVE_STATES), Meeting.start < end,
               or_(Meeting.end > start, (Meeting.state == "started") & (start < now)))
        .order_by(Meeting.start, Meeting.id, MeetingSite.site_id)
    )
    if exclude:
        query = query.where(Meeting.id != exclude)
    found: dict[str, Conflict] = {}
    for meeting, site_id in session.execute(query):
        if meeting.id not in found:
            found[meeting.id] = Conflict(meeting.id, meeting.title, meeting.start, meeting.end,
                                         meeting.state, [])
        found[meeting.id].sites.append(site_id)
    return list(found.values())


def check_conflicts(session: Session, req: MeetingRequest, sites: list[str], start: datetime,
                    end: datetime, now: datetime | None = None) -> list[Conflict]:
    """Raise ``MeetingConflict`` unless there is none or the request forces it with a reason;
    returns the conflicts that were overridden."""
    found = conflicts(session, sites, start, end, exclude=req.replaces, now=now)
    if not found:
        return []
    if not req.force:
        raise MeetingConflict(found)
    if not (req.force_reason or "").strip():
        raise MeetingError("booking over a conflicting meeting needs a reason (force_reason)")
    return found


def validate(session: Session, req: MeetingRequest, *, default_capacity: int, default_bridge: str = "",
             now: datetime | None = None) -> tuple[list[str], str | None, list[Conflict]]:
    """The sites (host first), the bridge URI to use and the conflicts overridden; raises
    ``MeetingError`` (422) or ``MeetingConflict`` (409)."""
    from central.services.meetings import multisite_capacity  # orchestration owns the codec facts

    now = now or utcnow()
    sites = all_sites(req)
    known = {s.id: s for s in session.scalars(select(Site).where(Site.id.in_(sites)))}
    missing = [s for s in sites if s not in known]
    if missing:
        raise MeetingError(f"unknown site(s): {', '.join(missing)}")
    if len(sites) < 2:
        raise MeetingError("a meeting needs at least two sites: the host and one more")
    if req.end <= req.start:
        raise MeetingError("end must be after start")
    if req.end <= now:
        raise MeetingError("the meeting must end in the future")
    bridge = req.bridge_uri or None
    if req.mode == "bridge" and not bridge:
        bridge = default_bridge or None
        if not bridge:
            raise MeetingError("bridge mode needs bridge_uri: no default bridge is set for the organisation "
                               "(setting default_bridge_uri)")
    if req.mode == "host":
        bridge = None
        capacity = multisite_capacity(session, known[req.host_site], default_capacity)
        if len(sites) - 1 > capacity:
            raise MeetingError(
                f"host site {req.host_site} can host at most {capacity} other sites, not {len(sites) - 1}"
            )
    overridden = check_conflicts(session, req, sites, req.start, req.end, now)
    return sites, bridge, overridden
