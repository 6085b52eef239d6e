"""A central server holding a seeded year of history (once per module and database)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from central.models.base import set_clock
from tests.central.helpers import RunningServer, central_settings, postgres_database, postgres_reachable
from tests.conftest import next_loopback
from tests.reports.history import Clock, Ledger, cst, seed_year

#: "now" once the history is seeded: ten days into the next year
END = cst(2026, 1, 10, 12)


@dataclass
class SeededYear:
    server: RunningServer
    ledger: Ledger
    clock: Clock
    recordings_dir: Path


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def year_db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('central') / 'central.db'}"
        return
    reason = postgres_reachable()
    if reason:
        pytest.skip(reason)
    with postgres_database() as url:
        yield url


def _seed(url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeededYear]:
    data_dir = tmp_path_factory.mktemp("data")
    clock = Clock(cst(2024, 12, 1))
    set_clock(clock)
    try:
        server = RunningServer(central_settings(data_dir, url), next_loopback())
        recordings_dir = server.settings.resolved_recordings_dir()
        ledger = seed_year(server.ctx, clock, recordings_dir)
        clock.set(END)
        server.start()
        try:
            yield SeededYear(server, ledger, clock, recordings_dir)
        finally:
            server.stop()
    finally:
        set_clock(None)


@pytest.fixture(scope="module")
def seeded_year(year_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeededYear]:
    """The year on SQLite and on PostgreSQL."""
    yield from _seed(year_db, tmp_path_factory)


@pytest.fixture(scope="module")
def seeded_sqlite_year(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeededYear]:
    """The year on SQLite only, for tests that change records (sign-off, close, retention)."""
    yield from _seed(f"sqlite:///{tmp_path_factory.mktemp('central') / 'central.db'}", tmp_path_factory)
