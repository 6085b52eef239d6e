"""``ChangeBus``: one instance's fan-out of committed changes to the hub and the dashboard feed."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from central.notify.changes import Changes

log = logging.getLogger(__name__)

Subscriber = Callable[[Changes], None]


class ChangeBus:
    """Subscribers are called in the publishing thread and must only hand the changes on (thread-safe,
    never blocking): the hub and the feed post them to their event loop."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: list[Subscriber] = []
        #: change sets published (for tests and metrics)
        self.published = 0

    def subscribe(self, subscriber: Subscriber) -> None:
        with self._lock:
            self._subscribers.append(subscriber)

    def unsubscribe(self, subscriber: Subscriber) -> None:
        with self._lock:
            if subscriber in self._subscribers:
                self._subscribers.remove(subscriber)

    def publish(self, changes: Changes) -> None:
        if not changes:
            return
        with self._lock:
            subscribers = list(self._subscribers)
            self.published += 1
        for subscriber in subscribers:
            try:
                subscriber(changes)
            except Exception:  # noqa: BLE001 - one subscriber's bug must not cost the others their wake-up
                log.exception("change subscriber %r failed", subscriber)
