"""Liveness and Prometheus metrics."""

from __future__ import annotations

from anyio import to_thread
from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, PlainTextResponse
from sqlalchemy import func, select, text

from central.api.deps import get_ctx
from central.context import AppContext
from central.models import CommandRow, Fault

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=None)
async def healthz(ctx: AppContext = Depends(get_ctx)) -> JSONResponse:
    """200 when this instance can reach its database; 503 while it drains for a planned restart.
    The ``X-RoomOps-Instance`` header names the instance that answered (behind a balancer)."""
    headers = {"X-RoomOps-Instance": ctx.instance_id}
    if ctx.draining:     # a planned restart: the load balancer sends new links elsewhere
        return JSONResponse({"status": "draining"}, status_code=503, headers=headers)

    def check() -> None:
        with ctx.unit() as session:
            session.execute(text("SELECT 1"))

    await to_thread.run_sync(check)
    return JSONResponse({"status": "ok"}, headers=headers)


@router.get("/metrics", response_class=PlainTextResponse)
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
