"""The annual figures computed from the ledger alone, by a different method than the report's:
time is counted in whole minutes as sets (the seeded history falls on minute boundaries)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from statistics import fmean
from zoneinfo import ZoneInfo

from tests.reports.history import CST, SITE, YEAR, Ledger

EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
HD_NEED = 2.0
GRACE = timedelta(days=7)


def minute(at: datetime) -> int:
    seconds = (at - EPOCH).total_seconds()
    assert seconds % 60 == 0, f"{at} is not on a minute boundary"
    return int(seconds // 60)


def minutes(start: datetime, end: datetime) -> set[int]:
    return set(range(minute(start), minute(end)))


@dataclass
class Expected:
    meetings: dict[str, int] = field(default_factory=dict)
    hours: dict[str, float] = field(default_factory=dict)
    total_meetings: int = 0
    total_hours: float = 0.0
    calls: dict[str, tuple[int, int]] = field(default_factory=dict)           # site -> (hd, sd)
    ratings: dict[str, tuple[int, int]] = field(default_factory=dict)         # site -> (good, all)
    inspections: dict[str, dict[int, str]] = field(default_factory=dict)      # site -> month -> status
    availability: dict[str, float] = field(default_factory=dict)
    availability_meetings: dict[str, float | None] = field(default_factory=dict)
    faults: dict[str, tuple[int, int]] = field(default_factory=dict)          # site -> (count, open)
    repairs: dict[str, list[float]] = field(default_factory=dict)             # site -> seconds
    uplink: dict[str, list[float]] = field(default_factory=dict)


def compute(ledger: Ledger, sites: list[str], now: datetime) -> Expected:
    year_start = datetime(YEAR, 1, 1, tzinfo=CST).astimezone(UTC)
    year_end = datetime(YEAR + 1, 1, 1, tzinfo=CST).astimezone(UTC)
    out = Expected()
    in_year = [m for m in ledger.meetings if year_start <= m.started < year_end and set(m.sites) & set(sites)]
    out.total_meetings = len(in_year)
    out.total_hours = sum((m.stopped - m.started).total_seconds() / 3600 for m in in_year)
    meeting_minutes: dict[str, set[int]] = {s: set() for s in sites}
    for site in sites:
        mine = [m for m in in_year if site in m.sites]
        out.meetings[site] = len(mine)
        out.hours[site] = sum((m.stopped - m.started).total_seconds() / 3600 for m in mine)
        hd = sum(1 for m in mine if m.hd[site])
        out.calls[site] = (hd, len(mine) - hd)
        rated = [m.ratings[site] for m in mine if site in m.ratings]
        out.ratings[site] = (sum(1 for r in rated if r >= 4), len(rated))
        for m in mine:
            meeting_minutes[site] |= minutes(m.started, m.stopped)

        # inspections, month by month in the site's own timezone
        tz = ZoneInfo(SITE[site].timezone)
        statuses = {}
        for month in range(1, 13):
            due = datetime(YEAR, month, 1, tzinfo=tz).astimezone(UTC)
            deadline = due + GRACE
            runs = [i for i in ledger.inspections if i.site == site
                    and i.started.astimezone(tz).year == YEAR and i.started.astimezone(tz).month == month]
            if runs:
                late = all(r.agent_late or r.started + timedelta(minutes=4) > deadline for r in runs)
                statuses[month] = "late" if late else "done"
            elif deadline <= SITE[site].created:
                statuses[month] = "not_applicable"
            elif now >= deadline:
                statuses[month] = "missing"
            else:
                statuses[month] = "pending" if now >= due else "upcoming"
        out.inspections[site] = statuses

        # availability from the minutes a critical device (here: the codec) was down, observed from
        # the site's first report (its creation); the agent's inspections (4 minutes each) are
        # planned work and count neither way
        start, end = max(year_start, SITE[site].created), min(year_end, now)
        planned: set[int] = set()
        for run in ledger.inspections:
            if run.site == site:
                planned |= minutes(run.started, run.started + timedelta(minutes=4))
        window = {m for m in range(minute(start), minute(end)) if m not in planned}
        down: set[int] = set()
        for fault in ledger.faults:
            if fault.site == site and fault.down and fault.device.endswith(".codec"):
                down |= minutes(fault.opened, fault.closed or now)
        out.availability[site] = 1 - len(down & window) / len(window)
        in_meetings = meeting_minutes[site] & window
        share = (1 - len(in_meetings & down) / len(in_meetings)) if in_meetings else None
        out.availability_meetings[site] = share

        opened = [f for f in ledger.faults if f.site == site and year_start <= f.opened < year_end]
        out.faults[site] = (len(opened), sum(1 for f in opened if f.closed is None))
        out.repairs[site] = [(f.closed - f.opened).total_seconds() for f in opened if f.closed is not None]
        out.uplink[site] = list(ledger.uplink.get(site, []))
    return out


def mean(values: list[float]) -> float | None:
    return fmean(values) if values else None
