"""Edge case with fake agents: an agent that goes away turns its site's card red live, without a
reload (the real stack's agents stay up for the other tests)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.dashboard.conftest import SITES, Central, sign_in

pytestmark = pytest.mark.browser


def test_a_site_whose_agent_drops_turns_red_without_a_reload(page: Page, live_central: Central) -> None:
    sign_in(page, live_central.url, "viewer")
    expect(page.locator("article.card")).to_have_count(len(SITES))
    card = page.locator('article.card[data-site="xining"]')
    expect(card.locator('[data-field="agent"] .pill')).to_have_attribute("data-state", "up")
    expect(card.locator('[data-field="devices"]')).to_contain_text("7 of 7 up")

    page.evaluate("window.__marker = 'same page'")
    assert live_central.fleet is not None
    live_central.fleet.disconnect("xining")
    expect(card).to_have_attribute("data-verdict", "down")
    expect(card.locator('[data-field="agent"] .pill')).to_have_attribute("data-state", "down")
    expect(page.locator('article.card[data-site="urumqi"]')).to_have_attribute("data-verdict", "ok")
    assert page.evaluate("window.__marker") == "same page"
