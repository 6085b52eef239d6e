"""One running stack (central, six simulated sites, six agents) for the e2e tests, shared with the
dashboard's browser tests when they run next to them, and stopped before unrelated tests run
(tests/e2e/stack.py ``release_unless_needed_next``)."""

from __future__ import annotations

import pytest

from tests.e2e.stack import Stack, acquire_stack, release_unless_needed_next


@pytest.fixture
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Stack:
    return acquire_stack(request.config, tmp_path_factory)


@pytest.hookimpl(trylast=True)        # after pytest has torn down this test's own fixtures
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    release_unless_needed_next(item, nextitem)
