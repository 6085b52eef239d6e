"""The site map on the overview (real Chromium, fake agents over the real link): six offices placed
on the shipped outline of China, coloured by live status; an agent that drops turns its office grey
within a refresh, without a reload. The reports page draws each site's monthly charts as SVG."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.central.helpers import PASSWORD
from tests.dashboard.conftest import SITES, Central, sign_in

pytestmark = pytest.mark.browser


def test_offices_on_the_map_follow_their_status(page: Page, live_central: Central) -> None:
    sign_in(page, live_central.url, "viewer")
    pins = page.locator("#site-map g.pin")
    expect(pins).to_have_count(len(SITES))
    expect(page.locator("#site-map g.outline path")).to_have_count(3)          # mainland, Hainan, Taiwan
    expect(page.locator("#site-map g.inset line").first).to_be_attached()      # South China Sea inset
    xining = page.locator('#site-map g.pin[data-site="xining"]')
    expect(xining).not_to_have_attribute("data-status", "offline")
    expect(xining).to_contain_text("Xining Office")

    # the offices sit where their cities are: Urumqi far west and north, Guangzhou south, Shanghai east
    def centre(site: str) -> tuple[float, float]:
        circle = page.locator(f'#site-map g.pin[data-site="{site}"] circle')
        return float(circle.get_attribute("cx") or 0), float(circle.get_attribute("cy") or 0)

    urumqi, guangzhou, shanghai = centre("urumqi"), centre("guangzhou"), centre("shanghai-hq")
    assert urumqi[0] < guangzhou[0] < shanghai[0] and urumqi[1] < shanghai[1] < guangzhou[1]

    assert live_central.fleet is not None
    live_central.fleet.disconnect("xining")
    expect(xining).to_have_attribute("data-status", "offline", timeout=30_000)   # refreshed every 15 s
    urumqi_pin = page.locator('#site-map g.pin[data-site="urumqi"]')
    expect(urumqi_pin).not_to_have_attribute("data-status", "offline")


def test_map_in_chinese_and_charts_on_the_reports_page(page: Page, live_central: Central) -> None:
    with httpx.Client(base_url=live_central.url, timeout=10) as http:
        token = http.post("/api/v1/auth/token", data={"username": "viewer", "password": PASSWORD})
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        svg = http.get("/api/v1/reports/map", params={"lang": "zh"}, headers=headers)
        pins = http.get("/api/v1/reports/map", params={"format": "json"}, headers=headers).json()
        anonymous = http.get("/api/v1/reports/map")
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert "拉萨办事处" in svg.text and "南海诸岛" in svg.text and "<script" not in svg.text
    assert {p["site_id"] for p in pins} == set(SITES) and all(p["position"] for p in pins)
    assert anonymous.status_code == 401

    sign_in(page, live_central.url, "viewer", "/reports")
    charts = page.locator("#site-charts svg.chart")
    expect(charts).to_have_count(3 * len(SITES))
    expect(page.locator('#site-charts svg.chart[data-site="lhasa"][data-kind="uplink"]')).to_be_visible()
    expect(page.locator("#site-map g.pin")).to_have_count(len(SITES))
