"""The ``/agent/v1/link`` WebSocket endpoint: authenticate the site token, then run the link."""

from __future__ import annotations

import functools
import logging

from anyio import to_thread
from fastapi import APIRouter, WebSocket
from sqlalchemy import update
from sqlalchemy.orm import Session

from central.hub.connection import CLOSE_POLICY, CLOSE_REPLACED, AgentConnection
from central.hub.hub import AgentHub
from central.models import Site, utcnow
from central.notify.unit import changes_of
from central.security import site_token_id
from central.services import agent_addresses, availability
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
    hub: AgentHub = websocket.app.state.hub
    token = bearer_token(websocket.headers.get("authorization"))
    site_id = await to_thread.run_sync(_site_for, hub, token) if token else None
    if site_id is None:
        log.warning("agent link refused: missing or invalid site token from %s", _peer(websocket))
        await websocket.close(CLOSE_POLICY)     # before accept: the handshake gets HTTP 403
        return
    await websocket.accept()
    conn = AgentConnection(hub, websocket, site_id, site_token_id(token) if token else None)
    previous = hub.register(conn)
    if previous is not None:
        await previous.close(CLOSE_REPLACED, "replaced by a newer connection of the site")
    conn.generation = await hub.writer.submit(
        functools.partial(_connected, site_id=site_id, instance=hub.instance_id,
                          peer=websocket.client.host if websocket.client else ""))
    hub.metrics.link_accepted()
    log.info("agent of site %s connected from %s", site_id, _peer(websocket))
    try:
        await conn.run()
    finally:
        if hub.unregister(conn) and conn.generation is not None:
            await hub.writer.submit(functools.partial(
                _disconnected, site_id=site_id, instance=hub.instance_id, generation=conn.generation))
        log.info("agent of site %s disconnected", site_id)


def _site_for(hub: AgentHub, token: str) -> str | None:
    with hub.unit() as session:
        return site_for_token(session, token)


def _connected(session: Session, site_id: str, instance: str, peer: str = "") -> int | None:
    """Take the site's link for this instance: a new generation that any older link must yield to."""
    site = session.get(Site, site_id, with_for_update=True)
    if site is None:
        return None
    now = utcnow()
    site.agent_connected = True
    site.last_seen = now
    site.connected_at = now
    agent_addresses.record(session, site_id, peer, now)   # the annual report's "address changed"
    availability.record_link(session, site_id=site_id, connected=True, at=now)   # observed time
    site.link_instance = instance
    site.link_generation = (site.link_generation or 0) + 1
    changes_of(session).links[site_id] = site.link_generation
    return site.link_generation


def _disconnected(session: Session, site_id: str, instance: str, generation: int) -> None:
    """Mark the site off-line only if no newer link (here or on another instance) took it over."""
    now = utcnow()
    result = session.execute(
        update(Site)
        .where(Site.id == site_id, Site.link_instance == instance, Site.link_generation == generation)
        .values(agent_connected=False, last_seen=now))
    if result.rowcount:      # type: ignore[attr-defined]
        availability.record_link(session, site_id=site_id, connected=False, at=now)   # observed time


def _peer(websocket: WebSocket) -> str:
    return f"{websocket.client.host}:{websocket.client.port}" if websocket.client else "?"
