"""The annual report's figures against values computed from the seeded ledger; PDF, CSV, HTML."""

from __future__ import annotations

import contextlib
import csv
import io
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pypdf import PdfReader

from tests.reports.conftest import END, SeededYear
from tests.reports.expected import HD_NEED, Expected, compute, mean
from tests.reports.history import PASSWORD, SITES, YEAR


@contextlib.contextmanager
def client(seeded: SeededYear, username: str = "viewer") -> Iterator[httpx.Client]:
    """An HTTP client signed in as ``username`` (bearer token)."""
    with httpx.Client(base_url=seeded.server.base_url, timeout=30) as http:
        response = http.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
        assert response.status_code == 200, response.text
        http.headers["Authorization"] = f"Bearer {response.json()['access_token']}"
        yield http


def annual(http: httpx.Client, **params: Any) -> httpx.Response:
    response = http.get("/api/v1/reports/annual", params={"year": YEAR, **params})
    assert response.status_code == 200, response.text
    return response


def check_site(fig: dict[str, Any], site: str, exp: Expected) -> None:
    assert fig["meetings"] == exp.meetings[site], site
    assert fig["meeting_hours"] == pytest.approx(exp.hours[site]), site
    hd, sd = exp.calls[site]
    assert (fig["calls"], fig["calls_hd"], fig["calls_sd"]) == (hd + sd, hd, sd), site
    good, rated = exp.ratings[site]
    assert (fig["ratings_good"], fig["ratings"]) == (good, rated), site
    statuses = list(exp.inspections[site].values())
    due = sum(1 for s in statuses if s in ("done", "late", "missing"))
    done = sum(1 for s in statuses if s in ("done", "late"))
    assert (fig["inspections_due"], fig["inspections_done"], fig["inspections_late"]) == (
        due, done, statuses.count("late")), site
    assert fig["availability"] == pytest.approx(exp.availability[site], abs=1e-9), site
    if exp.availability_meetings[site] is None:
        assert fig["availability_meetings"] is None
    else:
        assert fig["availability_meetings"] == pytest.approx(exp.availability_meetings[site], abs=1e-9), site
    count, still_open = exp.faults[site]
    assert (fig["faults"], fig["faults_open"]) == (count, still_open), site
    repairs = exp.repairs[site]
    assert fig["mean_repair_s"] == pytest.approx(mean(repairs)) if repairs else fig["mean_repair_s"] is None
    assert fig["worst_repair_s"] == (max(repairs) if repairs else None), site
    ups = exp.uplink[site]
    up = fig["uplink"]
    assert up["measurements"] == len(ups), site
    assert up["up_mean"] == pytest.approx(mean(ups)), site
    assert up["up_min"] == pytest.approx(min(ups)), site
    assert up["below_hd"] == sum(1 for u in ups if u < HD_NEED), site


def test_every_figure_matches_the_seeded_year(seeded_year: SeededYear) -> None:
    site_ids = [s.id for s in SITES]
    exp = compute(seeded_year.ledger, site_ids, END)
    with client(seeded_year) as http:
        body = annual(http).json()
    assert sorted(s["site_id"] for s in body["sites"]) == sorted(site_ids)
    for fig in body["sites"]:
        check_site(fig, fig["site_id"], exp)
    totals = body["totals"]
    assert totals["meetings"] == exp.total_meetings == 34
    assert totals["meeting_hours"] == pytest.approx(exp.total_hours)
    assert totals["sites_with_meetings"] == 6
    all_repairs = [r for site in site_ids for r in exp.repairs[site]]
    assert totals["faults"] == sum(exp.faults[s][0] for s in site_ids)
    assert totals["mean_repair_s"] == pytest.approx(mean(all_repairs))
    assert totals["worst_repair_s"] == max(all_repairs) == 2 * 24 * 3600      # Urumqi's two-day outage
    hd = sum(exp.calls[s][0] for s in site_ids)
    sd = sum(exp.calls[s][1] for s in site_ids)
    assert totals["hd_share"] == pytest.approx(hd / (hd + sd))
    assert totals["sd_share"] == pytest.approx(sd / (hd + sd))
    good = sum(exp.ratings[s][0] for s in site_ids)
    rated = sum(exp.ratings[s][1] for s in site_ids)
    assert totals["satisfaction"] == pytest.approx(good / rated)
    assert body["satisfaction_met"] is (good / rated >= 0.85)
    assert body["policy"]["satisfaction_target"] == 0.85
    # the scripted year really exercises the edge cases
    assert exp.inspections["guangzhou"][9] == "missing" and exp.inspections["kunming"][7] == "late"
    assert exp.inspections["xining"][1] == "not_applicable"
    assert exp.availability_meetings["lhasa"] is not None and exp.availability_meetings["lhasa"] < 1


def test_a_subset_of_sites(seeded_year: SeededYear) -> None:
    chosen = ["xining", "lhasa"]
    exp = compute(seeded_year.ledger, chosen, END)
    with client(seeded_year) as http:
        body = annual(http, sites=",".join(chosen)).json()
        unknown = http.get("/api/v1/reports/annual", params={"year": YEAR, "sites": "lhasa,atlantis"})
    assert [s["site_id"] for s in body["sites"]] == chosen
    for fig in body["sites"]:
        check_site(fig, fig["site_id"], exp)
    assert body["totals"]["meetings"] == exp.total_meetings
    assert body["totals"]["meeting_hours"] == pytest.approx(exp.total_hours)
    assert unknown.status_code == 404 and "atlantis" in unknown.json()["detail"]


def pdf_text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages)


CHINESE_HEADINGS = ("2025年度视频会议运维报告", "会议保障", "巡检完成情况", "站点可用率", "故障与修复时间",
                    "通话质量", "上行带宽", "用户满意度")


def test_pdf_in_chinese_and_english(seeded_year: SeededYear) -> None:
    with client(seeded_year) as http:
        zh = annual(http, format="pdf", lang="zh-CN")
        en = annual(http, format="pdf", lang="en")
    assert zh.headers["content-type"] == "application/pdf"
    assert 'filename="annual-report-2025-zh-CN.pdf"' in zh.headers["content-disposition"]
    text = pdf_text(zh.content).replace(" ", "")
    for heading in CHINESE_HEADINGS:
        assert heading in text, heading
    assert "拉萨" in text and "乌鲁木齐" in text
    english = pdf_text(en.content)
    assert "Annual operations report 2025" in english and "Availability per site" in english


def test_csv_and_html(seeded_year: SeededYear) -> None:
    exp = compute(seeded_year.ledger, [s.id for s in SITES], END)
    with client(seeded_year) as http:
        raw = annual(http, format="csv", lang="en")
        html = annual(http, format="html", lang="zh-CN")
    assert raw.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(raw.content.decode("utf-8-sig"))))
    start = rows.index(["[meetings]", "Meetings supported"])
    assert rows[start + 1] == ["Site", "Meetings", "Hours"]
    table = {row[0]: row[1:] for row in rows[start + 2:start + 2 + len(SITES) + 1]}
    assert table["Total"] == [str(exp.total_meetings), f"{exp.total_hours:.1f}"]
    assert table["Lhasa"][0] == str(exp.meetings["lhasa"])
    page = html.text
    assert html.headers["content-type"].startswith("text/html")
    for heading in CHINESE_HEADINGS:
        assert heading in page
    assert 'id="section-availability"' in page and "format=pdf" in page


def test_inspections_year_view(seeded_year: SeededYear) -> None:
    exp = compute(seeded_year.ledger, [s.id for s in SITES], END)
    with client(seeded_year) as http:
        body = http.get("/api/v1/reports/inspections", params={"year": YEAR}).json()
        pdf = http.get("/api/v1/reports/inspections", params={"year": YEAR, "format": "pdf", "lang": "zh-CN"})
        csv_en = http.get("/api/v1/reports/inspections", params={"year": YEAR, "format": "csv", "lang": "en"})
    for site in body["sites"]:
        got = {m["month"]: m["status"] for m in site["months"]}
        assert got == exp.inspections[site["site_id"]], site["site_id"]
    assert pdf.status_code == 200
    text = pdf_text(pdf.content).replace(" ", "")
    assert "2025年度月度巡检记录" in text and "缺失" in text and "逾期完成" in text
    rows = list(csv.reader(io.StringIO(csv_en.content.decode("utf-8-sig"))))
    guangzhou = next(r for r in rows if r and r[0] == "Guangzhou")
    assert guangzhou[9] == "missing"
