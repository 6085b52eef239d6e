"""Every error is a JSON body ``{"detail": "<clear message>", "status": <code>}`` (plus named fields
some errors carry, e.g. a meeting conflict's ``code`` and ``conflicts``)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Match
from starlette.types import Scope

from central import openapi

log = logging.getLogger(__name__)


def _body(status: int, detail: str, **extra: object) -> dict[str, object]:
    return {"detail": detail, "status": status, **extra}


def _where(loc: tuple[object, ...] | list[object]) -> str:
    return ".".join(str(part) for part in loc) or "request"


def _leaf_routes(routes: Iterable[Any]) -> Iterator[BaseRoute]:
    """Routes of the app and of every included router (FastAPI keeps those nested)."""
    for route in routes:
        nested = getattr(route, "original_router", None)
        if nested is not None:
            yield from _leaf_routes(nested.routes)
        elif isinstance(route, BaseRoute):
            yield route


def allowed_methods(app: FastAPI, scope: Scope) -> list[str]:
    """Every method some route serves at this path (Starlette names only the first route's)."""
    methods: set[str] = set()
    probe = {**scope, "method": "\x00"}          # no route serves it: a path match is PARTIAL
    for route in _leaf_routes(app.router.routes):
        match, _ = route.matches(probe)
        if match in (Match.PARTIAL, Match.FULL):
            methods |= set(getattr(route, "methods", None) or ())
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


def install(app: FastAPI) -> None:
    openapi.install(app)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        extra: dict[str, object] = {}
        if isinstance(exc.detail, dict) and isinstance(exc.detail.get("detail"), str):
            # {"detail": message, **fields}: the message stays the detail, the fields go beside it
            extra = {k: v for k, v in exc.detail.items() if k not in ("detail", "status")}
            detail = exc.detail["detail"]
        else:
            detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(allowed_methods(app, request.scope))
        return JSONResponse(_body(exc.status_code, detail, **extra), status_code=exc.status_code,
                            headers=headers or None)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"where": _where(err.get("loc", ())), "problem": str(err.get("msg", "invalid"))}
            for err in exc.errors()
        ]
        message = "; ".join(f"{p['where']}: {p['problem']}" for p in problems[:5])
        return JSONResponse(_body(422, f"invalid request: {message}", errors=problems), status_code=422)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return JSONResponse(_body(500, "internal server error"), status_code=500)
