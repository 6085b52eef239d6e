"""One small monthly bar chart as drawing primitives, so the dashboard (SVG) and the PDF
(reportlab graphics) show exactly the same picture. Coordinates: origin top left, y down."""

from __future__ import annotations

from dataclasses import dataclass

from central.reports.charts import MONTHS, Series

WIDTH, HEIGHT = 230.0, 120.0
LEFT, RIGHT, TOP, BOTTOM = 34.0, 6.0, 18.0, 16.0
COLOURS = {"availability": "#1a7f37", "uplink": "#0969da", "hd": "#8250df"}
BAD = "#cf222e"


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    w: float
    h: float
    fill: str


@dataclass(frozen=True)
class Line:
    x1: float
    y1: float
    x2: float
    y2: float
    stroke: str
    dashed: bool = False


@dataclass(frozen=True)
class Text:
    x: float
    y: float
    text: str
    size: float
    anchor: str = "start"       # start | middle | end
    fill: str = "#57606a"


Shape = Rect | Line | Text


def title_size(title: str, largest: float = 9.5) -> float:
    """A font size at which ``title`` fits the chart's width (CJK characters are about one em wide,
    Latin ones about half)."""
    ems = sum(1.0 if ord(ch) > 0x2E80 else 0.55 for ch in title)
    return max(5.5, min(largest, WIDTH / max(ems, 1.0)))


def axis_label(series: Series, value: float) -> str:
    if series.kind == "uplink":
        return f"{value:.0f}" if value >= 10 else f"{value:.1f}"
    return f"{value * 100:.0f}%"


def shapes(series: Series, title: str) -> list[Shape]:
    """Bars for the months with a value, a dashed reference line, axis labels and the title."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    bottom, top = series.bottom, series.top
    span = (top - bottom) or 1.0

    def y_of(value: float) -> float:
        return TOP + plot_h * (1 - (min(max(value, bottom), top) - bottom) / span)

    out: list[Shape] = [Text(0, 11, title, title_size(title), fill="#1f2328"),
                        Line(LEFT, TOP + plot_h, LEFT + plot_w, TOP + plot_h, "#8c959f"),
                        Text(LEFT - 3, TOP + 4, axis_label(series, top), 7.5, "end"),
                        Text(LEFT - 3, TOP + plot_h, axis_label(series, bottom), 7.5, "end")]
    slot = plot_w / MONTHS
    for i, value in enumerate(series.values):
        x = LEFT + i * slot
        out.append(Text(x + slot / 2, HEIGHT - 4, str(i + 1), 7, "middle"))
        if value is None:
            continue
        low = series.reference is not None and value < series.reference
        y = min(y_of(value), TOP + plot_h - 1.5)      # a zero is a sliver, not a gap (gap = no data)
        out.append(Rect(x + slot * 0.18, y, slot * 0.64, TOP + plot_h - y,
                        BAD if low else COLOURS.get(series.kind, "#0969da")))
    if series.reference is not None and bottom <= series.reference <= top:
        y = y_of(series.reference)
        out.append(Line(LEFT, y, LEFT + plot_w, y, BAD, dashed=True))
    return out
