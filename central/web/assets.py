"""Templates and static files of the dashboard, served by the app itself (no CDN, no build step)."""

from __future__ import annotations

import hashlib
import mimetypes
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import HTTPException, status
from fastapi.responses import FileResponse, HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from central.web.i18n import catalogue, translator

STATIC_DIR = (Path(__file__).parent / "static").resolve()
TEMPLATE_DIR = Path(__file__).parent / "templates"
STATIC_PREFIX = "/static"

mimetypes.add_type("text/javascript", ".js")
mimetypes.add_type("image/svg+xml", ".svg")


@cache
def _version(name: str) -> str:
    """A content hash for cache busting: a changed file gets a new URL."""
    return hashlib.sha256((STATIC_DIR / name).read_bytes()).hexdigest()[:10]


def static_url(name: str) -> str:
    return f"{STATIC_PREFIX}/{name}?v={_version(name)}"


@cache
def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["static"] = static_url
    return env


def render(template: str, lang: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    html = _environment().get_template(template).render(lang=lang, t=translator(lang), **context)
    return HTMLResponse(html, status_code=status_code, headers={"Cache-Control": "no-store"})


def texts(lang: str) -> dict[str, str]:
    return dict(catalogue(lang))


def static_file(path: str) -> FileResponse:
    """A file under static/, never outside it."""
    target = (STATIC_DIR / path).resolve()
    if not target.is_relative_to(STATIC_DIR) or not target.is_file():
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no static file {path!r}")
    media_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
    # Revalidate every time: modules import each other by plain URL, so a stale copy could mix versions.
    return FileResponse(target, media_type=media_type, headers={"Cache-Control": "no-cache"})
