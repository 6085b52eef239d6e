"""Screenshots of the main pages, from the real stack (central, six agents, the simulated rooms),
at laptop and tablet widths. Every run renders them and checks they are not empty; with
ROOMOPS_SCREENSHOTS=<dir> they are saved there for the README:

    ROOMOPS_SCREENSHOTS=docs/screenshots scripts/test tests/dashboard

The meeting pages (readiness, live) are taken by test_stack_meeting.py at those moments; this
module runs after it and after test_stack_roles.py (file order), so the faults and audit pages
show that session's real reboot and meeting."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.dashboard.conftest import TIMEZONE, shot, sign_in_stack
from tests.e2e.stack import Stack

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(400)]
TABLET = {"width": 820, "height": 1180}
#: a real self-test of a room (every device, a test call): generous, not a target
SELFTEST_MS = 60_000


def schedule(stack: Stack, title: str, ahead: timedelta, sites: list[str]) -> str:
    start = datetime.now(UTC).replace(second=0, microsecond=0) + ahead
    created = stack.post("/api/v1/meetings", "secretariat", {
        "title": title, "start": start.isoformat(), "end": (start + timedelta(hours=1)).isoformat(),
        "host_site": sites[0], "sites": sites, "mode": "host"})
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def test_screenshots_of_the_main_pages(stack_page: Page, browser: Browser, stack: Stack,
                                       screenshot_dir: Path) -> None:
    page, out = stack_page, screenshot_dir
    # Inside the agents' 30-minute lead: these three sites test their rooms now.
    soon = ["shanghai-hq", "guangzhou", "kunming"]
    schedule(stack, "Weekly coordination", timedelta(minutes=20), soon)
    schedule(stack, "Budget review with Urumqi", timedelta(hours=26), ["shanghai-hq", "urumqi"])
    schedule(stack, "Plateau offices briefing", timedelta(hours=50), ["shanghai-hq", "lhasa", "xining"])

    sign_in_stack(page, stack, "secretariat")
    cards = page.locator("article.card")
    expect(cards).to_have_count(len(stack.site_ids))
    for site in soon:
        readiness = page.locator(f'article.card[data-site="{site}"] [data-field="readiness"] .pill')
        expect(readiness).to_have_attribute("data-state", "ready", timeout=SELFTEST_MS)
    shot(page, out, "overview")

    page.goto(f"{stack.url}/meetings")
    expect(page.locator("#meeting-list tbody tr").first).to_be_visible()
    shot(page, out, "meetings")
    page.click('[data-view="calendar"]')
    expect(page.locator(".calendar .event").first).to_be_visible()
    shot(page, out, "meetings-calendar")
    page.click('[data-view="list"]')              # the choice is remembered: leave it as found

    engineer = browser.new_context(viewport=TABLET, locale="zh-CN", timezone_id=TIMEZONE)
    try:
        tab = engineer.new_page()
        sign_in_stack(tab, stack, "engineer", "/sites/urumqi")
        [urumqi] = [s for s in stack.sites if s.id == "urumqi"]
        expect(tab.locator("main h1")).to_have_text(urumqi.name_zh)
        tab.click('[data-action="selftest"]')
        tab.click('dialog.confirm [data-action="confirm"]')
        progress = tab.locator("#progress li").first
        expect(progress).to_have_attribute("data-state", "succeeded", timeout=SELFTEST_MS)
        newest = tab.locator("#selftests details").first
        expect(newest.locator(".pill")).to_have_attribute("data-state", "ready")
        newest.locator("summary").click()
        expect(tab.locator("#selftests table.checks").first).to_be_visible()
        # The codec's firmware as the unit reported it in that self-test's inventory.
        [run] = stack.get("/api/v1/sites/urumqi/selftests", limit=1)
        [codec] = [d for d in run["inventory"] if d["id"] == "urumqi.codec"]
        assert codec["identity"].get("firmware"), codec
        codec_row = tab.locator('#devices tr[data-device="urumqi.codec"]')
        expect(codec_row).to_contain_text(codec["identity"]["firmware"])
        shot(tab, out, "site-engineer-tablet-zh")

        tab.goto(f"{stack.url}/")
        expect(tab.locator("article.card")).to_have_count(len(stack.site_ids))
        shot(tab, out, "overview-tablet-zh")
        tab.goto(f"{stack.url}/faults")
        tab.uncheck("#open-only")                 # closed ones too, with their time to repair
        faults = stack.get("/api/v1/faults", role="engineer")
        if faults:
            expect(tab.locator("#faults tbody tr")).to_have_count(len(faults))
        else:
            expect(tab.locator("#faults")).to_contain_text("暂无故障")
        shot(tab, out, "faults-tablet-zh")
    finally:
        engineer.close()

    page.goto(f"{stack.url}/audit")
    expect(page.locator("#audit tbody tr").first).to_be_visible()
    shot(page, out, "audit")
    page.click('[data-action="logout"]')
    page.wait_for_url(re.compile(r".*/login.*"))
    shot(page, out, "login")
