"""The ``/agent/v1/link`` WebSocket endpoint: authenticate the site token, then run the link."""

from __future__ import annotations

import functools
import logging

from anyio import to_thread
from fastapi import APIRouter, WebSocket
from sqlalchemy.orm import Session

from central.context import AppContext
from central.hub.connection import CLOSE_POLICY, CLOSE_REPLACED, AgentConnection
from central.models import Site, utcnow
from central.services import availability
from central.services.accounts import site_for_token

log = logging.getLogger(__name__)
router = APIRouter()


def bearer_token(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


@router.websocket("/agent/v1/link")
async def agent_link(websocket: WebSocket) -> None:
    ctx: AppContext = websocket.app.state.ctx
    token = bearer_token(websocket.headers.get("authorization"))
    site_id = await to_thread.run_sync(_site_for, ctx, token) if token else None
    if site_id is None:
        log.warning("agent link refused: missing or invalid site token from %s", _peer(websocket))
        await websocket.close(CLOSE_POLICY)     # before accept: the handshake gets HTTP 403
        return
    await websocket.accept()
    assert ctx.hub is not None
    conn = AgentConnection(ctx, websocket, site_id)
    previous = ctx.hub.register(conn)
    if previous is not None:
        await previous.close(CLOSE_REPLACED, "replaced by a newer connection of the site")
    await ctx.hub.writer.submit(functools.partial(_mark, site_id=site_id, connected=True))
    log.info("agent of site %s connected from %s", site_id, _peer(websocket))
    try:
        await conn.run()
    finally:
        if ctx.hub.unregister(conn):
            await ctx.hub.writer.submit(functools.partial(_mark, site_id=site_id, connected=False))
        log.info("agent of site %s disconnected", site_id)


def _site_for(ctx: AppContext, token: str) -> str | None:
    with ctx.unit() as session:
        return site_for_token(session, token)


def _mark(session: Session, site_id: str, connected: bool) -> None:
    site = session.get(Site, site_id)
    if site is None:
        return
    now = utcnow()
    site.agent_connected = connected
    site.last_seen = now
    availability.record_link(session, site_id=site_id, connected=connected, at=now)   # observed time
    if connected:
        site.connected_at = now


def _peer(websocket: WebSocket) -> str:
    return f"{websocket.client.host}:{websocket.client.port}" if websocket.client else "?"
