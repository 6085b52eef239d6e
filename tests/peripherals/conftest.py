"""Helpers for peripheral driver tests: deadlines, and a check that a simulator left nothing behind."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest


@contextmanager
def _within(seconds: float) -> Iterator[Callable[[], float]]:
    """Assert the block finishes within ``seconds``; yields a function giving elapsed time."""
    start = time.monotonic()
    yield lambda: time.monotonic() - start
    elapsed = time.monotonic() - start
    assert elapsed <= seconds, f"took {elapsed:.3f} s, deadline {seconds} s"


@pytest.fixture
def no_leaks() -> Iterator[None]:
    """Fail if a test leaves simulator threads running."""
    before = {t.ident for t in threading.enumerate()}
    yield
    deadline = time.monotonic() + 2.0
    while True:
        extra = [t.name for t in threading.enumerate() if t.ident not in before and t.name.startswith("sim")]
        if not extra or time.monotonic() > deadline:
            break
        threading.Event().wait(0.02)
    assert not extra, f"simulator threads left running: {extra}"


@pytest.fixture
def within() -> Callable[[float], object]:
    """``with within(2.0) as elapsed:`` fails the test if the block takes longer than 2 s."""
    return _within
