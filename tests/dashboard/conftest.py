"""Fixtures for the dashboard: Debian's Chromium driven by Playwright (never `playwright install`)
against either

- ``stack``: the whole system as real processes (central under uvicorn, ``roomops sim`` for the
  six sites, six ``roomops agent run``), started once for consecutive tests that use it (shared
  with tests/e2e when they run next) and stopped when the next test does not; the main flows
  run here;
- ``central`` / ``live_central``: central in this process with test-side fake agents whose
  behaviour a test shapes (a degraded room, an agent that drops), for the edge cases.

Playwright's sync API leaves its event loop marked as running on the main thread while it is
open, which breaks every asyncio test that runs after it; so the browser lives for this package
only (package scope), and closes before tests/e2e's asyncio tests run."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from tests.central.helpers import PASSWORD, RunningServer, Seeded, central_settings, seed
from tests.dashboard.fake_agent import AgentBehaviour, FakeFleet
from tests.e2e import stack as e2e
from tests.e2e.stack import Stack, acquire_stack, release_unless_needed_next

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]
SITES: dict[str, dict[str, str]] = {
    "shanghai-hq": {"name": "Shanghai Head Office", "name_zh": "上海总部"},
    "urumqi": {"name": "Urumqi Office", "name_zh": "乌鲁木齐办事处"},
    "lhasa": {"name": "Lhasa Office", "name_zh": "拉萨办事处"},
    "guangzhou": {"name": "Guangzhou Office", "name_zh": "广州办事处"},
    "kunming": {"name": "Kunming Office", "name_zh": "昆明办事处"},
    "xining": {"name": "Xining Office", "name_zh": "西宁办事处"},
}
#: How fast the change feed polls in tests (the default is 1 s).
FEED_INTERVAL = 0.25
#: Streams end (and browsers reconnect) this often in tests, which also exercises the reconnect.
STREAM_SECONDS = 4.0
#: The browsers' time zone: the form's local times are Shanghai times.
TIMEZONE = "Asia/Shanghai"


@dataclass
class Central:
    server: RunningServer
    seeded: Seeded
    fleet: FakeFleet | None = None

    @property
    def url(self) -> str:
        return self.server.base_url


@pytest.fixture(scope="package")
def playwright_driver() -> Iterator[Playwright]:
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        pytest.fail("Debian's chromium is missing: scripts/test installs it (apt-get install chromium)")
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="package")
def browser(playwright_driver: Playwright) -> Iterator[Browser]:
    chromium = playwright_driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    try:
        yield chromium
    finally:
        chromium.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    ctx = browser.new_context(viewport={"width": 1366, "height": 900}, locale="en-US",
                              timezone_id=TIMEZONE)
    ctx.set_default_timeout(10_000)
    try:
        yield ctx
    finally:
        ctx.close()


@pytest.fixture
def page(central: Central, context: BrowserContext) -> Page:
    """A tab; it depends on central so the browser hangs up before the server stops."""
    return context.new_page()


def start_central(tmp_path: Path, host: str) -> Central:
    server = RunningServer(central_settings(tmp_path), host)
    server.app.state.dashboard_feed_interval = FEED_INTERVAL
    server.app.state.dashboard_stream_seconds = STREAM_SECONDS
    server.start()
    seeded = seed(server.engine, tuple(SITES), **SITES)
    return Central(server, seeded)


@pytest.fixture
def central(tmp_path: Path, loopback: str) -> Iterator[Central]:
    """Central with six sites and one user per role, no agents connected."""
    running = start_central(tmp_path, loopback)
    try:
        yield running
    finally:
        running.server.stop()


@pytest.fixture
def behaviours() -> dict[str, AgentBehaviour]:
    """Per-site agent behaviour; a test overrides this fixture to change it."""
    return {"lhasa": AgentBehaviour(readiness="degraded")}


@pytest.fixture
def live_central(central: Central, behaviours: dict[str, AgentBehaviour]) -> Iterator[Central]:
    """Central with every site's agent connected over the real agent link."""
    with FakeFleet(central.url, central.seeded.tokens, behaviours) as fleet:
        fleet.wait_connected()
        central.fleet = fleet
        yield central


@pytest.fixture
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Stack:
    """The real system (see tests/e2e/stack.py), shared with tests/e2e when they run next."""
    return acquire_stack(request.config, tmp_path_factory)


@pytest.hookimpl(trylast=True)        # after pytest has torn down this test's own fixtures
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    release_unless_needed_next(item, nextitem)


@pytest.fixture
def stack_page(stack: Stack, context: BrowserContext) -> Page:
    """A tab for the real stack."""
    return context.new_page()


def sign_in(page: Page, base_url: str, username: str, target: str = "/", password: str = PASSWORD) -> None:
    page.goto(f"{base_url}{target}")
    page.wait_for_url("**/login**")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}{target}")


def sign_in_stack(page: Page, stack: Stack, username: str, target: str = "/") -> None:
    """Sign in to the real stack as the user named after a role (tests/e2e/stack.py seeds them)."""
    sign_in(page, stack.url, username, target, password=e2e.PASSWORD)


@pytest.fixture(scope="session")
def screenshot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where ``shot`` saves: ROOMOPS_SCREENSHOTS (e.g. docs/screenshots) or a temporary folder."""
    target = Path(os.environ.get("ROOMOPS_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    target.mkdir(parents=True, exist_ok=True)
    return target


def shot(page: Page, out: Path, name: str) -> None:
    """A full-page screenshot; a nearly empty file means the page did not render."""
    path = out / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000, f"{name}: the screenshot looks empty"
