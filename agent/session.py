"""A device session: one driver, its own worker thread, reconnect with capped backoff.

Drivers are synchronous and thread-confined, so every operation on a device runs on that
device's single worker thread (commands to one device are serialised) while the asyncio core
awaits the result with a deadline: a hung device never blocks another one.

Retry lives here and only here: an operation that fails with a retryable ``DeviceError`` on an
established session is retried once after reconnecting; failed connects back off exponentially
(capped, with jitter); an ``AuthError`` is never retried automatically (repeated wrong passwords
lock accounts on real units) until a caller forces an attempt.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar, cast

from agent.backoff import Backoff
from agent.site import DeviceSpec
from drivers.errors import AuthError, ConnectError, DeviceError, DeviceTimeout, Unsupported
from drivers.roles import Driver, plays

log = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")
DriverFactory = Callable[[DeviceSpec], Driver]


def failure_text(exc: DeviceError) -> str:
    """``<reason>: <message>``: the failure class first (central reads it to pick a reason code),
    without saying it twice ("rejected: rejected NetworkRejected" becomes "rejected: NetworkRejected")."""
    message = exc.message
    word = exc.reason.replace("_", " ")
    for prefix in (exc.reason, word):
        if message.lower().startswith(prefix.lower()):
            message = message[len(prefix):].lstrip(" :")
            break
    return f"{exc.reason}: {message}" if message else exc.reason


def resolve_driver_class(name: str) -> type[Driver]:
    """A registry name (``cisco-roomos``) or an explicit ``module:Class`` (site-local drivers)."""
    if ":" in name:
        module_name, _, cls_name = name.partition(":")
        return getattr(importlib.import_module(module_name), cls_name)
    from drivers.registry import driver_class

    return driver_class(name)


def default_driver_factory(spec: DeviceSpec) -> Driver:
    return resolve_driver_class(spec.driver)(spec.endpoint, name=spec.id)


class DeviceSession:
    """Serialised, deadline-bounded access to one device."""

    def __init__(self, spec: DeviceSpec, factory: DriverFactory = default_driver_factory, *,
                 backoff: Backoff | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.spec = spec
        self._factory = factory
        self.driver: Driver = factory(spec)      # constructors do no I/O
        self._backoff = backoff or Backoff(initial=0.5, cap=30.0)
        self._clock = clock
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"dev-{spec.id}")
        self._state_lock = threading.Lock()
        self._next_connect_at = 0.0
        self.auth_blocked: AuthError | None = None
        self.last_error: DeviceError | None = None
        #: the last real connect failure: what a refusal during back-off leads with (never a
        #: previous back-off refusal, or the texts pile up "(next reconnect in ...)" twice)
        self.connect_failure: DeviceError | None = None
        self.connects = 0
        self.closed = False

    @property
    def id(self) -> str:
        return self.spec.id

    # -- public, awaited from the event loop ----------------------------------------------------------
    async def call(self, op: Callable[[Driver], T], timeout: float, *, retry: bool = True,
                   force: bool = False) -> T:
        """Run ``op(driver)`` on the device thread; ``DeviceError`` on failure, ``DeviceTimeout``
        when no result within ``timeout`` seconds (the device thread may still be busy)."""
        if self.closed:
            raise ConnectError("session closed", device=self.id)
        loop = asyncio.get_running_loop()
        deadline = time.monotonic() + timeout
        future = loop.run_in_executor(self._executor, self._run, op, deadline, retry, force)
        try:
            return await asyncio.wait_for(future, timeout)
        except DeviceError:
            raise
        except TimeoutError:
            self.driver.transcript.note(f"agent deadline of {timeout:.1f}s passed")
            raise DeviceTimeout(f"no result within {timeout:.1f}s", device=self.id) from None

    async def call_role(self, role: type[R], op: Callable[[R], T], timeout: float, *, retry: bool = True,
                        force: bool = False) -> T:
        """``call`` for a role method (``Codec``, ``Recorder``, ``PowerOutlet`` in drivers.roles):
        ``op`` sees the driver as that role, so role calls type-check; a driver that does not
        play the role is ``Unsupported`` instead of an AttributeError on the device thread."""
        if not plays(self.driver, role):
            raise Unsupported(f"{type(self.driver).__name__} does not play the {role.__name__} role",
                              device=self.id)
        return await self.call(lambda d: op(cast(R, d)), timeout, retry=retry, force=force)

    async def replace_spec(self, spec: DeviceSpec) -> None:
        """Reach the device somewhere else from now on (relocation): new driver, same thread."""
        await asyncio.get_running_loop().run_in_executor(self._executor, self._swap, spec)

    def unblock(self) -> None:
        """Allow reconnecting after an ``AuthError`` (credentials were changed)."""
        with self._state_lock:
            self.auth_blocked = None
            self._next_connect_at = 0.0
            self._backoff.reset()

    def close(self) -> None:
        """Close the driver and stop the worker; waits for an operation in progress."""
        if self.closed:
            return
        self.closed = True
        self._executor.submit(self._close_driver)
        self._executor.shutdown(wait=True, cancel_futures=False)

    async def aclose(self) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self.close)

    # -- on the device thread ---------------------------------------------------------------------------
    def _run(self, op: Callable[[Driver], T], deadline: float, retry: bool, force: bool) -> T:
        if time.monotonic() >= deadline:
            raise DeviceTimeout("queued behind a slower operation past the deadline", device=self.id)
        attempts = 2 if retry else 1
        for attempt in range(attempts):
            was_connected = self.driver.connected
            try:
                self._ensure_connected(force)
                return op(self.driver)
            except DeviceError as exc:
                self.last_error = exc
                if exc.retryable:
                    self._close_driver()
                # Retry only a session that broke under us (device restarted, link reset), not a
                # failed connect: that one waits for its backoff.
                if (not exc.retryable or not was_connected or isinstance(exc, ConnectError)
                        or attempt + 1 >= attempts or time.monotonic() >= deadline):
                    raise
                self.driver.transcript.note(f"retrying after {exc.reason}")
            except Exception as exc:  # noqa: BLE001 - a driver bug becomes a device failure, not a crash
                log.exception("%s: driver raised %r", self.id, exc)
                self._close_driver()
                err = DeviceError(f"driver error: {exc!r}", device=self.id)
                self.last_error = err
                raise err from exc
        raise AssertionError("unreachable")

    def _ensure_connected(self, force: bool) -> None:
        if self.driver.connected:
            return
        now = self._clock()
        with self._state_lock:
            if not force:
                if self.auth_blocked is not None:
                    raise AuthError(f"not retried after a refused login: {self.auth_blocked.message}",
                                    device=self.id)
                if now < self._next_connect_at:
                    # Lead with the real cause: fault records and the dashboard show this text.
                    wait = f"next reconnect in {self._next_connect_at - now:.1f}s"
                    cause = self.connect_failure.message if self.connect_failure else "not connected"
                    raise ConnectError(f"{cause} ({wait})", device=self.id)
        try:
            self.driver.connect()
        except AuthError as exc:
            with self._state_lock:
                self.auth_blocked = exc
                self.connect_failure = exc
                self._next_connect_at = now + self._backoff.exhaust()
            self._close_driver()
            raise
        except DeviceError as exc:
            with self._state_lock:
                self.connect_failure = exc
                self._next_connect_at = now + self._backoff.next_delay()
            self._close_driver()
            raise
        with self._state_lock:
            self._backoff.reset()
            self._next_connect_at = 0.0
            self.auth_blocked = None
            self.connect_failure = None
        self.connects += 1

    def _close_driver(self) -> None:
        try:
            self.driver.close()
        except DeviceError as exc:
            log.debug("%s: close failed: %s", self.id, exc)

    def _swap(self, spec: DeviceSpec) -> None:
        self._close_driver()
        self.spec = spec
        self.driver = self._factory(spec)
        with self._state_lock:
            self._next_connect_at = 0.0
            self._backoff.reset()
