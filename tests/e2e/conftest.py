"""One running stack (central, six simulated sites, six agents) shared by every e2e test, and by
the dashboard's browser tests when they run in the same session (``shared_stack``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.stack import Stack, shared_stack


@pytest.fixture(scope="session")
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with shared_stack(request.config, tmp_path_factory) as running:
        yield running
