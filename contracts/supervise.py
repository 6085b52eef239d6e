"""Supervision of a long-running asyncio task, the same on both sides of the link (the agent's
central link, polls and jobs; central's hub delivery, sweeper and retention).

An unexpected exception is logged once with its traceback (a repeat of the same failure gets one
line), counted, the task is marked failing and restarted after a backoff that doubles up to a
cap. It is healthy again once a run has lasted ``healthy_after`` seconds or the task reports
progress with ``health.ok(name)``. A task that returns normally is done; cancellation ends it.
``on_failure`` lets the agent tell central (a ``task_failed`` event). It lives in ``contracts``
because that is the one package both sides may import.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass
class TaskState:
    restarts: int = 0
    failing: bool = False
    last_error: str = ""
    failed_at: float | None = None


class TaskHealth:
    """Thread-safe record of every supervised task: restarts and whether it is failing now."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tasks: dict[str, TaskState] = {}

    def started(self, name: str) -> None:
        with self._lock:
            self._tasks.setdefault(name, TaskState())

    def failed(self, name: str, exc: BaseException) -> int:
        with self._lock:
            state = self._tasks.setdefault(name, TaskState())
            state.restarts += 1
            state.failing = True
            state.last_error = f"{type(exc).__name__}: {exc}"[:300]
            state.failed_at = time.time()
            return state.restarts

    def ok(self, name: str) -> None:
        """The task made progress: no longer failing."""
        with self._lock:
            state = self._tasks.get(name)
            if state is not None:
                state.failing = False

    def restarts(self) -> dict[str, int]:
        with self._lock:
            return {name: state.restarts for name, state in self._tasks.items()}

    def degraded(self) -> dict[str, str]:
        """Failing tasks and their last error."""
        with self._lock:
            return {name: state.last_error for name, state in self._tasks.items() if state.failing}


async def supervise(name: str, run: Callable[[], Awaitable[None]], health: TaskHealth, *,
                    initial: float = 0.5, cap: float = 30.0, healthy_after: float = 10.0,
                    on_failure: Callable[[str, BaseException, int], None] | None = None) -> None:
    loop = asyncio.get_running_loop()
    delay = initial
    last: tuple[type, str] | None = None
    health.started(name)
    while True:
        started = loop.time()
        recovered = loop.call_later(healthy_after, health.ok, name)
        try:
            await run()
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - the point of supervision: log, count, restart
            if loop.time() - started >= healthy_after:
                delay = initial          # it ran well for a while: start the backoff over
            count = health.failed(name, exc)
            signature = (type(exc), str(exc))
            if signature != last:
                log.error("task %s failed (restart %d in %.1f s)", name, count, delay, exc_info=exc)
            else:
                log.warning("task %s failed again: %s (restart %d in %.1f s)", name, exc, count, delay)
            last = signature
            if on_failure is not None:
                try:
                    on_failure(name, exc, count)
                except Exception:  # noqa: BLE001 - the outbox itself may be what failed
                    log.debug("task %s: reporting the failure failed too", name, exc_info=True)
        finally:
            recovered.cancel()
        await asyncio.sleep(delay)      # backoff between restarts, not a wait on a device
        delay = min(cap, delay * 2)
