"""Issue 9 acceptance, roles and language, in Chromium against the real stack: an engineer reboots
a codec from its site page and watches it go down and come back (the agent really reboots the
simulated unit); a viewer is offered no action and the server refuses one forced from the page;
the secretariat gets meeting actions but no device actions; switching language changes the text.

Everything here only reads the shared stack, except the reboot, which uses a codec no other test
of the stack touches (guangzhou)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, expect

from tests.dashboard.conftest import sign_in_stack
from tests.e2e.stack import Stack

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(400)]
#: a reboot: the agent's command, the unit's boot time, the next polls; generous, not a target
REBOOT_MS = 60_000
DEVICE_ACTIONS = "[data-action=reboot], [data-action=power_cycle], [data-action=selftest]"


def test_engineer_reboots_a_codec_and_watches_it_go_down_and_come_back(
    stack_page: Page, stack: Stack
) -> None:
    page, codec = stack_page, "guangzhou.codec"
    before = stack.get(f"/api/v1/devices/{codec}")
    sign_in_stack(page, stack, "engineer", "/sites/guangzhou")
    row = page.locator(f'#devices tr[data-device="{codec}"]')
    expect(row).to_have_attribute("data-state", "up")
    serial = before["identity"]["serial"]
    assert serial
    expect(row).to_contain_text(serial)                    # from its agent's hello
    page.evaluate("window.__marker = 'same page'")

    row.locator('[data-action="reboot"]').click()
    dialog = page.locator("dialog.confirm")
    expect(dialog).to_contain_text(codec)
    dialog.locator('[data-action="confirm"]').click()

    expect(row).to_have_attribute("data-state", "down", timeout=REBOOT_MS)
    expect(row).to_have_attribute("data-state", "up", timeout=REBOOT_MS)
    progress = page.locator("#progress li")
    expect(progress).to_have_count(1)
    expect(progress.first).to_have_attribute("data-state", "succeeded", timeout=REBOOT_MS)
    assert page.evaluate("window.__marker") == "same page"  # all of it live, no reload
    after = stack.get(f"/api/v1/devices/{codec}")
    assert after["up"] is True, after
    assert datetime.fromisoformat(after["since"]) > datetime.fromisoformat(before["since"]), (before, after)

    # The audit log keeps who did it and how it ended.
    page.click('a[data-nav="audit"]')
    entry = page.locator("#audit tbody tr").filter(has_text=codec).first
    expect(entry).to_contain_text("engineer")


def test_a_cancelled_confirmation_sends_nothing(stack_page: Page, stack: Stack) -> None:
    before = stack.get("/api/v1/commands", role="admin", device="kunming.display1")
    sign_in_stack(stack_page, stack, "engineer", "/sites/kunming")
    stack_page.locator('#devices tr[data-device="kunming.display1"] [data-action="reboot"]').click()
    stack_page.locator('dialog.confirm [data-action="cancel"]').click()
    expect(stack_page.locator("dialog.confirm")).to_have_count(0)
    expect(stack_page.locator("#progress li")).to_have_count(0)
    assert stack.get("/api/v1/commands", role="admin", device="kunming.display1") == before


def test_viewer_is_offered_no_action_buttons_and_the_server_refuses_anyway(
    stack_page: Page, stack: Stack
) -> None:
    page = stack_page
    # A scheduled meeting (days ahead: no self-test yet) whose page the viewer may read.
    start = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(days=3)
    created = stack.post("/api/v1/meetings", "secretariat", {
        "title": "Liaison office directors' review", "start": start.isoformat(),
        "end": (start + timedelta(hours=1)).isoformat(), "host_site": "shanghai-hq",
        "sites": ["shanghai-hq", "kunming"], "mode": "host"})
    assert created.status_code == 201, created.text
    meeting_id = created.json()["id"]

    sign_in_stack(page, stack, "viewer", "/sites/urumqi")
    expect(page.locator('#devices tr[data-device="urumqi.codec"]')).to_be_visible()
    expect(page.locator(DEVICE_ACTIONS)).to_have_count(0)
    expect(page.locator('form[data-form="relocate"]')).to_have_count(0)
    page.click('a[data-nav="meetings"]')
    expect(page.locator("#meeting-list")).to_be_visible()
    expect(page.locator('[data-action="new-meeting"]')).to_have_count(0)
    page.locator(f'#meeting-list tr[data-meeting="{meeting_id}"] a').click()
    expect(page.locator(".site-tile")).to_have_count(2)
    expect(page.locator('[data-field="state"] .pill')).to_have_attribute("data-state", "scheduled")
    expect(page.locator("[data-action=start], [data-action=stop], [data-action=edit]")).to_have_count(0)

    # Forcing the request from the page with the viewer's own session and CSRF token: refused.
    before = stack.get("/api/v1/commands", role="admin", device="urumqi.codec")
    status = page.evaluate("""async () => {
        const csrf = document.querySelector('meta[name="csrf-token"]').content;
        const r = await fetch('/api/v1/devices/urumqi.codec/commands', {method: 'POST',
            headers: {'Content-Type': 'application/json', 'X-CSRF-Token': csrf},
            body: JSON.stringify({kind: 'reboot'})});
        return r.status;
    }""")
    assert status == 403
    assert stack.get("/api/v1/commands", role="admin", device="urumqi.codec") == before


def test_secretariat_sees_meeting_actions_but_no_device_actions(stack_page: Page, stack: Stack) -> None:
    sign_in_stack(stack_page, stack, "secretariat", "/sites/lhasa")
    expect(stack_page.locator('#devices tr[data-device="lhasa.codec"]')).to_be_visible()
    expect(stack_page.locator(DEVICE_ACTIONS)).to_have_count(0)
    stack_page.click('a[data-nav="meetings"]')
    expect(stack_page.locator('[data-action="new-meeting"]')).to_be_visible()


def test_switching_language_changes_the_page_text_and_is_remembered(stack_page: Page, stack: Stack) -> None:
    page = stack_page
    [urumqi] = [s for s in stack.sites if s.id == "urumqi"]
    total = len(urumqi.devices)
    sign_in_stack(page, stack, "viewer")
    heading = page.locator("main h1")
    expect(heading).to_have_text("Sites at a glance")            # Accept-Language en from the browser
    name = page.locator('article.card[data-site="urumqi"] .site-name')
    expect(name).to_contain_text(urumqi.name_en)
    devices = page.locator('article.card[data-site="urumqi"] [data-field="devices"]')
    expect(devices).to_contain_text(f"{total} of {total} up")

    page.click('button[data-lang="zh-CN"]')
    expect(heading).to_have_text("各会场状态一览")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator('a[data-nav="meetings"]')).to_have_text("会议")
    expect(name).to_contain_text(urumqi.name_zh)
    expect(devices).to_contain_text(f"{total} 台中 {total} 台在线")

    page.goto(f"{stack.url}/meetings")                          # remembered across pages
    expect(page.locator("main h1")).to_have_text("会议")
    page.click('button[data-lang="en"]')
    expect(page.locator("main h1")).to_have_text("Meetings")


def test_login_page_rejects_a_wrong_password_in_the_chosen_language(stack_page: Page, stack: Stack) -> None:
    page = stack_page
    page.goto(f"{stack.url}/")
    page.wait_for_url("**/login**")
    page.click('button[data-lang="zh-CN"]')
    expect(page.locator("h1")).to_have_text("登录")
    page.fill("input[name=username]", "viewer")
    page.fill("input[name=password]", "not the password")
    page.click("button[type=submit]")
    expect(page.locator("#login-error")).to_have_text("用户名或密码错误。")
    expect(page).to_have_url(f"{stack.url}/login?next=%2F")


def test_reports_page_opens_the_annual_report_of_the_chosen_year(stack_page: Page, stack: Stack) -> None:
    page = stack_page
    sign_in_stack(page, stack, "viewer", "/reports")
    annual_html = page.locator('tr[data-report="annual"] a[data-format="html"]')
    annual_pdf = page.locator('tr[data-report="annual"] a[data-format="pdf"]')
    expect(annual_html).to_be_visible()
    expect(annual_pdf).to_be_visible()
    page.fill("#year", "2025")
    href = annual_html.get_attribute("href") or ""
    assert "year=2025" in href and "format=html" in href

    response = page.request.get(stack.url + href)
    assert response.status == 200, response.text()[:300]
    assert "2025" in response.text()
    pdf = page.request.get(stack.url + (annual_pdf.get_attribute("href") or ""))
    assert pdf.status == 200
    assert pdf.body().startswith(b"%PDF")
