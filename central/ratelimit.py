"""Sign-in throttling: every attempt is counted before its password is checked.

Two keys count each attempt:

- the user *from this address* (``pair``): after ``max_attempts`` failures each further failure
  doubles the wait (up to ``max_delay``). Only that address is slowed down for that user, so an
  attacker cannot lock the real user out: she signs in from her own address as usual.
- the *address* alone (``address``), with ``address_factor`` times the allowance: one address
  guessing many users' passwords (spraying) is slowed down the same way.

After the allowance the first wait is ``base_delay`` (30 s), then 60 s, 120 s ... An attempt is
*reserved* before the verify (it counts as a failure at once), so a burst of
concurrent attempts gets at most the allowance through to the password check; the rest are
refused without one. A success takes back only its own reservation and clears only its own
pair key: the attempts on other keys stand. A key's count starts again after ``window`` seconds
without a failure.

``LoginLimiter`` is the interface the sign-in route uses; ``MemoryLoginLimiter`` keeps the state
in this process. A database-backed implementation (several central instances) only has to
provide ``reserve``, ``failed`` and ``succeeded`` with the same atomicity.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass


class LoginThrottled(Exception):
    """Refused without checking the password; retry after ``retry_after`` seconds."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"retry after {retry_after:.0f}s")
        self.retry_after = retry_after


@dataclass(frozen=True)
class Reservation:
    """One counted attempt: the keys it was counted on and when."""

    pair: str
    address: str
    at: float


def keys_for(username: str, address: str) -> tuple[str, str]:
    # user names are at most 64 characters of [A-Za-z0-9_.@-]; a longer one is cut (never matches)
    return f"pair:{username[:64]}@{address}", f"addr:{address}"


class LoginLimiter(ABC):
    @abstractmethod
    def reserve(self, username: str, address: str, now: float | None = None) -> Reservation:
        """Count one attempt on every key, atomically, or raise ``LoginThrottled``."""

    @abstractmethod
    def failed(self, reservation: Reservation, now: float | None = None) -> None:
        """The password was wrong (the reservation already counted it)."""

    @abstractmethod
    def succeeded(self, reservation: Reservation) -> None:
        """The password was right: take back this reservation, clear this user's pair key."""


@dataclass
class _Count:
    failures: int = 0
    last: float = 0.0


class MemoryLoginLimiter(LoginLimiter):
    def __init__(self, max_attempts: int, window_seconds: float, *, max_delay: float = 300.0,
                 base_delay: float = 30.0, address_factor: int = 4, max_keys: int = 100_000) -> None:
        self.max_attempts = max_attempts
        self.window = window_seconds
        self.max_delay = max_delay
        self.base_delay = base_delay
        self.address_allowance = max_attempts * address_factor
        self.max_keys = max_keys
        self._counts: dict[str, _Count] = {}
        self._lock = threading.Lock()

    # -- the interface ---------------------------------------------------------------------------
    def reserve(self, username: str, address: str, now: float | None = None) -> Reservation:
        now = time.monotonic() if now is None else now
        pair, addr = keys_for(username, address)
        if len(self._counts) > self.max_keys:
            self.forget_idle(now)
        with self._lock:
            wait = self._wait_both(pair, addr, now)
            if wait > 0:
                raise LoginThrottled(wait)
            for key in (pair, addr):
                count = self._counts.setdefault(key, _Count())
                count.failures += 1
                count.last = max(count.last, now)
        return Reservation(pair, addr, now)

    def failed(self, reservation: Reservation, now: float | None = None) -> None:
        """Counted when reserved; the wait runs from the end of the (slow) password check."""
        now = time.monotonic() if now is None else now
        with self._lock:
            for key in (reservation.pair, reservation.address):
                count = self._counts.get(key)
                if count is not None:
                    count.last = max(count.last, now)

    def succeeded(self, reservation: Reservation) -> None:
        with self._lock:
            self._counts.pop(reservation.pair, None)
            count = self._counts.get(reservation.address)
            if count is not None:
                count.failures = max(0, count.failures - 1)
                if count.failures == 0:
                    del self._counts[reservation.address]

    # -- inspection (tests, diagnostics) ---------------------------------------------------------
    def retry_after(self, username: str, address: str, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        pair, addr = keys_for(username, address)
        with self._lock:
            return self._wait_both(pair, addr, now)

    def _wait_both(self, pair: str, addr: str, now: float) -> float:
        return max(self._wait(pair, self.max_attempts, now), self._wait(addr, self.address_allowance, now))

    def _wait(self, key: str, allowance: int, now: float) -> float:
        count = self._counts.get(key)
        if count is None:
            return 0.0
        if now - count.last > self.window:        # quiet for a window: start again
            del self._counts[key]
            return 0.0
        over = count.failures - allowance
        if over < 0:
            return 0.0
        delay = min(self.max_delay, self.base_delay * 2.0 ** min(over, 32))
        return max(0.0, count.last + delay - now)

    def forget_idle(self, now: float | None = None) -> None:
        """Drop keys quiet for a window (bounded memory under a spray of addresses)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            for key in [k for k, c in self._counts.items() if now - c.last > self.window]:
                del self._counts[key]
