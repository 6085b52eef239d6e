"""The agent hub: one live WebSocket per site, the links' database writer, and delivery rounds.

The hub is built by the composition root (``central.app``) with only what it uses: a unit-of-work
factory, the settings, the metrics and a ``publish`` callable for its own wake-ups. It hears of
committed changes through ``on_changes`` (subscribed to the instance's change bus): changes of
this instance right after their commit, other instances' through PostgreSQL LISTEN/NOTIFY. One
delivery round then reads what is due for all touched sites at once and hands each connection
its messages. A slow safety-net round over every connected site (``delivery_poll_seconds``)
picks up anything a lost notification or a failed round left behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
import threading
from collections.abc import Callable, Coroutine, Iterable
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from central.hub import delivery
from central.hub.connection import (
    CLOSE_REPLACED,
    CLOSE_RESTART,
    CLOSE_REVOKED,
    AgentConnection,
    restart_reason,
)
from central.hub.writer import BatchWriter, UnitFactory
from central.metrics import Metrics
from central.notify.changes import Changes
from central.services.ingest import OrchestrationLimits
from central.settings import Settings
from central.supervise import supervise

log = logging.getLogger(__name__)


class AgentHub:
    def __init__(self, unit: UnitFactory, settings: Settings, metrics: Metrics,
                 publish: Callable[[Changes], None], instance_id: str) -> None:
        self.unit = unit
        self.settings = settings
        self.metrics = metrics
        self.publish = publish
        self.instance_id = instance_id
        self.limits = OrchestrationLimits(settings.command_deadline_seconds,
                                          settings.default_multisite_capacity)
        self.writer = BatchWriter(unit, name="link-writer")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._connections: dict[str, AgentConnection] = {}
        self._lock = threading.Lock()
        # sites with something to deliver; touched on the event loop only
        self._due_commands: set[str] = set()
        self._due_schedule: set[str] = set()
        self._due = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._closing: set[asyncio.Task[None]] = set()
        #: delivery rounds run (for tests and metrics)
        self.rounds = 0

    def bind_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        if not self._tasks:
            tasks = self.metrics.tasks
            self._tasks = [loop.create_task(supervise("hub-delivery", self._deliver_forever, tasks),
                                            name="hub-delivery"),
                           loop.create_task(supervise("hub-poll", self._poll_forever, tasks),
                                            name="hub-poll")]

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The event loop the hub's links and delivery run on (None before the app started)."""
        return self._loop

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
        """Thread-safe: mark sites due for their commands / schedule."""
        self.on_changes(Changes(commands=set(command_sites), schedules=set(schedule_sites)))

    def on_changes(self, changes: Changes) -> None:
        """Thread-safe, never blocks: called by the change bus from any thread."""
        loop = self._loop
        if not changes or loop is None or loop.is_closed():
            return
        try:
            on_loop = asyncio.get_running_loop() is loop
        except RuntimeError:
            on_loop = False
        if on_loop:
            self._apply(changes)
        else:
            loop.call_soon_threadsafe(self._apply, changes)

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

    async def drain(self, spread_seconds: float) -> int:
        """Close every link for a planned restart, each with its own retry hint within the spread."""
        with self._lock:
            connections = list(self._connections.values())
        window = max(0.5, spread_seconds)
        await asyncio.gather(*(conn.close(CLOSE_RESTART, restart_reason(random.uniform(0.5, window)))
                               for conn in connections), return_exceptions=True)
        return len(connections)

    async def close_all(self, code: int = 1001, reason: str = "central is shutting down") -> None:
        with self._lock:
            connections = list(self._connections.values())
        await asyncio.gather(*(conn.close(code, reason) for conn in connections), return_exceptions=True)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        await self.writer.close()

    # -- on the event loop ------------------------------------------------------------------------
    def _apply(self, changes: Changes) -> None:
        if changes.resync:
            with self._lock:
                everyone = set(self._connections)
            self._mark_due(everyone, everyone)
        else:
            self._mark_due(changes.commands, changes.schedules)
        if changes.links or changes.tokens:
            self._close_stale(changes.links, changes.tokens)

    def _close_stale(self, links: dict[str, int], tokens: set[str]) -> None:
        """Close links taken over by a newer one (on another instance) or whose token was revoked."""
        with self._lock:     # by site, not a scan: every accepted link anywhere announces itself
            taken = [conn for site, newer in links.items()
                     if (conn := self._connections.get(site)) is not None
                     and conn.generation is not None and conn.generation < newer]
            revoked = [conn for conn in self._connections.values()
                       if conn.token_id is not None and conn.token_id in tokens] if tokens else []
        for conn in taken:
            self._spawn(conn.close(CLOSE_REPLACED, "replaced by a newer connection of the site"))
        for conn in revoked:
            self._spawn(conn.close(CLOSE_REVOKED, "the site token was revoked"))

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    def _mark_due(self, command_sites: set[str], schedule_sites: set[str]) -> None:
        if not command_sites and not schedule_sites:
            return
        self._due_commands |= command_sites
        self._due_schedule |= schedule_sites
        self._due.set()

    async def _poll_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.delivery_poll_seconds)   # a cadence, not a wait on a device
            with self._lock:
                sites = set(self._connections)
            self._mark_due(sites, set())

    async def _deliver_forever(self) -> None:
        while True:
            await self._due.wait()
            self._due.clear()
            commands_due, self._due_commands = self._due_commands, set()
            schedule_due, self._due_schedule = self._due_schedule, set()
            try:
                await self._deliver(commands_due, schedule_due)
                self.metrics.tasks.ok("hub-delivery")
            except Exception as exc:  # noqa: BLE001 - one failed round must not end delivery for good
                self.metrics.tasks.failed("hub-delivery", exc)    # counted and shown like a restart
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
