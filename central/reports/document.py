"""A report as titled tables of text: built once, rendered as HTML, PDF and CSV alike."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from central.reports.charts import Series
from central.reports.periods import zone


@dataclass
class Figure:
    """A chart in a section: drawn as inline SVG in HTML and as vector graphics in the PDF."""

    title: str
    series: Series
    site_id: str = ""


@dataclass
class Section:
    title: str
    headers: list[str]
    rows: list[list[str]]
    #: a short key naming the section in CSV output and in HTML ids
    key: str = ""
    notes: list[str] = field(default_factory=list)
    #: the last row is a total (shown bold)
    total_row: bool = False
    #: charts, one list per printed row; with figures the PDF shows the charts instead of the rows
    #: (the numbers stay in HTML and CSV)
    figures: list[list[Figure]] = field(default_factory=list)


@dataclass
class Document:
    title: str
    lang: str
    meta: list[tuple[str, str]] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)
    #: file name without extension for downloads
    slug: str = "report"


# -- formatting ---------------------------------------------------------------------------------------
DASH = "—"


def pct(value: float | None, digits: int = 1) -> str:
    return DASH if value is None else f"{value * 100:.{digits}f}%"


def avail(value: float | None) -> str:
    """Availability needs more digits: 99.95% and 99.99% are very different years."""
    return pct(value, 3)


def num(value: float | None, digits: int = 1) -> str:
    return DASH if value is None else f"{value:.{digits}f}"


def duration(total_seconds: float | None) -> str:
    if total_seconds is None:
        return DASH
    minutes = round(total_seconds / 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h {mins:02d}m"
    return f"{hours}h {mins:02d}m"


def when(at: datetime | None, tz: str) -> str:
    return DASH if at is None else at.astimezone(zone(tz)).strftime("%Y-%m-%d %H:%M")


def site_label(name: str, name_zh: str, site_id: str, lang: str) -> str:
    if lang == "zh-CN" and name_zh:
        return name_zh
    return name or site_id
