"""Per-site charts of the year, month by month: availability, measured uplink against the HD need,
and call quality (share of connected calls in HD). Plain data; ``chart_svg`` draws it for the
dashboard and the HTML report, ``chart_pdf`` for the annual PDF.

Availability comes from ``central.services.availability`` (the one computation of the strip, the
site page and the annual report);
a month the site did not exist yet, or that has not begun, has no value (a gap, never "100 %").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from central.models import EventRow, Site, UplinkMeasurement, utcnow
from central.reports.periods import local_month, month_bounds, year_bounds
from central.services import availability

MONTHS = 12
KINDS = ("availability", "uplink", "hd")


@dataclass
class Series:
    kind: str                        # availability | uplink | hd
    values: list[float | None]       # one per month, None = no data
    #: the line a reader compares against: the HD need (uplink), the availability target
    reference: float | None = None

    @property
    def top(self) -> float:
        """The axis maximum: shares up to 1, Mbps up to the largest value or the reference."""
        if self.kind != "uplink":
            return 1.0
        present = [v for v in self.values if v is not None] + [self.reference or 0.0]
        return max(1.0, max(present) * 1.15)

    @property
    def bottom(self) -> float:
        """Availability is read near the top (99 % and 99.9 % must look different): its axis starts
        at 90 %, or lower in tenths when a month fell below that; the others start at zero."""
        if self.kind != "availability":
            return 0.0
        present = [v for v in self.values if v is not None]
        low = min(present, default=1.0)
        return 0.9 if low >= 0.9 else max(0.0, int(low * 10) / 10)


@dataclass
class SiteCharts:
    site_id: str
    name: str
    name_zh: str
    series: list[Series] = field(default_factory=list)

    def get(self, kind: str) -> Series:
        return next(s for s in self.series if s.kind == kind)


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def build(session: Session, year: int, sites: list[Site], tz: str, hd_need: float,
          now: datetime | None = None) -> list[SiteCharts]:
    now = now or utcnow()
    lo, hi = year_bounds(year, tz)
    site_ids = [s.id for s in sites]
    ups: dict[str, list[list[float]]] = {s: [[] for _ in range(MONTHS)] for s in site_ids}
    for m in session.scalars(select(UplinkMeasurement).where(
            UplinkMeasurement.site_id.in_(site_ids), UplinkMeasurement.at >= lo, UplinkMeasurement.at < hi)):
        if m.up_mbps is not None:
            ups[m.site_id][local_month(m.at, tz)[1] - 1].append(m.up_mbps)
    calls: dict[str, list[dict[tuple[str, str], bool]]] = {s: [{} for _ in range(MONTHS)] for s in site_ids}
    for event in session.scalars(select(EventRow).where(
            EventRow.site_id.in_(site_ids), EventRow.kind == "call_state", EventRow.at >= lo,
            EventRow.at < hi)):
        data = event.data or {}
        if data.get("state") == "connected":
            month = calls[event.site_id][local_month(event.at, tz)[1] - 1]
            key = (str(data.get("meeting_id") or ""), str(data.get("call_id") or event.id))
            month[key] = month.get(key, False) or bool(data.get("hd"))
    out = []
    for site in sites:
        observed = availability.load(session, site, lo, hi, now)     # the one computation
        avail: list[float | None] = []
        for month in range(1, MONTHS + 1):
            start, end = month_bounds(year, month, tz)
            avail.append(observed.over(start, min(end, now)).site.availability if start < now else None)
        hd = [sum(m.values()) / len(m) if m else None for m in calls[site.id]]
        out.append(SiteCharts(site.id, site.name, site.name_zh, [
            Series("availability", avail),
            Series("uplink", [_mean(v) for v in ups[site.id]], reference=hd_need),
            Series("hd", hd),
        ]))
    return out
