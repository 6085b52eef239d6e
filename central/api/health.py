"""Liveness and Prometheus metrics."""

from __future__ import annotations

import hmac

from anyio import to_thread
from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.responses import JSONResponse, PlainTextResponse
from sqlalchemy import func, select, text

from central.api.deps import get_ctx
from central.context import AppContext
from central.models import CommandRow, Fault

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=None)
async def healthz(ctx: AppContext = Depends(get_ctx)) -> JSONResponse:
    """200 when this instance can reach its database (``ok``, or ``degraded`` with the supervised
    tasks failing now and their last error: the instance still serves); 503 while it drains for a
    planned restart.
    The ``X-RoomOps-Instance`` header names the instance that answered (behind a balancer)."""
    headers = {"X-RoomOps-Instance": ctx.instance_id}
    if ctx.draining:     # a planned restart: the load balancer sends new links elsewhere
        return JSONResponse({"status": "draining"}, status_code=503, headers=headers)

    def check() -> None:
        with ctx.unit() as session:
            session.execute(text("SELECT 1"))

    await to_thread.run_sync(check)
    failing = ctx.metrics.tasks.degraded()
    if failing:
        return JSONResponse({"status": "degraded", "tasks": failing}, headers=headers)
    return JSONResponse({"status": "ok"}, headers=headers)


def metrics_access(request: Request, ctx: AppContext = Depends(get_ctx)) -> None:
    """With ``ROOMOPS_METRICS_TOKEN`` set, only ``Authorization: Bearer <token>`` may scrape."""
    expected = ctx.settings.metrics_token.get_secret_value()
    if not expected:
        return
    scheme, _, sent = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(sent.strip().encode(), expected.encode()):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "metrics need the scrape token (Bearer)",
                            headers={"WWW-Authenticate": "Bearer"})


METRICS_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {"content": {"text/plain": {"schema": {"type": "string"}}},
          "description": "Prometheus text format"},
    401: {"description": "ROOMOPS_METRICS_TOKEN is set and the bearer token is missing or wrong"},
}


@router.get("/metrics", response_class=PlainTextResponse, responses=METRICS_RESPONSES,  # type: ignore[arg-type]
            dependencies=[Depends(metrics_access)])
async def metrics(ctx: AppContext = Depends(get_ctx)) -> PlainTextResponse:
    def counts() -> tuple[int, dict[str, int]]:
        with ctx.unit() as session:
            open_faults = session.scalar(
                select(func.count()).select_from(Fault).where(Fault.closed_at.is_(None))
            )
            rows = session.execute(select(CommandRow.state, func.count()).group_by(CommandRow.state))
            by_state = {state: int(n) for state, n in rows}
            return int(open_faults or 0), by_state

    open_faults, by_state = await to_thread.run_sync(counts)
    body = ctx.metrics.render(connected_agents=len(ctx.hub.connected_sites), open_faults=open_faults,
                              commands_by_state=by_state)
    return PlainTextResponse(body, media_type="text/plain; version=0.0.4; charset=utf-8")
