"""The reports page links into the reports feature for the chosen year and language."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.dashboard.conftest import Central, sign_in

pytestmark = pytest.mark.browser


def test_reports_page_opens_the_annual_report_of_the_chosen_year(page: Page, central: Central) -> None:
    sign_in(page, central.url, "viewer", "/reports")
    annual_html = page.locator('tr[data-report="annual"] a[data-format="html"]')
    expect(annual_html).to_be_visible()
    expect(page.locator('tr[data-report="annual"] a[data-format="pdf"]')).to_be_visible()
    page.fill("#year", "2025")
    href = annual_html.get_attribute("href") or ""
    assert "year=2025" in href and "format=html" in href

    response = page.request.get(central.url + href)
    assert response.status == 200, response.text()[:300]
    assert "2025" in response.text()

    pdf = page.request.get(central.url + (page.locator('tr[data-report="annual"] a[data-format="pdf"]')
                                          .get_attribute("href") or ""))
    assert pdf.status == 200
    assert pdf.body().startswith(b"%PDF")
