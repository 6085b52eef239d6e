"""Screenshots of the main pages in a realistic state, at laptop and tablet widths.

Every run renders them (and checks the pages are not empty); with ROOMOPS_SCREENSHOTS=<dir>
(e.g. ``ROOMOPS_SCREENSHOTS=docs/screenshots scripts/test tests/dashboard``) they are saved there
for the README.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from central.models import utcnow
from tests.central.helpers import PASSWORD
from tests.dashboard.conftest import SITES, Central, sign_in
from tests.dashboard.fake_agent import AgentBehaviour

pytestmark = pytest.mark.browser

TABLET = {"width": 820, "height": 1180}


@pytest.fixture
def behaviours() -> dict[str, AgentBehaviour]:
    return {"lhasa": AgentBehaviour(readiness="degraded"), "kunming": AgentBehaviour(down=("display1",))}


def _out_dir(tmp_path: Path) -> Path:
    target = Path(os.environ.get("ROOMOPS_SCREENSHOTS") or tmp_path)
    target.mkdir(parents=True, exist_ok=True)
    return target


def _shot(page: Page, out: Path, name: str) -> None:
    path = out / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000, f"{name}: the screenshot looks empty"


def _schedule(central: Central, title: str, hours_ahead: float, sites: list[str]) -> str:
    with httpx.Client(base_url=central.url, timeout=10) as http:
        token = http.post("/api/v1/auth/token", data={"username": "secretariat", "password": PASSWORD})
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        start = utcnow() + timedelta(hours=hours_ahead)
        created = http.post("/api/v1/meetings", headers=headers, json={
            "title": title, "start": start.isoformat(), "end": (start + timedelta(hours=1.5)).isoformat(),
            "host_site": sites[0], "sites": sites, "mode": "host",
        })
        assert created.status_code == 201, created.text
        return str(created.json()["id"])


def test_screenshots_of_the_main_pages(page: Page, browser: Browser, live_central: Central,
                                       tmp_path: Path) -> None:
    out = _out_dir(tmp_path)
    assert live_central.fleet is not None
    live_central.fleet.disconnect("xining")
    meeting = _schedule(live_central, "Quarterly liaison meeting", 1, list(SITES)[:5])
    _schedule(live_central, "Budget review with Urumqi", 26, ["shanghai-hq", "urumqi"])
    _schedule(live_central, "Weekly coordination", 50, ["shanghai-hq", "guangzhou", "kunming"])

    sign_in(page, live_central.url, "secretariat")
    expect(page.locator('article.card[data-site="xining"]')).to_have_attribute("data-verdict", "down")
    expect(page.locator('article.card[data-site="kunming"]')).to_have_attribute("data-verdict", "degraded")
    lhasa = page.locator('article.card[data-site="lhasa"] [data-field="readiness"]')
    expect(lhasa).to_contain_text("Degraded")
    _shot(page, out, "overview")

    page.goto(f"{live_central.url}/meetings")
    expect(page.locator("#meeting-list tbody tr")).to_have_count(3)
    _shot(page, out, "meetings")
    page.click('[data-view="calendar"]')
    expect(page.locator(".calendar .event").first).to_be_visible()
    _shot(page, out, "meetings-calendar")
    page.click('[data-view="list"]')

    page.goto(f"{live_central.url}/meetings/{meeting}")
    expect(page.locator('.site-tile[data-site="lhasa"]')).to_have_attribute("data-readiness", "degraded")
    _shot(page, out, "meeting-readiness")
    page.click('[data-action="start"]')
    page.click('dialog.confirm [data-action="confirm"]')
    for site in list(SITES)[:5]:
        expect(page.locator(f'.site-tile[data-site="{site}"]')).to_have_attribute("data-call", "connected")
    _shot(page, out, "meeting-live")

    engineer = browser.new_context(viewport=TABLET, locale="zh-CN", timezone_id="Asia/Shanghai")
    try:
        tab = engineer.new_page()
        sign_in(tab, live_central.url, "engineer", "/sites/kunming")
        expect(tab.locator("main h1")).to_have_text("昆明办事处")
        display = tab.locator('#devices tr[data-device="kunming.display1"]')
        expect(display).to_have_attribute("data-state", "down")
        tab.click('[data-action="selftest"]')
        tab.click('dialog.confirm [data-action="confirm"]')
        expect(tab.locator("#selftests details").first).to_be_visible()
        progress = tab.locator("#progress li").first
        expect(progress).to_have_attribute("data-state", "succeeded")     # the self-test command
        newest = tab.locator("#selftests details").first.locator(".pill")
        expect(newest).to_have_attribute("data-state", "ready")
        tab.locator("#selftests details summary").first.click()
        expect(tab.locator("#selftests table.checks").first).to_be_visible()
        _shot(tab, out, "site-engineer-tablet-zh")
        tab.goto(f"{live_central.url}/")
        expect(tab.locator("article.card")).to_have_count(len(SITES))
        _shot(tab, out, "overview-tablet-zh")
        tab.goto(f"{live_central.url}/faults")
        expect(tab.locator("#faults tbody tr").first).to_be_visible()
        _shot(tab, out, "faults-tablet-zh")
    finally:
        engineer.close()

    page.goto(f"{live_central.url}/audit")
    expect(page.locator("#audit tbody tr").first).to_be_visible()
    _shot(page, out, "audit")
    page.click('[data-action="logout"]')
    page.wait_for_url(re.compile(r".*/login.*"))
    _shot(page, out, "login")
