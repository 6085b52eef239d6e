"""Issue 17 in Chromium: the booking form names a conflicting meeting and books anyway only with a
reason; a site whose call failed shows a plain reason and "Redial", which brings it back live.
Central is real (uvicorn, the real agent link); the rooms are fake agents (tests/dashboard/fake_agent.py)
so the failure can be made to happen."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from playwright.sync_api import Page, expect

from central.models import utcnow
from tests.central.helpers import PASSWORD
from tests.dashboard.conftest import SITES, Central, sign_in
from tests.dashboard.fake_agent import AgentBehaviour

pytestmark = pytest.mark.browser
BRIDGE = "bridge@mcu.roomops.example"


@contextlib.contextmanager
def api(url: str) -> Iterator[tuple[httpx.Client, dict[str, str]]]:
    with httpx.Client(base_url=url, timeout=10) as http:
        token = http.post("/api/v1/auth/token", data={"username": "secretariat", "password": PASSWORD})
        yield http, {"Authorization": f"Bearer {token.json()['access_token']}"}


def book(http: httpx.Client, headers: dict[str, str], title: str, sites: list[str], start_in: timedelta,
         hours: float = 1.0) -> str:
    start = utcnow() + start_in
    created = http.post("/api/v1/meetings", headers=headers, json={
        "title": title, "start": start.isoformat(), "end": (start + timedelta(hours=hours)).isoformat(),
        "host_site": sites[0], "sites": sites, "mode": "bridge", "bridge_uri": BRIDGE})
    assert created.status_code == 201, created.text
    return created.json()["id"]


def test_the_form_names_the_conflicting_meeting_and_books_anyway_with_a_reason(page: Page,
                                                                               central: Central) -> None:
    with api(central.url) as (http, headers):
        other = book(http, headers, "Six-site plenary", list(SITES), timedelta(minutes=30), hours=3)
    sign_in(page, central.url, "secretariat", "/meetings")
    page.click('[data-action="new-meeting"]')
    form = page.locator('form[data-form="meeting"]')
    form.locator('input[name="title"]').fill("Three-site coordination")
    for site in ("urumqi", "guangzhou", "kunming"):
        form.locator(f'input[name="sites"][value="{site}"]').uncheck()
    form.locator('input[name="mode"][value="bridge"]').check()
    form.locator('input[name="bridge_uri"]').fill(BRIDGE)
    form.locator('[data-action="save-meeting"]').click()      # the default time: in an hour, for an hour

    conflict = form.locator('[data-field="conflict"]')
    expect(conflict).to_be_visible()
    expect(conflict.locator(f'li[data-meeting="{other}"]')).to_contain_text("Six-site plenary")
    expect(conflict.locator(f'li[data-meeting="{other}"]')).to_contain_text("Lhasa Office")
    assert page.url.endswith("/meetings")                   # nothing was booked
    conflict.locator('[data-action="force-meeting"]').click()  # without a reason: refused in the form
    expect(form.locator('.notice.error[role="alert"]').first).to_contain_text("reason")
    assert page.url.endswith("/meetings")
    conflict.locator('textarea[name="force_reason"]').fill("The director needs both today")
    conflict.locator('[data-action="force-meeting"]').click()

    page.wait_for_url(re.compile(r".*/meetings/[0-9a-f]{32}$"))
    expect(page.locator('[data-field="override"]')).to_contain_text("The director needs both today")
    with api(central.url) as (http, headers):
        audit = http.get("/api/v1/audit", headers=headers, params={"actor": "secretariat"}).json()
    override = [a for a in audit if a["action"] == "meeting.conflict_override"]
    assert [a["detail"]["reason"] for a in override] == ["The director needs both today"]


@pytest.fixture
def behaviours() -> dict[str, AgentBehaviour]:
    return {"lhasa": AgentBehaviour(fail_connects=1)}


def test_a_failed_site_says_why_and_redial_brings_it_back(page: Page, live_central: Central) -> None:
    with api(live_central.url) as (http, headers):
        meeting_id = book(http, headers, "Regional call", ["shanghai-hq", "lhasa", "xining"],
                          timedelta(minutes=-1))
    sign_in(page, live_central.url, "secretariat", f"/meetings/{meeting_id}")
    page.click('[data-action="start"]')
    page.click('dialog.confirm [data-action="confirm"]')
    lhasa = page.locator('.site-tile[data-site="lhasa"]')
    expect(lhasa).to_have_attribute("data-call", "failed", timeout=20_000)
    expect(page.locator('.site-tile[data-site="xining"]')).to_have_attribute("data-call", "connected")
    problem = lhasa.locator('[data-field="problem"]')
    expect(problem).to_have_attribute("data-code", "connect_failed")
    expect(problem).to_contain_text("The call did not connect")
    expect(problem.locator("details pre")).not_to_be_visible()     # the raw text is collapsed
    page.evaluate("window.__marker = 'same page'")

    lhasa.locator('[data-action="redial"]').click()
    expect(lhasa).to_have_attribute("data-call", "connected", timeout=20_000)
    expect(lhasa.locator('[data-field="problem"]')).to_have_count(0)
    assert page.evaluate("window.__marker") == "same page"

    lhasa.locator('[data-action="mute"]').click()
    expect(lhasa.locator('[data-field="muted"]')).to_be_visible()
    expect(lhasa.locator('[data-action="unmute"]')).to_be_visible()
    xining = page.locator('.site-tile[data-site="xining"]')
    xining.locator('[data-action="drop"]').click()
    page.click('dialog.confirm [data-action="confirm"]')
    expect(xining).to_have_attribute("data-call", "dropped")
    expect(page.locator('.site-tile[data-site="shanghai-hq"]')).to_have_attribute("data-call", "connected")
    with api(live_central.url) as (http, headers):
        audit = http.get("/api/v1/audit", headers=headers, params={"actor": "secretariat"}).json()
    actions = {(a["action"], a["target"]) for a in audit}
    assert {("meeting.redial", f"{meeting_id}/lhasa"), ("meeting.mute", f"{meeting_id}/lhasa"),
            ("meeting.drop", f"{meeting_id}/xining")} <= actions
