"""Availability from observed time: the one computation behind the site page, the dashboard's
14-day strip and the annual report.

Every moment of a device is one of: *up* or *down* (as its agent observed it; a unit that answers
but cannot serve a meeting, such as a codec not registered to its SIP server, is down), *maintenance*
(inside a maintenance window: planned work), or *unknown* (before its first report, or while the
site's agent was off-line). Availability is up / (up + down): unknown and maintenance time count
neither way. A *site* is available while it can hold a meeting: every critical device (what the
agent marks ``critical``: the codec, the network and the site profile's critical roles) is up;
it is down while one of them is down, unknown while one of them is unknown.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from central.models import AgentLinkSpan, Device, DeviceStateSpan, Site, utcnow
from central.services import maintenance

Interval = tuple[datetime, datetime]
STATES = ("up", "down", "maintenance", "unknown")
CRITICAL_ROLES = frozenset({"codec", "router"})


@dataclass
class Shares:
    """Seconds spent in each state over a period."""

    up: float = 0.0
    down: float = 0.0
    maintenance: float = 0.0
    unknown: float = 0.0

    def add(self, state: str, seconds: float) -> None:
        setattr(self, state, getattr(self, state) + seconds)

    @property
    def observed(self) -> float:
        return self.up + self.down

    @property
    def availability(self) -> float | None:
        """up / (up + down); None when nothing was observed."""
        return self.up / self.observed if self.observed > 0 else None

    def as_dict(self) -> dict[str, float | None]:
        return {"up_s": round(self.up, 3), "down_s": round(self.down, 3),
                "maintenance_s": round(self.maintenance, 3), "unknown_s": round(self.unknown, 3),
                "availability": None if self.availability is None else round(self.availability, 6)}


@dataclass
class DeviceTimeline:
    """What is known of one device: observed spans (start, end, up) and maintenance intervals."""

    spans: list[tuple[datetime, datetime, bool]] = field(default_factory=list)
    maintenance: list[Interval] = field(default_factory=list)


def _inside(at: datetime, intervals: Iterable[Interval]) -> bool:
    return any(lo <= at < hi for lo, hi in intervals)


def state_at(timeline: DeviceTimeline, present: Sequence[Interval] | None, at: datetime) -> str:
    """The device's state at ``at``; ``present`` are the agent's on-line intervals (None: not tracked)."""
    if present is not None and not _inside(at, present):
        return "unknown"
    span = next((s for s in timeline.spans if s[0] <= at < s[1]), None)
    if span is None:
        return "unknown"
    if _inside(at, timeline.maintenance):
        return "maintenance"
    return "up" if span[2] else "down"


def site_state(states: Iterable[str]) -> str:
    """A site from its critical devices' states: down beats unknown beats maintenance beats up."""
    found = set(states)
    for state in ("down", "unknown", "maintenance"):
        if state in found:
            return state
    return "up" if found else "unknown"


def _breakpoints(lo: datetime, hi: datetime, timelines: Iterable[DeviceTimeline],
                 present: Sequence[Interval] | None) -> list[datetime]:
    points = {lo, hi}
    for tl in timelines:
        for start, end, _ in tl.spans:
            points.update((start, end))
        for start, end in tl.maintenance:
            points.update((start, end))
    for start, end in present or ():
        points.update((start, end))
    return sorted(p for p in points if lo <= p <= hi)


def shares(lo: datetime, hi: datetime, timelines: Mapping[str, DeviceTimeline], critical: set[str],
           present: Sequence[Interval] | None) -> tuple[dict[str, Shares], Shares]:
    """Per device and for the site, the seconds in each state over [lo, hi)."""
    devices = {d: Shares() for d in timelines}
    site = Shares()
    if hi <= lo:
        return devices, site
    points = _breakpoints(lo, hi, timelines.values(), present)
    watched = [d for d in timelines if d in critical] or list(timelines)
    for a, b in zip(points, points[1:], strict=False):
        seconds = (b - a).total_seconds()
        if seconds <= 0:
            continue
        states = {d: state_at(tl, present, a) for d, tl in timelines.items()}
        for d, state in states.items():
            devices[d].add(state, seconds)
        site.add(site_state(states[d] for d in watched) if watched else "unknown", seconds)
    return devices, site


# -- from the database -------------------------------------------------------------------------------
def critical_devices(devices: Iterable[Device]) -> set[str]:
    """What the agent marks critical in its hello (``capabilities.critical``: the site profile's
    critical roles, the network); for an agent that does not say, the codec and the router."""
    out = set()
    for device in devices:
        caps = device.capabilities or {}
        if caps.get("critical") is False:
            continue
        if caps.get("critical") is True or CRITICAL_ROLES & set(device.roles or ()):
            out.add(device.id)
    return out


def presence(session: Session, site: Site, now: datetime) -> list[Interval] | None:
    """When the site's agent was on-line; None when central never recorded its link (no way to
    tell off-line time apart: the device reports alone decide)."""
    rows = list(session.scalars(select(AgentLinkSpan).where(AgentLinkSpan.site_id == site.id)
                                .order_by(AgentLinkSpan.started_at)))
    if not rows:
        return None
    out = []
    for row in rows:
        end = row.ended_at
        if end is None:
            end = now if site.agent_connected else max(row.started_at, site.last_seen or row.started_at)
        out.append((row.started_at, end))
    return out


def timelines(session: Session, site_id: str, lo: datetime, hi: datetime, now: datetime
              ) -> tuple[list[Device], dict[str, DeviceTimeline]]:
    devices = list(session.scalars(select(Device).where(Device.site_id == site_id).order_by(Device.id)))
    out = {d.id: DeviceTimeline() for d in devices}
    for span in session.scalars(select(DeviceStateSpan).where(
            DeviceStateSpan.site_id == site_id, DeviceStateSpan.started_at < hi,
            or_(DeviceStateSpan.ended_at.is_(None), DeviceStateSpan.ended_at > lo))):
        if span.device_id in out:
            out[span.device_id].spans.append((span.started_at, span.ended_at or now, span.up))
    for window in maintenance.in_period(session, [site_id], lo, hi):
        interval = (window.started_at, maintenance.effective_end(window, now))
        for device_id, tl in out.items():
            if window.device_id in (None, device_id):
                tl.maintenance.append(interval)
    return devices, out


@dataclass
class SiteAvailability:
    site: Shares
    devices: dict[str, Shares]
    critical: set[str]


@dataclass
class Observed:
    """Everything known of one site over a period, loaded once; ``over`` measures any part of it."""

    timelines: dict[str, DeviceTimeline]
    critical: set[str]
    present: list[Interval] | None

    def over(self, lo: datetime, hi: datetime) -> SiteAvailability:
        per_device, site = shares(lo, hi, self.timelines, self.critical, self.present)
        return SiteAvailability(site, per_device, self.critical)

    def over_many(self, intervals: Iterable[Interval]) -> Shares:
        """The site's time in each state summed over several intervals (e.g. its meetings)."""
        total = Shares()
        for lo, hi in intervals:
            part = self.over(lo, hi).site
            for state in STATES:
                total.add(state, getattr(part, state))
        return total


def load(session: Session, site: Site, lo: datetime, hi: datetime, now: datetime | None = None) -> Observed:
    now = now or utcnow()
    devices, tls = timelines(session, site.id, lo, min(hi, now), now)
    return Observed(tls, critical_devices(devices), presence(session, site, now))


def measure(session: Session, site: Site, lo: datetime, hi: datetime, now: datetime | None = None
            ) -> SiteAvailability:
    """The site's and its devices' time in each state over [lo, min(hi, now))."""
    now = now or utcnow()
    return load(session, site, lo, hi, now).over(lo, min(hi, now))


def days(now: datetime, count: int, timezone: str) -> list[Interval]:
    """The last ``count`` calendar days in the site's timezone, today (up to now) last."""
    tz = ZoneInfo(timezone or "Asia/Shanghai")
    today = now.astimezone(tz).replace(hour=0, minute=0, second=0, microsecond=0)
    out = []
    for n in range(count - 1, -1, -1):
        start = today - timedelta(days=n)
        out.append((start, min(start + timedelta(days=1), now)))
    return out


# -- recording what was observed (called by ingest and the hub) --------------------------------------
def record_state(session: Session, *, site_id: str, device_id: str, up: bool | None, at: datetime) -> None:
    """The device's observed state from ``at`` on (None: unknown from now)."""
    current = session.scalars(select(DeviceStateSpan).where(
        DeviceStateSpan.device_id == device_id, DeviceStateSpan.ended_at.is_(None))
        .order_by(DeviceStateSpan.id.desc())).first()
    if current is not None:
        if up is not None and current.up is up:
            return
        current.ended_at = max(at, current.started_at)
    if up is not None:
        session.add(DeviceStateSpan(site_id=site_id, device_id=device_id, up=up,
                                    started_at=at if current is None else max(at, current.started_at)))


def record_link(session: Session, *, site_id: str, connected: bool, at: datetime) -> None:
    """The site's agent connected or went away."""
    current = session.scalars(select(AgentLinkSpan).where(
        AgentLinkSpan.site_id == site_id, AgentLinkSpan.ended_at.is_(None))
        .order_by(AgentLinkSpan.id.desc())).first()
    if current is not None:
        if connected:
            return            # a second connection of the same agent (replaced): still on-line
        current.ended_at = max(at, current.started_at)
    elif connected:
        session.add(AgentLinkSpan(site_id=site_id, started_at=at))

