"""An admin edits and retires a site from its page (real Chromium, central in this process);
an engineer sees neither button."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.dashboard.conftest import Central, sign_in

pytestmark = pytest.mark.browser


def test_admin_edits_then_retires_a_site(page: Page, central: Central) -> None:
    sign_in(page, central.url, "admin", target="/sites/lhasa")
    page.click('[data-action="edit-site"]')
    dialog = page.locator("dialog.confirm")
    dialog.locator('[name="name"]').fill("Lhasa Office (new building)")
    dialog.locator('[name="timezone"]').fill("Asia/Urumqi")
    dialog.locator('[data-action="confirm"]').click()
    expect(page.locator("#site-title")).to_contain_text("Lhasa")
    page.click('[data-action="retire-site"]')
    dialog = page.locator("dialog.confirm")
    dialog.locator('[name="reason"]').fill("moved into the head office")
    dialog.locator('[data-action="confirm"]').click()
    expect(page.locator('#site-agent .pill[data-state="retired"]')).to_be_visible()
    expect(page.locator('[data-action="retire-site"]')).to_be_hidden()
    site = page.evaluate("fetch('/api/v1/sites/lhasa').then((r) => r.json())")
    assert site["timezone"] == "Asia/Urumqi" and site["name"] == "Lhasa Office (new building)"
    assert site["retired_by"] == "admin"
    audit = page.evaluate("fetch('/api/v1/audit').then((r) => r.json())")
    assert {"site.edit", "site.retire"} <= {a["action"] for a in audit}


def test_an_engineer_has_no_site_admin_buttons(page: Page, central: Central) -> None:
    sign_in(page, central.url, "engineer", target="/sites/lhasa")
    expect(page.locator('[data-action="selftest"]')).to_be_visible()
    expect(page.locator('[data-action="edit-site"]')).to_have_count(0)
    expect(page.locator('[data-action="retire-site"]')).to_have_count(0)
