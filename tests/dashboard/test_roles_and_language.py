"""Engineer actions, what a viewer is offered, and the language switch, in Chromium."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.dashboard.conftest import Central, sign_in

pytestmark = pytest.mark.browser


def test_engineer_reboots_a_device_and_watches_it_go_down_and_come_back(
    page: Page, live_central: Central
) -> None:
    sign_in(page, live_central.url, "engineer", "/sites/urumqi")
    row = page.locator('#devices tr[data-device="urumqi.codec"]')
    expect(row).to_have_attribute("data-state", "up")
    expect(row).to_contain_text("ce11.5.2")                 # firmware from the agent's hello

    row.locator('[data-action="reboot"]').click()
    dialog = page.locator("dialog.confirm")
    expect(dialog).to_contain_text("urumqi.codec")
    dialog.locator('[data-action="confirm"]').click()

    expect(row).to_have_attribute("data-state", "down")
    expect(row).to_have_attribute("data-state", "up")
    progress = page.locator('#progress li')
    expect(progress).to_have_count(1)
    expect(progress.first).to_have_attribute("data-state", "succeeded")

    # The audit log keeps who did it and how it ended.
    page.click('a[data-nav="audit"]')
    expect(page.locator("#audit tbody tr").filter(has_text="urumqi.codec").first).to_contain_text("engineer")


def test_a_cancelled_confirmation_sends_nothing(page: Page, live_central: Central) -> None:
    sign_in(page, live_central.url, "engineer", "/sites/kunming")
    page.locator('#devices tr[data-device="kunming.display1"] [data-action="reboot"]').click()
    page.locator('dialog.confirm [data-action="cancel"]').click()
    expect(page.locator("dialog.confirm")).to_have_count(0)
    expect(page.locator("#progress li")).to_have_count(0)
    expect(page.locator('#devices tr[data-device="kunming.display1"]')).to_have_attribute("data-state", "up")


def test_viewer_is_offered_no_action_buttons_and_the_server_refuses_anyway(
    page: Page, live_central: Central
) -> None:
    sign_in(page, live_central.url, "viewer", "/sites/urumqi")
    expect(page.locator('#devices tr[data-device="urumqi.codec"]')).to_be_visible()
    actions = "[data-action=reboot], [data-action=power_cycle], [data-action=selftest]"
    expect(page.locator(actions)).to_have_count(0)
    expect(page.locator('form[data-form="relocate"]')).to_have_count(0)
    page.click('a[data-nav="meetings"]')
    expect(page.locator("#meeting-list")).to_be_visible()
    expect(page.locator('[data-action="new-meeting"]')).to_have_count(0)

    # Forcing the request from the page with the viewer's own session and CSRF token: refused.
    status = page.evaluate("""async () => {
        const csrf = document.querySelector('meta[name="csrf-token"]').content;
        const r = await fetch('/api/v1/devices/urumqi.codec/commands', {method: 'POST',
            headers: {'Content-Type': 'application/json', 'X-CSRF-Token': csrf},
            body: JSON.stringify({kind: 'reboot'})});
        return r.status;
    }""")
    assert status == 403


def test_secretariat_sees_meeting_actions_but_no_device_actions(page: Page, live_central: Central) -> None:
    sign_in(page, live_central.url, "secretariat", "/sites/lhasa")
    expect(page.locator('#devices tr[data-device="lhasa.codec"]')).to_be_visible()
    expect(page.locator("[data-action=reboot]")).to_have_count(0)
    page.click('a[data-nav="meetings"]')
    expect(page.locator('[data-action="new-meeting"]')).to_be_visible()


def test_switching_language_changes_the_page_text_and_is_remembered(
    page: Page, live_central: Central
) -> None:
    sign_in(page, live_central.url, "viewer")
    heading = page.locator("main h1")
    expect(heading).to_have_text("Sites at a glance")            # Accept-Language en from the browser
    expect(page.locator('article.card[data-site="urumqi"] .site-name')).to_contain_text("Urumqi Office")

    page.click('button[data-lang="zh-CN"]')
    expect(heading).to_have_text("各会场状态一览")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator('a[data-nav="meetings"]')).to_have_text("会议")
    expect(page.locator('article.card[data-site="urumqi"] .site-name')).to_contain_text("乌鲁木齐办事处")
    devices = page.locator('article.card[data-site="urumqi"] [data-field="devices"]')
    expect(devices).to_contain_text("7 台中 7 台在线")

    page.goto(f"{live_central.url}/meetings")                    # remembered across pages
    expect(page.locator("main h1")).to_have_text("会议")
    page.click('button[data-lang="en"]')
    expect(page.locator("main h1")).to_have_text("Meetings")


def test_login_page_rejects_a_wrong_password_in_the_chosen_language(page: Page, central: Central) -> None:
    page.goto(f"{central.url}/")
    page.wait_for_url("**/login**")
    page.click('button[data-lang="zh-CN"]')
    expect(page.locator("h1")).to_have_text("登录")
    page.fill("input[name=username]", "viewer")
    page.fill("input[name=password]", "not the password")
    page.click("button[type=submit]")
    expect(page.locator("#login-error")).to_have_text("用户名或密码错误。")
    expect(page).to_have_url(f"{central.url}/login?next=%2F")
