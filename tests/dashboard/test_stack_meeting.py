"""Issue 9 acceptance, secretariat: in Chromium against the real stack (central, six agents, the
simulated rooms), create a meeting through the form, see every site's readiness from the agents'
own pre-meeting self-tests, press Start, watch all six sites connect live, press Stop.

The meeting starts ten minutes after it is created, inside the agents' pre-meeting lead (30 min,
tests/e2e/stack.py), so each agent runs its self-test as soon as it receives the schedule."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from tests.dashboard.conftest import TIMEZONE, shot, sign_in_stack
from tests.e2e.stack import Stack

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(400)]
HOST = "shanghai-hq"
#: a real self-test reaches every device of a room, and a test call: generous, not a target
READINESS_MS = 60_000
CALL_MS = 60_000


#: rooms whose codec cannot do HD (profiles/sites: xining runs a Polycom HDX 8000)
SD_SITES = {"xining"}


def local_input(moment: datetime) -> str:
    """The value of a datetime-local input in the browser's time zone."""
    return moment.astimezone(ZoneInfo(TIMEZONE)).strftime("%Y-%m-%dT%H:%M")


def test_secretariat_creates_starts_and_stops_a_six_site_meeting(
    stack_page: Page, stack: Stack, screenshot_dir: Path
) -> None:
    page = stack_page
    bridge = stack.sites[0].bridge_uri
    assert bridge
    sign_in_stack(page, stack, "secretariat", "/meetings")
    page.click('[data-action="new-meeting"]')
    form = page.locator('form[data-form="meeting"]')
    start = datetime.now().astimezone() + timedelta(minutes=10)
    form.locator('input[name="title"]').fill("Quarterly liaison meeting")
    form.locator('input[name="start"]').fill(local_input(start))
    form.locator('input[name="end"]').fill(local_input(start + timedelta(hours=1, minutes=30)))
    form.locator('select[name="host_site"]').select_option(HOST)
    for site in stack.site_ids:
        expect(form.locator(f'input[name="sites"][value="{site}"]')).to_be_checked()
    form.locator('input[name="mode"][value="bridge"]').check()
    form.locator('input[name="bridge_uri"]').fill(bridge)
    form.locator('[data-action="save-meeting"]').click()

    page.wait_for_url(re.compile(r".*/meetings/[0-9a-f]{32}$"))
    meeting_id = page.url.rsplit("/", 1)[1]
    expect(page.locator('[data-field="title"]')).to_have_text("Quarterly liaison meeting")
    tiles = page.locator(".site-tile")
    expect(tiles).to_have_count(len(stack.site_ids))
    expect(tiles.first).to_have_attribute("data-site", HOST)       # the host comes first
    page.evaluate("window.__marker = 'same page'")

    # Readiness from each agent's pre-meeting self-test of its real (simulated) room.
    for site in stack.site_ids:
        tile = page.locator(f'.site-tile[data-site="{site}"]')
        expect(tile).to_have_attribute("data-readiness", "ready", timeout=READINESS_MS)
    for link in stack.get(f"/api/v1/meetings/{meeting_id}")["sites"]:
        run = stack.get(f"/api/v1/selftests/{link['selftest_id']}")
        assert run["trigger"] == "pre_meeting" and run["meeting_id"] == meeting_id, run
        assert run["site_id"] == link["site_id"], run
        assert len(run["checks"]) >= 5, run["checks"]          # the room's devices were really tested
    shot(page, screenshot_dir, "meeting-readiness")

    page.click('[data-action="start"]')
    page.click('dialog.confirm [data-action="confirm"]')
    expect(page.locator('[data-field="state"] .pill')).to_have_attribute("data-state", "started")
    for site in stack.site_ids:
        tile = page.locator(f'.site-tile[data-site="{site}"]')
        expect(tile).to_have_attribute("data-call", "connected", timeout=CALL_MS)
        expect(tile.locator('[data-field="rate"]')).to_contain_text("kbps")
        # Xining's room has the SD-era Polycom HDX 8000: its call is SD, the others' HD
        expect(tile.locator('[data-field="rate"] .pill')).to_have_text("SD" if site in SD_SITES else "HD")
    recording = page.locator(f'.site-tile[data-site="{HOST}"] [data-field="recording"] .pill')
    expect(recording).to_have_attribute("data-state", "recording")
    assert page.evaluate("window.__marker") == "same page"          # live: no reload
    shot(page, screenshot_dir, "meeting-live")

    page.click('[data-action="stop"]')
    page.click('dialog.confirm [data-action="confirm"]')
    expect(page.locator('[data-field="state"] .pill')).to_have_attribute("data-state", "stopped")
    for site in stack.site_ids:
        expect(page.locator(f'.site-tile[data-site="{site}"]')).to_have_attribute(
            "data-call", "disconnected", timeout=CALL_MS)
    expect(recording).to_have_attribute("data-state", "stopped", timeout=CALL_MS)
    assert page.evaluate("window.__marker") == "same page"

    # The satisfaction question per site feeds the reports.
    star = page.locator('.site-tile[data-site="urumqi"] .stars [data-score="4"]')
    star.click()
    expect(star).to_have_attribute("aria-pressed", "true")
    # What the page showed is what central holds: every codec really hung up.
    body = stack.get(f"/api/v1/meetings/{meeting_id}")
    assert all(s["call"].get("state") == "idle" for s in body["sites"]), body["sites"]
    # One pre-meeting test per room: Start resent the schedule, which must not test again (the
    # test call would have landed in the meeting).
    for site in stack.site_ids:
        runs = [r for r in stack.get(f"/api/v1/sites/{site}/selftests") if r["meeting_id"] == meeting_id]
        assert [r["trigger"] for r in runs] == ["pre_meeting"], (site, runs)
