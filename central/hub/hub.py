"""The agent hub: one live WebSocket per site, woken when its commands or schedule change."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING

from central.hub.connection import AgentConnection

if TYPE_CHECKING:
    from central.context import AppContext

log = logging.getLogger(__name__)


class AgentHub:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self._loop: asyncio.AbstractEventLoop | None = None
        self._connections: dict[str, AgentConnection] = {}
        self._lock = threading.Lock()

    def bind_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    @property
    def connected_sites(self) -> list[str]:
        with self._lock:
            return sorted(self._connections)

    def register(self, conn: AgentConnection) -> AgentConnection | None:
        """Make ``conn`` the site's connection; returns the one it replaces."""
        with self._lock:
            previous = self._connections.get(conn.site_id)
            self._connections[conn.site_id] = conn
            return previous

    def unregister(self, conn: AgentConnection) -> bool:
        """Forget ``conn``; False when a newer connection of the site already replaced it."""
        with self._lock:
            if self._connections.get(conn.site_id) is conn:
                del self._connections[conn.site_id]
                return True
            return False

    def wake(self, command_sites: Iterable[str], schedule_sites: Iterable[str] = ()) -> None:
        """Thread-safe: called after a commit from request threads or the event loop."""
        command_sites, schedule_sites = set(command_sites), set(schedule_sites)
        if not command_sites and not schedule_sites:
            return
        with self._lock:
            targets = [
                (conn, conn.site_id in schedule_sites)
                for site, conn in self._connections.items()
                if site in command_sites or site in schedule_sites
            ]
        if self._loop is None or not targets:
            return
        for conn, schedule in targets:
            self._loop.call_soon_threadsafe(conn.wake, schedule)

    async def close_all(self) -> None:
        with self._lock:
            connections = list(self._connections.values())
        for conn in connections:
            await conn.close(1001, "central is shutting down")
