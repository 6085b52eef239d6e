"""The agent hub: one live WebSocket per site, the links' database writer, and delivery rounds.

A commit that queues commands or changes a schedule tells the hub which sites it touched
(``wake``). One delivery round then reads what is due for all of those sites at once and hands
each connection its messages; the connections send them. A periodic round over every connected
site picks up commands queued by another central instance (or missed by a failed round).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING

from sqlalchemy.exc import SQLAlchemyError

from central.hub import delivery
from central.hub.connection import CLOSE_REVOKED, AgentConnection
from central.hub.writer import BatchWriter
from central.supervise import supervise

if TYPE_CHECKING:
    from central.context import AppContext

log = logging.getLogger(__name__)


class AgentHub:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self.writer = BatchWriter(ctx.unit)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._connections: dict[str, AgentConnection] = {}
        self._lock = threading.Lock()
        # sites with something to deliver; touched on the event loop only
        self._due_commands: set[str] = set()
        self._due_schedule: set[str] = set()
        self._due = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        #: delivery rounds run (for tests and metrics)
        self.rounds = 0

    def bind_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        if not self._tasks:
            tasks = self.ctx.metrics.tasks
            self._tasks = [loop.create_task(supervise("hub-delivery", self._deliver_forever, tasks),
                                            name="hub-delivery"),
                           loop.create_task(supervise("hub-poll", self._poll_forever, tasks),
                                            name="hub-poll")]

    @property
    def connected_sites(self) -> list[str]:
        with self._lock:
            return sorted(self._connections)

    def register(self, conn: AgentConnection) -> AgentConnection | None:
        """Make ``conn`` the site's connection; returns the one it replaces. On the event loop."""
        if self._loop is None:      # an app run without its lifespan: start delivery here
            self.bind_loop(asyncio.get_running_loop())
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
        """Thread-safe: called after a commit from request threads, the writer or the event loop."""
        command_sites, schedule_sites = set(command_sites), set(schedule_sites)
        loop = self._loop
        if (not command_sites and not schedule_sites) or loop is None or loop.is_closed():
            return
        try:
            on_loop = asyncio.get_running_loop() is loop
        except RuntimeError:
            on_loop = False
        if on_loop:
            self._mark_due(command_sites, schedule_sites)
        else:
            loop.call_soon_threadsafe(self._mark_due, command_sites, schedule_sites)

    def close_links_for(self, site_ids: Iterable[str] = (), token_ids: Iterable[str] = (), *,
                        reason: str = "the site's credentials were revoked") -> int:
        """Close the open links of these sites or tokens at once (revocation, a disabled site).

        Thread-safe; returns how many links are being closed. The one entry point for whoever learns
        of a revocation (the admin API here; another instance's notification later).
        """
        sites, tokens = set(site_ids), set(token_ids)
        with self._lock:
            doomed = [c for c in self._connections.values() if c.site_id in sites or c.token_id in tokens]
        loop = self._loop
        if not doomed or loop is None or loop.is_closed():
            return 0
        for conn in doomed:
            asyncio.run_coroutine_threadsafe(conn.close(CLOSE_REVOKED, reason), loop)
        return len(doomed)

    async def close_all(self) -> None:
        with self._lock:
            connections = list(self._connections.values())
        for conn in connections:
            await conn.close(1001, "central is shutting down")
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        await self.writer.close()

    # -- delivery rounds (event loop) -------------------------------------------------------------
    def _mark_due(self, command_sites: set[str], schedule_sites: set[str]) -> None:
        self._due_commands |= command_sites
        self._due_schedule |= schedule_sites
        self._due.set()

    async def _poll_forever(self) -> None:
        while True:
            await asyncio.sleep(self.ctx.settings.delivery_poll_seconds)   # a cadence, not a wait on a device
            with self._lock:
                sites = set(self._connections)
            if sites:
                self._mark_due(sites, set())

    async def _deliver_forever(self) -> None:
        while True:
            await self._due.wait()
            self._due.clear()
            commands_due, self._due_commands = self._due_commands, set()
            schedule_due, self._due_schedule = self._due_schedule, set()
            try:
                await self._deliver(commands_due, schedule_due)
                self.ctx.metrics.tasks.ok("hub-delivery")
            except Exception as exc:  # noqa: BLE001 - one failed round must not end delivery for good
                self.ctx.metrics.tasks.failed("hub-delivery", exc)    # counted and shown like a restart
                # keep them due; the next poll tick starts the next round (no tight retry loop)
                log.error("delivery to %d site(s) failed: %s", len(commands_due | schedule_due), exc,
                          exc_info=not isinstance(exc, SQLAlchemyError))
                self._due_commands |= commands_due
                self._due_schedule |= schedule_due

    async def _deliver(self, commands_due: set[str], schedule_due: set[str]) -> None:
        with self._lock:
            conns = {site: conn for site, conn in self._connections.items()
                     if site in commands_due or site in schedule_due}
        if not conns:
            return
        self.rounds += 1
        sent = {site: frozenset(conn.sent_ids) for site, conn in conns.items() if site in commands_due}
        schedule_sites = [site for site in conns if site in schedule_due]
        found = await self.writer.submit(
            functools.partial(delivery.collect, schedule_sites=schedule_sites, sent=sent))
        for site, conn in conns.items():
            conn.deliver(found.schedules.get(site), found.commands.get(site, []), found.queued.get(site))
