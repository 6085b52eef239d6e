"""Uplink measurement endpoints for agents (site token as Bearer): ping, download, upload."""

from __future__ import annotations

from collections.abc import Iterator

from anyio import to_thread
from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.responses import StreamingResponse

from central.api.deps import get_ctx
from central.context import AppContext
from central.hub.link import bearer_token
from central.services.accounts import site_for_token

router = APIRouter(prefix="/api/v1/uplink", tags=["uplink"])
CHUNK = 64 * 1024
_FILL = bytes(range(256)) * (CHUNK // 256)


async def agent_site(request: Request, ctx: AppContext = Depends(get_ctx)) -> str:
    token = bearer_token(request.headers.get("authorization"))
    if token is None:
        raise HTTPException(401, "send the site's agent token as Bearer",
                            headers={"WWW-Authenticate": "Bearer"})

    def lookup() -> str | None:
        with ctx.unit() as session:
            return site_for_token(session, token)

    site = await to_thread.run_sync(lookup)
    if site is None:
        raise HTTPException(401, "invalid or revoked site token", headers={"WWW-Authenticate": "Bearer"})
    return site


@router.get("/ping", status_code=204)
async def ping(_: str = Depends(agent_site)) -> Response:
    return Response(status_code=204)


@router.get("/download")
async def download(bytes_: int = Query(..., alias="bytes", ge=0), _: str = Depends(agent_site),
                   ctx: AppContext = Depends(get_ctx)) -> StreamingResponse:
    limit = ctx.settings.uplink_max_download_bytes
    if bytes_ > limit:
        raise HTTPException(422, f"bytes must be at most {limit}")

    def body() -> Iterator[bytes]:
        left = bytes_
        while left > 0:
            piece = _FILL[: min(CHUNK, left)]
            left -= len(piece)
            yield piece

    return StreamingResponse(body(), media_type="application/octet-stream",
                             headers={"Content-Length": str(bytes_), "Cache-Control": "no-store"})


@router.post("/upload")
async def upload(request: Request, _: str = Depends(agent_site),
                 ctx: AppContext = Depends(get_ctx)) -> dict[str, int]:
    limit = ctx.settings.uplink_max_upload_bytes
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit:
            raise HTTPException(413, f"upload larger than {limit} bytes")
    return {"bytes": received}
