"""Every error is a JSON body ``{"detail": "<clear message>", "status": <code>}`` (plus named fields
some errors carry, e.g. a meeting conflict's ``code`` and ``conflicts``)."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)


def _body(status: int, detail: str, **extra: object) -> dict[str, object]:
    return {"detail": detail, "status": status, **extra}


def _where(loc: tuple[object, ...] | list[object]) -> str:
    return ".".join(str(part) for part in loc) or "request"


def install(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        extra: dict[str, object] = {}
        if isinstance(exc.detail, dict) and isinstance(exc.detail.get("detail"), str):
            # {"detail": message, **fields}: the message stays the detail, the fields go beside it
            extra = {k: v for k, v in exc.detail.items() if k not in ("detail", "status")}
            detail = exc.detail["detail"]
        else:
            detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        return JSONResponse(_body(exc.status_code, detail, **extra), status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

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
