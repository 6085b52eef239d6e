"""Calendar periods in a site's timezone and arithmetic on time intervals."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

Interval = tuple[datetime, datetime]


def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def month_start(year: int, month: int, tz: str) -> datetime:
    """Midnight starting the month in ``tz``, as UTC (month 13 is January of the next year)."""
    year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
    return datetime(year, month, 1, tzinfo=zone(tz)).astimezone(UTC)


def year_bounds(year: int, tz: str) -> Interval:
    return month_start(year, 1, tz), month_start(year, 13, tz)


def month_bounds(year: int, month: int, tz: str) -> Interval:
    return month_start(year, month, tz), month_start(year, month + 1, tz)


def local_month(at: datetime, tz: str) -> tuple[int, int]:
    local = at.astimezone(zone(tz))
    return local.year, local.month


def clip(intervals: Iterable[Interval], lo: datetime, hi: datetime) -> list[Interval]:
    out = []
    for start, end in intervals:
        start, end = max(start, lo), min(end, hi)
        if end > start:
            out.append((start, end))
    return out


def union(intervals: Iterable[Interval]) -> list[Interval]:
    """Overlapping or touching intervals merged, in order."""
    merged: list[Interval] = []
    for start, end in sorted(i for i in intervals if i[1] > i[0]):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def seconds(intervals: Iterable[Interval]) -> float:
    return sum((end - start).total_seconds() for start, end in union(intervals))


def overlap_seconds(a: Iterable[Interval], b: Iterable[Interval]) -> float:
    """Seconds covered by both sets of intervals."""
    left, right = union(a), union(b)
    total = 0.0
    i = j = 0
    while i < len(left) and j < len(right):
        start, end = max(left[i][0], right[j][0]), min(left[i][1], right[j][1])
        if end > start:
            total += (end - start).total_seconds()
        if left[i][1] < right[j][1]:
            i += 1
        else:
            j += 1
    return total
