"""Login rate limiting: at most N failed attempts per key within a sliding window."""

from __future__ import annotations

import threading
import time
from collections import deque


class LoginRateLimiter:
    def __init__(self, max_attempts: int, window_seconds: float) -> None:
        self.max_attempts = max_attempts
        self.window = window_seconds
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, key: str, now: float | None = None) -> float:
        """Seconds until ``key`` may try again (0 when allowed now)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            failures = self._prune(key, now)
            if len(failures) < self.max_attempts:
                return 0.0
            return max(0.0, failures[0] + self.window - now)

    def failed(self, key: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            self._prune(key, now).append(now)

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)

    def _prune(self, key: str, now: float) -> deque[float]:
        failures = self._failures.setdefault(key, deque())
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        return failures
