"""Edge case with fake agents (tests/dashboard/fake_agent.py): a site whose pre-meeting self-test
found a problem shows "degraded", and its failing check with the device's own words is one click
away. The whole meeting flow runs against the real stack in test_stack_meeting.py, whose rooms
are healthy."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from playwright.sync_api import Page, expect

from central.models import utcnow
from tests.central.helpers import PASSWORD
from tests.dashboard.conftest import SITES, Central, sign_in

pytestmark = pytest.mark.browser


def test_a_degraded_site_shows_its_failing_check_with_evidence(page: Page, live_central: Central) -> None:
    with httpx.Client(base_url=live_central.url, timeout=10) as http:
        token = http.post("/api/v1/auth/token", data={"username": "secretariat", "password": PASSWORD})
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        start = utcnow() + timedelta(minutes=20)
        created = http.post("/api/v1/meetings", headers=headers,
                            json={"title": "Quarterly liaison meeting", "start": start.isoformat(),
                                  "end": (start + timedelta(hours=1)).isoformat(), "host_site": "shanghai-hq",
                                  "sites": list(SITES), "mode": "bridge",
                                  "bridge_uri": "bridge@mcu.roomops.example"})
        assert created.status_code == 201, created.text
    sign_in(page, live_central.url, "secretariat", f"/meetings/{created.json()['id']}")

    for site in SITES:
        expected = "degraded" if site == "lhasa" else "ready"
        expect(page.locator(f'.site-tile[data-site="{site}"]')).to_have_attribute("data-readiness", expected)
    # only a site that is not ready offers its checks
    expect(page.locator('.site-tile[data-site="urumqi"] [data-action="show-checks"]')).to_have_count(0)
    page.locator('.site-tile[data-site="lhasa"] [data-action="show-checks"]').click()
    dialog = page.locator("dialog.checks")
    expect(dialog.locator('tr[data-check="codec.call_rate"]')).to_contain_text("768 kbps")
    expect(dialog.locator("pre.evidence")).to_contain_text("TransmitCallRate: 768")
    dialog.get_by_role("button").click()
    expect(dialog).to_have_count(0)
