"""Shared fixtures. Every test that serves a simulator gets its own loopback address, so tests
never fight over ports and a device's address is as distinct as in a real room."""

from __future__ import annotations

import itertools
import os
import threading

import pytest

_counter = itertools.count(1)
_lock = threading.Lock()


def next_loopback() -> str:
    """A fresh 127.a.b.c address: 127.200-254 are for tests (profiles use lower ranges)."""
    with _lock:
        n = next(_counter)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")[2:] or "0"
    a = 200 + (int(worker) % 50)
    b = (os.getpid() + n // 250) % 250 + 1
    c = n % 250 + 1
    return f"127.{a}.{b}.{c}"


@pytest.fixture
def loopback() -> str:
    return next_loopback()


@pytest.fixture
def loopback_factory():
    return next_loopback
