"""Scheduled meetings that start by themselves at their start time.

A meeting's own ``auto_start`` flag wins; a meeting without one follows the organisation setting
(``auto_start_meetings``). The sweeper calls ``start_due`` every tick; on PostgreSQL the rows are
claimed with ``FOR UPDATE SKIP LOCKED`` so that of several central instances one starts each
meeting. A meeting that cannot start (a site still held by another started meeting) is not tried
again: its flag is turned off and the refusal audited, so a clerk decides.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import or_, select, true
from sqlalchemy.orm import Session

from central.models import Meeting
from central.services import audit, meetings

log = logging.getLogger(__name__)
ACTOR = "system:auto-start"


def due(session: Session, now: datetime, organisation_default: bool) -> list[Meeting]:
    flag = Meeting.auto_start.is_(true())
    if organisation_default:
        flag = or_(flag, Meeting.auto_start.is_(None))
    query = (select(Meeting)
             .where(Meeting.state == "scheduled", Meeting.start <= now, Meeting.end > now, flag)
             .order_by(Meeting.start, Meeting.id)
             .with_for_update(skip_locked=True))
    return list(session.scalars(query))


def start_due(session: Session, now: datetime, *, organisation_default: bool, deadline_seconds: float) -> int:
    """Start every due meeting; returns how many started."""
    started = 0
    for meeting in due(session, now, organisation_default):
        try:
            with session.begin_nested():
                meetings.start(session, meeting, ACTOR, deadline_seconds)
                audit.record(session, actor=ACTOR, action="meeting.start", target=meeting.id,
                             outcome="succeeded", detail={"auto": True})
        except meetings.MeetingError as exc:
            meeting.auto_start = False
            audit.record(session, actor=ACTOR, action="meeting.start", target=meeting.id, outcome="refused",
                         detail={"auto": True, "reason": str(exc)})
            log.warning("meeting %s did not start by itself: %s", meeting.id, exc)
            continue
        started += 1
        log.info("meeting %s (%s) started by itself at its start time", meeting.id, meeting.title)
    return started
