"""HTML: one printable page per document, with the actions the signed-in user may take."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from central.reports.document import Document
from central.reports.texts import translator

TEMPLATES = Path(__file__).parent / "templates"


@cache
def _environment() -> Environment:
    return Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]),
                       undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def render(doc: Document, *, actions: dict[str, Any] | None = None, csrf: str = "",
           links: dict[str, str] | None = None) -> str:
    """``actions``: what forms to show (e.g. {"signoff": "/api/v1/..."}); ``links``: other formats."""
    return _environment().get_template("document.html").render(
        doc=doc, t=translator(doc.lang), actions=actions or {}, csrf=csrf, links=links or {})
