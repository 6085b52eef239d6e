"""Sign-in under a burst, against central under uvicorn: attempts are counted before the argon2
check, so 100 concurrent wrong passwords get at most the allowance checked; checks run a bounded
number at a time (memory measured in /proc); the real user still signs in from her address."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from central.services import accounts
from tests.central.helpers import PASSWORD, RunningServer, Seeded
from tests.conftest import next_loopback

MiB = 1024 * 1024


class VerifyCounter:
    """Wraps the password check to count calls and how many ran at once (observes, changes nothing)."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.calls = 0
        self.running = 0
        self.most = 0
        self._lock = threading.Lock()

    def __call__(self, *args: Any) -> bool:
        with self._lock:
            self.calls += 1
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            return self.real(*args)
        finally:
            with self._lock:
                self.running -= 1


@pytest.fixture
def verifies(monkeypatch: pytest.MonkeyPatch) -> VerifyCounter:
    counter = VerifyCounter(accounts.verify_password)
    monkeypatch.setattr(accounts, "verify_password", counter)
    return counter


def rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/self/status")


def reset_peak_rss() -> None:
    """Linux: writing 5 to clear_refs resets VmHWM (the peak) to the current RSS."""
    Path("/proc/self/clear_refs").write_text("5")


def client_from(server: RunningServer, address: str) -> httpx.AsyncClient:
    transport = httpx.AsyncHTTPTransport(local_address=address)
    return httpx.AsyncClient(base_url=server.base_url, transport=transport, timeout=60)


async def sign_in(http: httpx.AsyncClient, user: str, password: str) -> httpx.Response:
    return await http.post("/api/v1/auth/token", data={"username": user, "password": password})


@pytest.fixture
def warm(server: RunningServer, seeded: Seeded) -> Iterator[None]:
    """One sign-in first, so the baseline includes argon2's first allocation and the code paths."""
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        first = http.post("/api/v1/auth/token", data={"username": "viewer", "password": PASSWORD})
        assert first.status_code == 200
    yield


@pytest.mark.timeout(240)
async def test_a_burst_of_wrong_passwords_checks_at_most_the_allowance(
        server: RunningServer, warm: None, verifies: VerifyCounter) -> None:
    attacker, user = next_loopback(), next_loopback()
    reset_peak_rss()
    before = rss_kib("VmRSS")
    async with client_from(server, attacker) as http:
        answers = await asyncio.gather(*(sign_in(http, "admin", f"guess-{i}") for i in range(100)))
    peak = rss_kib("VmHWM")
    codes = [a.status_code for a in answers]
    allowance = server.settings.login_max_attempts
    assert verifies.calls <= allowance, verifies.calls
    assert codes.count(401) == verifies.calls and codes.count(429) == 100 - verifies.calls
    assert all(int(a.headers["Retry-After"]) >= 1 for a in answers if a.status_code == 429)
    assert verifies.most <= server.settings.login_concurrent_verifies
    assert (peak - before) * 1024 < 100 * MiB, f"RSS grew {(peak - before) / 1024:.0f} MiB"
    # the right password from the attacked address is refused too (counted before it is checked)
    async with client_from(server, attacker) as http:
        assert (await sign_in(http, "admin", PASSWORD)).status_code == 429
    # the real admin, from her own address, signs in at once
    async with client_from(server, user) as http:
        signed_in = await sign_in(http, "admin", PASSWORD)
    assert signed_in.status_code == 200, signed_in.text


@pytest.mark.timeout(240)
async def test_checks_from_many_addresses_run_a_few_at_a_time(
        server: RunningServer, warm: None, verifies: VerifyCounter) -> None:
    """Distributed guessing is not refused by the counters, but the argon2 checks queue up:
    memory stays bounded whatever the burst."""
    reset_peak_rss()
    before = rss_kib("VmRSS")
    clients = [client_from(server, next_loopback()) for _ in range(30)]
    try:
        answers = await asyncio.gather(*(sign_in(c, f"nobody{i}", "wrong password")
                                         for i, c in enumerate(clients)))
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))
    peak = rss_kib("VmHWM")
    assert [a.status_code for a in answers] == [401] * 30
    assert verifies.calls == 30
    assert verifies.most <= server.settings.login_concurrent_verifies
    assert (peak - before) * 1024 < 100 * MiB, f"RSS grew {(peak - before) / 1024:.0f} MiB"


async def test_a_success_never_clears_another_key(server: RunningServer, seeded: Seeded) -> None:
    """20 wrong passwords across 5 users from one address, the attacker signing in to his own
    account in between: the address is throttled all the same."""
    attacker, elsewhere = next_loopback(), next_loopback()
    targets = ["viewer", "secretariat", "engineer", "admin", "nobody"]
    async with client_from(server, attacker) as http:
        for target in targets:
            for i in range(4):
                assert (await sign_in(http, target, f"wrong-{i}")).status_code == 401
            if target != targets[-1]:
                assert (await sign_in(http, "engineer", PASSWORD)).status_code == 200
        assert (await sign_in(http, "viewer", "wrong again")).status_code == 429
    async with client_from(server, elsewhere) as http:
        assert (await sign_in(http, "viewer", PASSWORD)).status_code == 200
