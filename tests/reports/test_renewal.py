"""The annual report's improvement section against a small scripted year, computed by hand: three
sites with a fast line and a current codec, a slow line and an old SD codec whose address moved,
and a site never seen; through the API (JSON, PDF in both languages)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from central.models import Site
from central.models.base import set_clock
from central.reports import addresses, annual, policy
from central.services import accounts, availability
from central.services.ingest import ingest
from contracts.messages import DeviceInfo, Event, Hello
from tests.central.helpers import RunningServer, central_settings
from tests.conftest import next_loopback
from tests.reports.history import Clock, cst
from tests.reports.test_annual import pdf_text

YEAR = 2025
PASSWORD = "renewal test password"
#: site -> (codec model, reported model, uplink uploads (Mbps), call resolutions (hd flag))
SCRIPT = {
    "hq": ("cisco-roomkit", "Room Kit", [22.0, 18.5, 20.0], [("1920x1080", True)] * 3),
    "lhasa": ("polycom-vsx7000", "VSX 7000", [1.6, 1.2, 2.4, 1.9], [("704x576", False)] * 3
              + [("1280x720", True)]),
    "xining": ("sim-codec", "", [], []),
}
HD_NEED = 2.0   # the policy's default: an HD call needs 2 Mbps up


@pytest.fixture(scope="module")
def year(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    clock = Clock(cst(YEAR, 1, 2, 9))
    set_clock(clock)
    try:
        data = tmp_path_factory.mktemp("renewal")
        settings = central_settings(data, f"sqlite:///{Path(data) / 'central.db'}")
        server = RunningServer(settings, next_loopback())
        ctx = server.ctx
        with ctx.unit() as session:
            accounts.create_user(session, "viewer", PASSWORD, ["viewer"])
            for site_id, (model, reported, _, _) in SCRIPT.items():
                zh = {"hq": "上海", "lhasa": "拉萨", "xining": "西宁"}[site_id]
                accounts.create_site(session, site_id, name=site_id.title(), name_zh=zh)
                ingest(session, site_id, Hello(site=site_id, agent_version="t", sent_at=clock.now, devices=[
                    DeviceInfo(id=f"{site_id}.codec", model=model, roles=["codec"],
                               identity={"model": reported, "firmware": "9.1"} if reported else {})]),
                       ctx.limits)
        with ctx.unit() as session:
            # observed time: hq's and lhasa's agents on-line and their codecs up from the first hour
            # of the year (xining never connected: its availability is unknown, never "up")
            for site_id in ("hq", "lhasa"):
                start = cst(YEAR, 1, 1, 0)
                availability.record_link(session, site_id=site_id, connected=True, at=start)
                availability.record_state(session, site_id=site_id, device_id=f"{site_id}.codec", up=True,
                                          at=start)
        for site_id, (_, _, ups, calls) in SCRIPT.items():
            for month, up in enumerate(ups, start=2):
                at = cst(YEAR, month, 10, 10)
                with ctx.unit() as session:
                    ingest(session, site_id, Event(site=site_id, kind="uplink", at=at, sent_at=at, data={
                        "up_mbps": up, "down_mbps": up * 2, "rtt_ms": 40.0, "loss": 0.0}), ctx.limits)
            for n, (resolution, hd) in enumerate(calls):
                at = cst(YEAR, 6, 1 + n, 10)
                with ctx.unit() as session:
                    ingest(session, site_id, Event(site=site_id, kind="call_state", device=f"{site_id}.codec",
                                                   at=at, sent_at=at, data={
                                                       "call_id": "1", "state": "connected", "hd": hd,
                                                       "meeting_id": f"m{n}", "resolution": resolution}),
                           ctx.limits)
        for kind, at in (("device_down", cst(YEAR, 3, 10, 10)), ("device_up", cst(YEAR, 3, 11, 10))):
            with ctx.unit() as session:     # lhasa's codec down for one day of March
                event = Event(site="lhasa", kind=kind, device="lhasa.codec", at=at, sent_at=at,
                              data={"reason": "no reply"} if kind == "device_down" else {})
                ingest(session, "lhasa", event, ctx.limits)
        with ctx.unit() as session:
            # hq: one address all year (reconnects included); lhasa: a new address in May and in
            # September; xining: never connected. The 2024 address of lhasa does not count as a change.
            addresses.record(session, "hq", "10.1.0.5", cst(YEAR - 1, 12, 1))
            addresses.record(session, "hq", "10.1.0.5", cst(YEAR, 3, 1))
            addresses.record(session, "lhasa", "58.1.2.3", cst(YEAR - 1, 12, 1))
            addresses.record(session, "lhasa", "58.1.9.9", cst(YEAR, 5, 3))
            addresses.record(session, "lhasa", "58.1.9.9", cst(YEAR, 6, 3))
            addresses.record(session, "lhasa", "61.4.4.4", cst(YEAR, 9, 3))
        with ctx.unit() as session:       # both agents on-line until the year's last second
            for site_id in ("hq", "lhasa"):
                availability.record_link(session, site_id=site_id, connected=False, at=cst(YEAR + 1, 1, 1, 0))
        clock.set(cst(YEAR + 1, 1, 5))
        server.start()
        try:
            yield server
        finally:
            server.stop()
    finally:
        set_clock(None)


def renewal(server: RunningServer, **params: str) -> httpx.Response:
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        token = http.post("/api/v1/auth/token", data={"username": "viewer", "password": PASSWORD})
        http.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        reply = http.get("/api/v1/reports/annual", params={"year": YEAR, **params})
    assert reply.status_code == 200, reply.text
    return reply


def test_renewal_figures_by_hand(year: RunningServer) -> None:
    body = renewal(year).json()
    items = {r["site_id"]: r for r in body["renewal"]}
    hq, lhasa, xining = items["hq"], items["lhasa"], items["xining"]

    assert hq["uplink_mean"] == pytest.approx((22.0 + 18.5 + 20.0) / 3) and hq["uplink_min"] == 18.5
    assert hq["hd_need_mbps"] == HD_NEED and hq["uplink_below_hd"] == 0
    assert (hq["codec_name"], hq["codec_introduced"], hq["codec_best_video"]) == ("Cisco Webex Room Kit",
                                                                                   2017, "1080p60")
    assert hq["typical_resolution"] == "1920x1080" and (hq["calls"], hq["calls_hd"]) == (3, 3)
    assert hq["addresses"] == ["10.1.0.5"] and hq["address_changes"] == 0
    assert hq["findings"] == [] and hq["renew"] is False

    assert lhasa["uplink_min"] == 1.2 and lhasa["uplink_below_hd"] == 3 and lhasa["uplink_measurements"] == 4
    assert lhasa["codec_introduced"] == 2004 and lhasa["codec_firmware"] == "9.1"
    assert lhasa["resolutions"] == {"704x576": 3, "1280x720": 1} and lhasa["calls_hd"] == 1
    assert lhasa["addresses"] == ["58.1.2.3", "58.1.9.9", "61.4.4.4"] and lhasa["address_changes"] == 2
    assert lhasa["findings"] == ["uplink", "codec_old", "codec_sd", "address", "below_hd"]
    assert lhasa["renew"] is True

    assert xining["uplink_measurements"] == 0 and xining["codec_introduced"] is None
    assert xining["addresses"] == [] and xining["calls"] == 0
    assert xining["findings"] == ["measure_uplink", "codec_unknown"] and xining["renew"] is False


def test_renewal_in_the_pdf_in_both_languages(year: RunningServer) -> None:
    zh = pdf_text(renewal(year, format="pdf", lang="zh").content).replace(" ", "").replace("\n", "")
    en = pdf_text(renewal(year, format="pdf", lang="en").content).replace("\n", " ")
    assert "改进建议" in zh and "建议更新" in zh and "暂不更新" in zh
    assert "上行带宽不足：最低1.2Mbps，高清需2.0Mbps" in zh and "地址变更2次" in zh
    assert "Improvements: the case for renewal" in en
    assert "uplink too slow: lowest 1.2 Mbps against 2.0 Mbps for HD" in " ".join(en.split())
    assert "Polycom VSX 7000 (2004, 4CIF (SD))" in " ".join(en.split())
    assert "came out in 2004 (21 years ago)" in " ".join(en.split())


def test_same_address_only_moves_last_seen(year: RunningServer) -> None:
    with year.ctx.unit() as session:
        before = addresses.history(session, ["hq"], cst(YEAR, 1, 1), cst(YEAR + 1, 1, 1))["hq"]
        row = addresses.record(session, "hq", "10.1.0.5", cst(YEAR, 12, 30))
        assert row is not None and row.last_seen == cst(YEAR, 12, 30)
        assert addresses.record(session, "nowhere", "1.2.3.4") is None        # unknown site: nothing stored
        report = annual.build(session, YEAR, [session.get(Site, "hq")], policy.load(session),
                              now=cst(YEAR + 1, 1, 5))
    assert before.changes == 0 and report.renewal[0].address_changes == 0
    assert report.renewal[0].addresses == ["10.1.0.5"]
    assert timedelta(0) < cst(YEAR + 1, 1, 5) - cst(YEAR, 12, 30)


def test_monthly_charts_by_hand(year: RunningServer) -> None:
    body = renewal(year).json()
    charts = {c["site_id"]: {s["kind"]: s for s in c["series"]} for c in body["charts"]}
    hq, lhasa, xining = charts["hq"], charts["lhasa"], charts["xining"]
    assert hq["uplink"]["values"] == [None, 22.0, 18.5, 20.0] + [None] * 8
    assert hq["uplink"]["reference"] == HD_NEED
    assert lhasa["uplink"]["values"][:5] == [None, 1.6, 1.2, 2.4, 1.9]
    assert hq["hd"]["values"] == [None] * 5 + [1.0] + [None] * 6
    assert lhasa["hd"]["values"][5] == pytest.approx(0.25)
    assert xining["hd"]["values"] == [None] * 12
    # availability: every month whole, but lhasa's March lost one day of 31
    assert hq["availability"]["values"] == [1.0] * 12
    assert lhasa["availability"]["values"][2] == pytest.approx(1 - 1 / 31)
    assert [v for i, v in enumerate(lhasa["availability"]["values"]) if i != 2] == [1.0] * 11
    with httpx.Client(base_url=year.base_url, timeout=30) as http:
        token = http.post("/api/v1/auth/token", data={"username": "viewer", "password": PASSWORD})
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        fragment = http.get("/api/v1/reports/charts", params={"year": YEAR, "format": "html", "lang": "en"},
                            headers=headers).text
        same = http.get("/api/v1/reports/charts", params={"year": YEAR}, headers=headers).json()
    assert same == body["charts"]
    assert fragment.count("<svg") == 9 and 'data-kind="uplink"' in fragment and "<script" not in fragment
    # a month below the HD need is drawn red, one above it blue; the HD need is the dashed line
    lhasa_uplink = fragment.split('data-site="lhasa" data-kind="uplink"')[1].split("</svg>")[0]
    assert lhasa_uplink.count('fill="#cf222e"') == 3 and lhasa_uplink.count('fill="#0969da"') == 1
    assert 'stroke-dasharray="4 3"' in lhasa_uplink


def test_charts_in_the_pdf(year: RunningServer) -> None:
    zh = pdf_text(renewal(year, format="pdf", lang="zh-CN").content).replace(" ", "")
    en = pdf_text(renewal(year, format="pdf", lang="en").content)
    assert "各站点月度趋势" in zh and "拉萨·可用率" in zh and "高清通话占比" in zh
    assert "Month by month per site" in en and "Lhasa · Uplink, Mbps (dashed: HD need)" in en
    csv = renewal(year, format="csv", lang="en").content.decode("utf-8-sig")
    assert "Lhasa,Uplink, Mbps" not in csv and '"Uplink, Mbps (dashed: HD need)",—,1.6,1.2,2.4,1.9' in csv
