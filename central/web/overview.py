"""The dashboard overview of every site from a handful of grouped queries.

Five statements whatever the number of sites (sites; device counts per site; open faults per
site; the next active meeting of each site; each site's latest finished self-test), instead of
five per site: a thousand-site overview costs what a six-site one does.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from central.api.sites import health_verdict
from central.models import Device, Fault, Meeting, MeetingSite, SelftestRow, Site
from central.services import meetings
from central.settings import Settings


def overview_rows(session: Session, settings: Settings, now: datetime) -> list[dict[str, Any]]:
    """One dict per site, in site order, with the fields of the dashboard's ``SiteCard``."""
    sites = session.scalars(select(Site).order_by(Site.id)).all()
    devices = {row.site_id: row for row in session.execute(
        select(Device.site_id, func.count().label("total"),
               func.sum(case((Device.up.is_(True), 1), else_=0)).label("up"),
               func.sum(case((Device.up.is_(False), 1), else_=0)).label("down"),
               func.sum(case((Device.verdict == "degraded", 1), else_=0)).label("degraded"))
        .group_by(Device.site_id))}
    faults = dict(session.execute(  # type: ignore[arg-type]
        select(Fault.site_id, func.count()).where(Fault.closed_at.is_(None), Fault.root_id.is_(None))
        .group_by(Fault.site_id)).all())
    next_meetings: dict[str, dict[str, Any]] = {}
    for site_id, meeting, readiness in session.execute(
            select(MeetingSite.site_id, Meeting, MeetingSite.readiness)
            .join(Meeting, MeetingSite.meeting_id == Meeting.id)
            .where(Meeting.state.in_(meetings.ACTIVE_STATES), Meeting.end > now)
            .order_by(Meeting.start)):
        next_meetings.setdefault(site_id, {
            "id": meeting.id, "title": meeting.title, "start": meeting.start, "end": meeting.end,
            "state": meeting.state, "readiness": readiness})
    newest_first = (SelftestRow.finished_at.desc(), SelftestRow.id.desc())
    rank = func.row_number().over(partition_by=SelftestRow.site_id, order_by=newest_first).label("rank")
    latest = (select(SelftestRow.site_id, SelftestRow.id, SelftestRow.verdict, SelftestRow.trigger,
                     SelftestRow.finished_at, rank)
              .where(SelftestRow.state == "done").subquery())
    selftests = {row.site_id: {"id": row.id, "verdict": row.verdict, "trigger": row.trigger,
                               "finished_at": row.finished_at}
                 for row in session.execute(select(latest).where(latest.c.rank == 1))}
    allowance = timedelta(seconds=settings.heartbeat_interval_seconds * (settings.heartbeat_misses + 1))
    out = []
    for site in sites:
        counts = devices.get(site.id)
        total, up, down = ((int(counts.total), int(counts.up or 0), int(counts.down or 0))
                           if counts else (0, 0, 0))
        degraded = bool(counts and counts.degraded)
        open_faults = int(faults.get(site.id, 0))
        fresh = site.last_seen is not None and now - site.last_seen <= allowance
        out.append({
            "id": site.id, "name": site.name, "name_zh": site.name_zh,
            "agent_connected": bool(site.agent_connected and fresh), "last_seen": site.last_seen,
            "devices_total": total, "devices_up": up, "devices_down": down, "open_faults": open_faults,
            "verdict": health_verdict(total, up, down, degraded, open_faults),
            "next_meeting": next_meetings.get(site.id), "last_selftest": selftests.get(site.id),
        })
    return out
