"""HTML: one printable page per document, with the actions the signed-in user may take."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from central.reports.chart_render import svg
from central.reports.document import Document, Figure, Section
from central.reports.texts import translator

TEMPLATES = Path(__file__).parent / "templates"


@cache
def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.globals["chart_svg"] = chart_markup
    return env


def chart_markup(figure: Figure) -> Markup:
    """Inline SVG of a chart; every text in it is escaped by ``chart_render.svg``."""
    return Markup(svg(figure.series, figure.title, figure.site_id))  # noqa: S704 - built and escaped by us


def render(doc: Document, *, actions: dict[str, Any] | None = None, csrf: str = "",
           links: dict[str, str] | None = None) -> str:
    """``actions``: what forms to show (e.g. {"signoff": "/api/v1/..."}); ``links``: other formats."""
    return _environment().get_template("document.html").render(
        doc=doc, t=translator(doc.lang), actions=actions or {}, csrf=csrf, links=links or {})


def figures(section: Section) -> str:
    """Only the charts of ``section``, as a fragment for the dashboard (one row per site)."""
    return "".join(f'<div class="figures" data-site="{escape(row[0].site_id) if row else ""}">'
                   + "".join(chart_markup(f) for f in row) + "</div>" for row in section.figures)
