"""The chart primitives of ``chart_draw`` as inline SVG (dashboard, HTML report) and as a
reportlab ``Drawing`` (annual PDF). Titles come translated from the caller."""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

from reportlab.graphics.shapes import Drawing, Group
from reportlab.graphics.shapes import Line as PdfLine
from reportlab.graphics.shapes import Rect as PdfRect
from reportlab.graphics.shapes import String as PdfString
from reportlab.lib import colors

from central.reports.chart_draw import HEIGHT, WIDTH, Line, Rect, Shape, Text, shapes
from central.reports.charts import Series

ANCHOR_SVG = {"start": "start", "middle": "middle", "end": "end"}


def svg(series: Series, title: str, site_id: str = "") -> str:
    """One chart as an ``<svg>`` element (no scripts, no external references)."""
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH:.0f} {HEIGHT:.0f}" role="img" '
             f'class="chart chart-{series.kind}" data-site={quoteattr(site_id)} data-kind="{series.kind}" '
             f'aria-label={quoteattr(title)}>']
    for shape in shapes(series, title):
        parts.append(_svg_shape(shape))
    parts.append("</svg>")
    return "".join(parts)


def _svg_shape(shape: Shape) -> str:
    if isinstance(shape, Rect):
        return (f'<rect x="{shape.x:.1f}" y="{shape.y:.1f}" width="{shape.w:.1f}" height="{shape.h:.1f}" '
                f'fill="{shape.fill}" class="chart-bar"/>')
    if isinstance(shape, Line):
        dash = ' stroke-dasharray="4 3"' if shape.dashed else ""
        return (f'<line x1="{shape.x1:.1f}" y1="{shape.y1:.1f}" x2="{shape.x2:.1f}" y2="{shape.y2:.1f}" '
                f'stroke="{shape.stroke}" stroke-width="1"{dash}/>')
    return (f'<text x="{shape.x:.1f}" y="{shape.y:.1f}" font-size="{shape.size}" fill="{shape.fill}" '
            f'text-anchor="{ANCHOR_SVG[shape.anchor]}">{escape(shape.text)}</text>')


def drawing(series: Series, title: str, font: str, scale: float = 1.0) -> Drawing:
    """One chart as a reportlab drawing (PDF: y grows upwards, so every y is flipped)."""
    group = Group()
    for shape in shapes(series, title):
        group.add(_pdf_shape(shape, font))
    group.scale(scale, scale)
    out = Drawing(WIDTH * scale, HEIGHT * scale)
    out.add(group)
    return out


def _pdf_shape(shape: Shape, font: str) -> PdfRect | PdfLine | PdfString:
    if isinstance(shape, Rect):
        return PdfRect(shape.x, HEIGHT - shape.y - shape.h, shape.w, shape.h,
                       fillColor=colors.HexColor(shape.fill), strokeColor=None)
    if isinstance(shape, Line):
        return PdfLine(shape.x1, HEIGHT - shape.y1, shape.x2, HEIGHT - shape.y2,
                       strokeColor=colors.HexColor(shape.stroke), strokeWidth=0.8,
                       strokeDashArray=[4, 3] if shape.dashed else None)
    assert isinstance(shape, Text)
    return PdfString(shape.x, HEIGHT - shape.y, shape.text, fontName=font, fontSize=shape.size,
                     fillColor=colors.HexColor(shape.fill), textAnchor=shape.anchor)
