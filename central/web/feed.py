"""The dashboard's change feed: which kinds of data changed, as the instance's change bus tells.

Every committed transaction of this instance announces the dashboard topics its writes touched
(``central.notify.unit``), and other instances' commits arrive through PostgreSQL LISTEN/NOTIFY,
so a change written anywhere shows up without reading any table: the cost no longer grows with
what the database holds. Topics are gathered for ``interval`` seconds and sent together, so a busy
ingest costs a browser one event per interval, not one per message. Browsers get only the names
of the topics that changed and fetch the data through the REST API, so every role rule of the API
applies to what they see. After the change listener reconnects (it may have missed changes),
every topic counts as changed once.
"""

from __future__ import annotations

import asyncio
import logging

from central.notify.bus import ChangeBus
from central.notify.changes import TOPICS, Changes

log = logging.getLogger(__name__)

DEFAULT_INTERVAL_SECONDS = 0.5


class ChangeFeed:
    """Listens on the bus while at least one browser listens; each listener gets the changed topics."""

    def __init__(self, bus: ChangeBus, interval: float = DEFAULT_INTERVAL_SECONDS) -> None:
        self._bus = bus
        self.interval = interval
        self._listeners: set[asyncio.Queue[list[str] | None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: set[str] = set()
        self._flush: asyncio.TimerHandle | None = None

    def subscribe(self) -> asyncio.Queue[list[str] | None]:
        queue: asyncio.Queue[list[str] | None] = asyncio.Queue(maxsize=16)
        if not self._listeners:
            self._loop = asyncio.get_running_loop()
            self._bus.subscribe(self._on_changes)
        self._listeners.add(queue)
        return queue

    def close(self) -> None:
        """End every stream (None tells a listener to stop): call on shutdown so the server need not
        wait for browsers to hang up. Browsers reconnect to the next instance on their own."""
        for queue in list(self._listeners):
            _drain(queue)
            queue.put_nowait(None)

    def unsubscribe(self, queue: asyncio.Queue[list[str] | None]) -> None:
        self._listeners.discard(queue)
        if not self._listeners:
            self._bus.unsubscribe(self._on_changes)
            if self._flush is not None:
                self._flush.cancel()
                self._flush = None
            self._pending.clear()

    # -- any thread -> the event loop ---------------------------------------------------------------
    def _on_changes(self, changes: Changes) -> None:
        topics = set(TOPICS) if changes.resync else changes.topics & set(TOPICS)
        loop = self._loop
        if topics and loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._note, topics)

    def _note(self, topics: set[str]) -> None:
        if not self._listeners:
            return
        self._pending |= topics
        if self._flush is None:
            self._flush = asyncio.get_running_loop().call_later(self.interval, self._send)

    def _send(self) -> None:
        self._flush = None
        topics, self._pending = [t for t in TOPICS if t in self._pending], set()
        if topics:
            self._publish(topics)

    def _publish(self, topics: list[str]) -> None:
        for queue in list(self._listeners):
            if queue.full():
                # A slow browser only needs to know that everything may have changed.
                _drain(queue)
                queue.put_nowait(list(TOPICS))
            else:
                queue.put_nowait(topics)


def _drain(queue: asyncio.Queue[list[str] | None]) -> None:
    while not queue.empty():
        queue.get_nowait()
