"""Overview page in Chromium: every site's card, updated live without a reload."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.dashboard.conftest import SITES, Central, sign_in

pytestmark = pytest.mark.browser


def test_overview_shows_every_site_connected_and_updates_live(page: Page, live_central: Central) -> None:
    sign_in(page, live_central.url, "viewer")
    cards = page.locator("article.card")
    expect(cards).to_have_count(len(SITES))
    for site in SITES:
        card = page.locator(f'article.card[data-site="{site}"]')
        expect(card.locator('[data-field="agent"] .pill')).to_have_attribute("data-state", "up")
        expect(card.locator('[data-field="devices"]')).to_contain_text("7 of 7 up")

    # The agent of one site goes away: its card turns red without a reload.
    page.evaluate("window.__marker = 'same page'")
    assert live_central.fleet is not None
    live_central.fleet.disconnect("xining")
    card = page.locator('article.card[data-site="xining"]')
    expect(card).to_have_attribute("data-verdict", "down")
    expect(card.locator('[data-field="agent"] .pill')).to_have_attribute("data-state", "down")
    assert page.evaluate("window.__marker") == "same page"
