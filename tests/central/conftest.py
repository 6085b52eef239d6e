"""Fixtures for central: databases (SQLite and the machine's PostgreSQL), a real uvicorn server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from tests.central.helpers import (
    RunningServer,
    Seeded,
    central_settings,
    postgres_database,
    postgres_reachable,
    seed,
)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'central.db'}"
        return
    reason = postgres_reachable()
    if reason:
        pytest.skip(reason)
    with postgres_database() as url:
        yield url


def _serve(tmp_path: Path, host: str, database_url: str = "", **overrides: object) -> Iterator[RunningServer]:
    server = RunningServer(central_settings(tmp_path, database_url, **overrides), host).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def server(tmp_path: Path, loopback: str) -> Iterator[RunningServer]:
    """Central under uvicorn on SQLite."""
    yield from _serve(tmp_path, loopback)


@pytest.fixture
def any_db_server(tmp_path: Path, loopback: str, database_url: str) -> Iterator[RunningServer]:
    """Central under uvicorn, once on SQLite and once on PostgreSQL."""
    yield from _serve(tmp_path, loopback, database_url)


@pytest.fixture
def seeded(server: RunningServer) -> Seeded:
    return seed(server.engine)


@pytest.fixture
async def client(server: RunningServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
        yield http
