"""Control inside a running meeting, for the secretariat: redial, drop or add one site, mute and
unmute a site's microphones. Each queues commands for the agents; the meeting moves on from their
results (meeting_progress.py). Refusals are ``MeetingError`` (409) with the reason.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from central.models import Meeting, MeetingSite, Site, utcnow
from central.services.meeting_progress import host_dials
from central.services.meeting_rules import MeetingConflict, MeetingError, conflicts
from central.services.meetings import links_of, multisite_capacity, prepare_site, send
from central.services.wake import wake_schedule


class NotInMeeting(LookupError):
    """The site is not part of the meeting (404)."""


def _started(meeting: Meeting, what: str) -> None:
    if meeting.state != "started":
        raise MeetingError(f"meeting is {meeting.state}: only a started meeting can {what}")


def _link(session: Session, meeting: Meeting, site: str) -> MeetingSite:
    link = session.get(MeetingSite, (meeting.id, site))
    if link is None:
        raise NotInMeeting(f"site {site!r} is not in meeting {meeting.id!r}")
    return link


def redial(session: Session, meeting: Meeting, site: str, actor: str, deadline_seconds: float,
           default_capacity: int) -> None:
    """Dial the site into the meeting again (also a dropped one); its old calls of this meeting
    are hung up first by the agent, calls of other meetings are left alone."""
    _started(meeting, "redial a site")
    link = _link(session, meeting, site)
    link.problem = link.problem_code = None
    if meeting.mode == "bridge":
        send(session, meeting, site, "connect",
             {"meeting_id": meeting.id, "mode": "bridge", "bridge_uri": meeting.bridge_uri, "redial": True},
             actor, deadline_seconds)
        link.call_state = "dialing"
    elif site == meeting.host_site:
        far = [other for other in links_of(session, meeting.id)
               if other.site_id != site and other.call_state != "dropped"]
        if not host_dials(session, meeting, far, deadline_seconds, default_capacity, initial=True,
                          redial=True):
            raise MeetingError("no far end to dial: every other site was dropped or has no call URI")
    elif not host_dials(session, meeting, [link], deadline_seconds, default_capacity, redial=True):
        raise MeetingError(f"the host cannot dial {site}: {link.problem or 'no call URI'}")
    wake_schedule(session, site)


def drop(session: Session, meeting: Meeting, site: str, actor: str, deadline_seconds: float) -> None:
    """Hang up one site's call of this meeting; the others stay connected."""
    _started(meeting, "drop a site")
    link = _link(session, meeting, site)
    if meeting.mode == "host" and site == meeting.host_site:
        raise MeetingError("in host mode the host carries every call: stop the meeting instead")
    send(session, meeting, site, "disconnect", {"meeting_id": meeting.id, "drop": True}, actor,
         deadline_seconds)
    link.call_state = "dropped"
    link.problem = link.problem_code = None


def add_site(session: Session, meeting: Meeting, site: str, actor: str, deadline_seconds: float,
             default_capacity: int, *, force: bool = False,
             reason: str | None = None) -> list[dict[str, object]]:
    """Add a site to a scheduled or started meeting (a started one prepares it and dials it in);
    returns the conflicts overridden."""
    if meeting.state not in ("scheduled", "started"):
        raise MeetingError(f"meeting is {meeting.state}: sites can be added only before it stops")
    if session.get(Site, site) is None:
        raise NotInMeeting(f"no site {site!r}")
    if session.get(MeetingSite, (meeting.id, site)) is not None:
        raise MeetingError(f"site {site} is already in this meeting (to bring it back: redial)")
    now = utcnow()
    found = conflicts(session, [site], max(meeting.start, now), max(meeting.end, now), exclude=meeting.id,
                      now=now)
    if found and not force:
        raise MeetingConflict(found)
    if found and not (reason or "").strip():
        raise MeetingError("adding a site held by another meeting needs a reason")
    if meeting.mode == "host":
        host = session.get(Site, meeting.host_site)
        assert host is not None
        capacity = multisite_capacity(session, host, default_capacity)
        if len(links_of(session, meeting.id)) > capacity:     # the host plus its far ends
            raise MeetingError(f"host site {meeting.host_site} can host at most {capacity} other sites")
    link = MeetingSite(meeting_id=meeting.id, site_id=site, call_state="idle")
    session.add(link)
    session.flush()
    if meeting.state == "started":
        prepare_site(session, meeting, link, actor, deadline_seconds, join=True)
    wake_schedule(session, site)
    return [c.as_dict() for c in found]


def mute(session: Session, meeting: Meeting, site: str, on: bool, actor: str,
         deadline_seconds: float) -> None:
    """Mute (or unmute) the microphones of one site's codec."""
    _started(meeting, "mute a site")
    _link(session, meeting, site)
    send(session, meeting, site, "mute", {"meeting_id": meeting.id, "on": on}, actor, deadline_seconds)
