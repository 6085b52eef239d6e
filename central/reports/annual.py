"""The annual operations report: the figures an audit asks for, per site and in total.

Definitions (also printed in the report):
- a meeting is *supported* when it was started; it counts in the year its start falls in, for
  the hours between its actual start and stop (scheduled times when one is missing);
- a site is *available* while it can hold a meeting (codec, network and what its profile marks
  critical are up), from observed time only (``central.services.availability``, the same
  computation as the dashboard): time before the first report or while the agent was off-line is
  unknown, time in a maintenance window is planned work; neither counts. Availability is up /
  (up + down) over the year (to now), and separately over the site's meeting hours;
- *faults* are root causes (symptoms linked to a fault are not counted again); planned work is
  listed on its own as maintenance;
- a *call* is a site's connection to a meeting reported connected; it is HD when the codec
  reported it so;
- *satisfaction* is the share of ratings 4-5 among all ratings of the year's meetings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from statistics import fmean

from sqlalchemy import select
from sqlalchemy.orm import Session

from central.models import (
    EventRow,
    Fault,
    MaintenanceWindow,
    Meeting,
    MeetingSite,
    Site,
    UplinkMeasurement,
    utcnow,
)
from central.reports import faults as fault_records
from central.reports import inspections
from central.reports import renewal as renewal_section
from central.reports.periods import Interval, clip, seconds, year_bounds
from central.reports.policy import ReportPolicy
from central.services import availability, maintenance

TAKEN_PLACE = ("started", "stopped")
GOOD_RATING = 4


@dataclass
class UplinkFigures:
    measurements: int = 0
    up_mean: float | None = None
    up_min: float | None = None
    down_mean: float | None = None
    rtt_mean: float | None = None
    loss_mean: float | None = None
    #: measurements whose upload was below the HD need
    below_hd: int = 0


@dataclass
class SiteFigures:
    site_id: str
    name: str
    name_zh: str
    meetings: int = 0
    meeting_hours: float = 0.0
    inspections_due: int = 0
    inspections_done: int = 0
    inspections_late: int = 0
    availability: float | None = None
    availability_meetings: float | None = None
    downtime_hours: float = 0.0
    #: planned work and unobserved time: counted neither up nor down
    maintenance_hours: float = 0.0
    unknown_hours: float = 0.0
    faults: int = 0
    faults_open: int = 0
    mean_repair_s: float | None = None
    worst_repair_s: float | None = None
    calls: int = 0
    calls_hd: int = 0
    calls_sd: int = 0
    uplink: UplinkFigures = field(default_factory=UplinkFigures)
    ratings: int = 0
    ratings_good: int = 0

    @property
    def satisfaction(self) -> float | None:
        return self.ratings_good / self.ratings if self.ratings else None


@dataclass
class Totals:
    meetings: int = 0
    meeting_hours: float = 0.0
    sites_with_meetings: int = 0
    inspections_due: int = 0
    inspections_done: int = 0
    inspections_late: int = 0
    faults: int = 0
    faults_open: int = 0
    mean_repair_s: float | None = None
    worst_repair_s: float | None = None
    calls: int = 0
    calls_hd: int = 0
    calls_sd: int = 0
    ratings: int = 0
    ratings_good: int = 0

    @property
    def hd_share(self) -> float | None:
        return self.calls_hd / self.calls if self.calls else None

    @property
    def sd_share(self) -> float | None:
        return self.calls_sd / self.calls if self.calls else None

    @property
    def satisfaction(self) -> float | None:
        return self.ratings_good / self.ratings if self.ratings else None


@dataclass
class MaintenanceEntry:
    """One maintenance window of the year (planned work: not a fault, not downtime)."""

    site_id: str
    device_id: str | None
    kind: str
    actor: str
    why: str
    started_at: datetime
    ended_at: datetime | None
    outcome: str

    @classmethod
    def of(cls, window: MaintenanceWindow) -> MaintenanceEntry:
        return cls(window.site_id, window.device_id, window.kind, window.actor, window.why, window.started_at,
                   window.ended_at, window.outcome)


@dataclass
class AnnualReport:
    year: int
    period_start: datetime
    period_end: datetime
    generated_at: datetime
    policy: ReportPolicy
    sites: list[SiteFigures]
    totals: Totals
    #: the improvement section: per site the evidence for (or against) renewal
    renewal: list[renewal_section.SiteRenewal] = field(default_factory=list)
    #: planned work of the year (reboots, power-cycles, relocations, inspections), listed on its own
    maintenance: list[MaintenanceEntry] = field(default_factory=list)

    @property
    def satisfaction_met(self) -> bool | None:
        share = self.totals.satisfaction
        return None if share is None else share >= self.policy.satisfaction_target


def meeting_interval(meeting: Meeting, now: datetime) -> Interval:
    start = meeting.started_at or meeting.start
    if meeting.stopped_at is not None:
        end = meeting.stopped_at
    else:
        end = meeting.end if meeting.state == "stopped" else min(meeting.end, max(now, start))
    return start, max(start, end)


def _hours(interval: Interval) -> float:
    return (interval[1] - interval[0]).total_seconds() / 3600


def _repairs(rows: list[Fault]) -> tuple[float | None, float | None]:
    times = [t for t in (fault_records.repair_seconds(f) for f in rows) if t is not None]
    return (fmean(times), max(times)) if times else (None, None)


def _mean(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return fmean(present) if present else None


def _uplink(rows: list[UplinkMeasurement], hd_need: float) -> UplinkFigures:
    ups = [r.up_mbps for r in rows if r.up_mbps is not None]
    return UplinkFigures(
        measurements=len(rows), up_mean=_mean(list(ups)), up_min=min(ups) if ups else None,
        down_mean=_mean([r.down_mbps for r in rows]), rtt_mean=_mean([r.rtt_ms for r in rows]),
        loss_mean=_mean([r.loss for r in rows]), below_hd=sum(1 for u in ups if u < hd_need),
    )


def _connected_calls(session: Session, site_ids: list[str], meeting_ids: list[str],
                     links: list[MeetingSite]) -> dict[tuple[str, str], bool]:
    """(meeting, site) -> HD, for every site's call reported connected."""
    calls: dict[tuple[str, str], bool] = {}
    events = session.scalars(select(EventRow).where(EventRow.site_id.in_(site_ids),
                                                    EventRow.kind == "call_state"))
    wanted = set(meeting_ids)
    for event in events:
        data = event.data or {}
        meeting_id = data.get("meeting_id")
        if data.get("state") != "connected" or meeting_id not in wanted:
            continue
        key = (str(meeting_id), event.site_id)
        calls[key] = calls.get(key, False) or bool(data.get("hd"))
    for link in links:
        call = link.call or {}
        if call.get("state") == "connected":
            key = (link.meeting_id, link.site_id)
            calls[key] = calls.get(key, False) or bool(call.get("hd"))
    return calls


def build(session: Session, year: int, sites: list[Site], policy: ReportPolicy,
          now: datetime | None = None) -> AnnualReport:
    now = now or utcnow()
    lo, hi = year_bounds(year, policy.report_timezone)
    end = min(hi, now)
    site_ids = [s.id for s in sites]
    figures = {s.id: SiteFigures(s.id, s.name, s.name_zh) for s in sites}

    # meetings started in the year, with the selected sites that took part
    meetings = list(session.scalars(select(Meeting).where(Meeting.state.in_(TAKEN_PLACE))))
    meetings = [m for m in meetings if lo <= (m.started_at or m.start) < hi]
    by_id = {m.id: m for m in meetings}
    links = list(session.scalars(select(MeetingSite).where(
        MeetingSite.meeting_id.in_(list(by_id)), MeetingSite.site_id.in_(site_ids))))
    meeting_time: dict[str, list[Interval]] = {s: [] for s in site_ids}
    supported: set[str] = set()
    for link in links:
        interval = meeting_interval(by_id[link.meeting_id], now)
        fig = figures[link.site_id]
        fig.meetings += 1
        fig.meeting_hours += _hours(interval)
        meeting_time[link.site_id].append(interval)
        supported.add(link.meeting_id)
        if link.satisfaction is not None:
            fig.ratings += 1
            fig.ratings_good += link.satisfaction >= GOOD_RATING

    # calls and their quality
    for (_, site_id), hd in _connected_calls(session, site_ids, list(by_id), links).items():
        fig = figures[site_id]
        fig.calls += 1
        fig.calls_hd += hd
        fig.calls_sd += not hd

    # inspections (each site's months in its own timezone)
    view = inspections.year_view(session, year, sites, policy, now)
    for row in view.sites:
        fig = figures[row.site_id]
        fig.inspections_due, fig.inspections_done = row.due, row.done
        fig.inspections_late = row.count("late")

    # faults opened in the year (root causes only); availability from observed time
    year_faults = fault_records.in_period(session, site_ids, lo, hi)
    for site in sites:
        fig = figures[site.id]
        mine = [f for f in year_faults if f.site_id == site.id]
        fig.faults, fig.faults_open = len(mine), sum(1 for f in mine if f.closed_at is None)
        fig.mean_repair_s, fig.worst_repair_s = _repairs(mine)
        if end <= lo:
            continue
        observed = availability.load(session, site, lo, end, now)
        whole = observed.over(lo, end).site
        fig.availability = whole.availability
        fig.downtime_hours = whole.down / 3600
        fig.maintenance_hours = whole.maintenance / 3600
        fig.unknown_hours = whole.unknown / 3600
        in_meetings = clip(meeting_time[site.id], lo, end)
        if seconds(in_meetings) > 0:
            fig.availability_meetings = observed.over_many(in_meetings).availability
    maintenance_windows = [MaintenanceEntry.of(w) for w in maintenance.in_period(session, site_ids, lo, hi)]

    # uplink measurements of the year
    measured = session.scalars(select(UplinkMeasurement).where(
        UplinkMeasurement.site_id.in_(site_ids), UplinkMeasurement.at >= lo, UplinkMeasurement.at < hi))
    per_site: dict[str, list[UplinkMeasurement]] = {s: [] for s in site_ids}
    for m in measured:
        per_site[m.site_id].append(m)
    for site_id, rows in per_site.items():
        figures[site_id].uplink = _uplink(rows, policy.hd_uplink_mbps)

    totals = Totals(
        meetings=len(supported),
        meeting_hours=sum(_hours(meeting_interval(by_id[m], now)) for m in supported),
        sites_with_meetings=sum(1 for f in figures.values() if f.meetings),
        inspections_due=sum(f.inspections_due for f in figures.values()),
        inspections_done=sum(f.inspections_done for f in figures.values()),
        inspections_late=sum(f.inspections_late for f in figures.values()),
        faults=len(year_faults), faults_open=sum(1 for f in year_faults if f.closed_at is None),
        calls=sum(f.calls for f in figures.values()), calls_hd=sum(f.calls_hd for f in figures.values()),
        calls_sd=sum(f.calls_sd for f in figures.values()),
        ratings=sum(f.ratings for f in figures.values()),
        ratings_good=sum(f.ratings_good for f in figures.values()),
    )
    totals.mean_repair_s, totals.worst_repair_s = _repairs(year_faults)
    ordered = [figures[s] for s in site_ids]
    renewal = renewal_section.build(session, year, sites, ordered, lo, hi, policy.hd_uplink_mbps)
    return AnnualReport(year=year, period_start=lo, period_end=end, generated_at=now, policy=policy,
                        sites=ordered, totals=totals, renewal=renewal, maintenance=maintenance_windows)
