"""Issue 17, redial against the real stack in Chromium: two rooms (real agents, simulated codecs)
in a bridge meeting; the clerk presses Redial on one site, its codec hangs up this meeting's call
and dials again, the tile comes back connected live, the other site never left."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.dashboard.conftest import sign_in_stack
from tests.e2e.stack import Stack

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(400)]
HOST, OTHER = "shanghai-hq", "xining"
#: real self-tests and real calls: generous, not targets
READINESS_MS = 90_000
CALL_MS = 60_000


def test_redial_one_site_of_a_running_meeting(stack_page: Page, stack: Stack) -> None:
    page = stack_page
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=10)
    created = stack.post("/api/v1/meetings", "secretariat", {
        "title": "Redial check", "start": start.isoformat(),
        "end": (start + timedelta(hours=1)).isoformat(), "host_site": HOST, "sites": [HOST, OTHER],
        "mode": "bridge", "bridge_uri": stack.sites[0].bridge_uri})
    assert created.status_code == 201, created.text
    meeting_id = created.json()["id"]
    sign_in_stack(page, stack, "secretariat", f"/meetings/{meeting_id}")
    for site in (HOST, OTHER):       # the pre-meeting self-tests (with their test calls) are over
        expect(page.locator(f'.site-tile[data-site="{site}"]')).to_have_attribute(
            "data-readiness", "ready", timeout=READINESS_MS)
    page.click('[data-action="start"]')
    page.click('dialog.confirm [data-action="confirm"]')
    other = page.locator(f'.site-tile[data-site="{OTHER}"]')
    host = page.locator(f'.site-tile[data-site="{HOST}"]')
    for tile in (host, other):
        expect(tile).to_have_attribute("data-call", "connected", timeout=CALL_MS)
    first_call = next(s for s in stack.get(f"/api/v1/meetings/{meeting_id}")["sites"]
                      if s["site_id"] == OTHER)["call"]["call_id"]
    page.evaluate("window.__marker = 'same page'")

    other.locator('[data-action="redial"]').click()

    def new_call() -> dict[str, Any] | None:
        body = stack.get(f"/api/v1/meetings/{meeting_id}")
        link = next(s for s in body["sites"] if s["site_id"] == OTHER)
        call = link["call"]
        fresh = link["call_state"] == "connected" and call.get("state") == "connected"
        return call if fresh and call.get("call_id") != first_call else None

    call = stack.wait_for(new_call, CALL_MS / 1000, "a new call of the redialled site (the old one hung up)")
    assert call["meeting_id"] == meeting_id, call
    expect(other).to_have_attribute("data-call", "connected")
    expect(host).to_have_attribute("data-call", "connected")
    assert page.evaluate("window.__marker") == "same page"
    audit = stack.get("/api/v1/audit", "secretariat", actor="secretariat")
    assert any(a["action"] == "meeting.redial" and a["target"] == f"{meeting_id}/{OTHER}" for a in audit)

    page.click('[data-action="stop"]')
    page.click('dialog.confirm [data-action="confirm"]')
    for tile in (host, other):
        expect(tile).to_have_attribute("data-call", "disconnected", timeout=CALL_MS)
