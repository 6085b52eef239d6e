"""Reports a clerk can print: language variants, one title, columns that fit their content (PDF read
back with pypdf), every report in every format from the reports page. Runs on its own seeded year
(it adds a fault with a raw driver text)."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from pypdf import PdfReader
from reportlab.pdfbase.pdfmetrics import stringWidth
from sqlalchemy import select

from central.models import Fault
from central.reports import render_pdf
from central.reports.document import Document, Section
from central.reports.pdf_layout import PADDING, column_widths, pieces
from central.services.ingest import ingest
from contracts.messages import Event
from tests.reports.conftest import SeededYear
from tests.reports.history import PASSWORD, YEAR, cst
from tests.reports.test_annual import client, pdf_text

RAW_CAUSE = "timeout: no b'\\xff' from serial:/dev/roomops/lhasa-camera1@9600 within the deadline"


@pytest.fixture(scope="module")
def year(seeded_sqlite_year: SeededYear) -> SeededYear:
    """The seeded year plus one fault whose cause is a raw driver text with long tokens."""
    at = cst(YEAR, 11, 3, 10)
    ctx = seeded_sqlite_year.server.ctx
    with ctx.unit() as session:
        down = Event(site="lhasa", kind="device_down", device="lhasa.codec", at=at, sent_at=at,
                     data={"reason": RAW_CAUSE})
        ingest(session, "lhasa", down, ctx.limits)
    with ctx.unit() as session:
        up = at + timedelta(hours=2)
        back = Event(site="lhasa", kind="device_up", device="lhasa.codec", at=up, sent_at=up)
        ingest(session, "lhasa", back, ctx.limits)
    return seeded_sqlite_year


@pytest.mark.parametrize(("lang", "normal"), [("zh", "zh-CN"), ("zh-CN", "zh-CN"), ("zh_cn", "zh-CN"),
                                              ("zh-Hans", "zh-CN"), ("en", "en"), ("en-US", "en")])
def test_lang_accepts_what_people_write(year: SeededYear, lang: str, normal: str) -> None:
    with client(year) as http:
        pdf = http.get("/api/v1/reports/annual", params={"year": YEAR, "format": "pdf", "lang": lang})
        csv = http.get("/api/v1/reports/faults", params={"year": YEAR, "format": "csv", "lang": lang})
    assert pdf.status_code == 200, pdf.text
    assert f'annual-report-{YEAR}-{normal}.pdf' in pdf.headers["content-disposition"]
    title = f"{YEAR}年度视频会议运维报告" if normal == "zh-CN" else f"Annual operations report {YEAR}"
    assert title in pdf_text(pdf.content).replace(" ", "" if normal == "zh-CN" else " ")
    assert csv.status_code == 200 and f"faults-{YEAR}-{normal}.csv" in csv.headers["content-disposition"]


def test_unknown_lang_and_accept_language(year: SeededYear) -> None:
    with client(year) as http:
        bad = http.get("/api/v1/reports/annual", params={"year": YEAR, "format": "html", "lang": "fr"})
        english = http.get("/api/v1/reports/annual", params={"year": YEAR, "format": "html"},
                           headers={"Accept-Language": "fr;q=1, en-GB;q=0.8, zh;q=0.5"})
        chinese = http.get("/api/v1/reports/annual", params={"year": YEAR, "format": "html"},
                           headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"})
    assert bad.status_code == 422 and "zh" in bad.json()["detail"]
    assert f"Annual operations report {YEAR}" in english.text
    assert f"{YEAR}年度视频会议运维报告" in chinese.text


def ctx_session(year: SeededYear):  # type: ignore[no-untyped-def]
    return year.server.ctx.unit()


def words(text: str) -> set[str]:
    return set(text.split())


def test_fault_pdf_keeps_words_whole_and_has_one_title(year: SeededYear) -> None:
    with client(year) as http:
        en = http.get("/api/v1/reports/faults", params={"year": YEAR, "format": "pdf", "lang": "en"})
        zh = http.get("/api/v1/reports/faults", params={"year": YEAR, "format": "pdf", "lang": "zh"})
        html = http.get("/api/v1/reports/faults", params={"year": YEAR, "format": "html", "lang": "en"})
    assert en.status_code == 200 and zh.status_code == 200
    text = pdf_text(en.content)
    found = words(text)
    # the list says what happened in plain words, whole: no column so narrow that English wraps
    # letter by letter; the driver's raw text is not the message there
    for word in ("device", "down:", "remotely", "needed", "health", "poll"):
        assert word in found, (word, text[:2000])
    assert "within the deadline" not in text.replace("\n", " ")
    # the raw text stays as the engineer's evidence on the fault's own record, its words whole
    with ctx_session(year) as session:
        fault_id = session.scalars(select(Fault.id).where(Fault.cause == RAW_CAUSE)).one()
    with client(year) as http:
        one = http.get(f"/api/v1/reports/faults/{fault_id}", params={"format": "pdf", "lang": "en"})
    assert one.status_code == 200
    one_text = pdf_text(one.content)
    for word in ("timeout:", "within", "deadline"):
        assert word in words(one_text), (word, one_text[:2000])
    assert "serial:/dev/roomops/lhasa-camera1@9600" in one_text.replace("\n", "")
    title = f"Fault records {YEAR}"
    assert text.count(title) == 1, text[:400]
    assert pdf_text(zh.content).replace(" ", "").count(f"{YEAR}年度故障记录") == 1
    assert html.text.count(f"<h1>{title}</h1>") == 1 and f"<h2>{title}</h2>" not in html.text
    assert "Lhasa" in text and "拉萨" in pdf_text(zh.content)    # site names, not ids


def test_recordings_and_inspections_title_once(year: SeededYear) -> None:
    with client(year) as http:
        rec = http.get("/api/v1/recordings", params={"year": YEAR, "format": "pdf", "lang": "en"})
        insp = http.get("/api/v1/reports/inspections", params={"year": YEAR, "format": "pdf", "lang": "en"})
    rec_text, insp_text = pdf_text(rec.content), pdf_text(insp.content)
    assert rec_text.count("Recordings archive") == 1, rec_text[:300]
    assert "Retention" in rec_text
    assert insp_text.count(f"Monthly inspections {YEAR}") == 1


def test_column_widths_follow_content() -> None:
    font = render_pdf.cjk_font()
    headers = ["#", "Site", "Device", "Kind", "Cause", "Opened", "Closed", "Time to repair", "Reason"]
    rows = [["12", "Lhasa", "lhasa.camera1", "device down", RAW_CAUSE, "2025-11-03 10:00", "2025-11-03 12:00",
             "2h 00m", "—"]] * 3
    available = 760.0
    widths = column_widths(headers, rows, font, 8.5, available)
    assert sum(widths) == pytest.approx(available)
    assert widths[0] < widths[4] and widths[0] < 40          # a number column stays narrow
    assert widths[4] == max(widths)                           # the cause gets the room
    for c, header in enumerate(headers):                      # no column narrower than its longest word
        cells = [header, *[r[c] for r in rows]]
        longest = max(stringWidth(p, font, 8.5) for cell in cells for p in pieces(cell))
        assert widths[c] + 0.01 >= min(longest, 110) + PADDING, (header, widths[c], longest)
    # Chinese text breaks between characters: a long Chinese cell does not force a wide column
    assert pieces("视频终端未注册 SIP") == ["视", "频", "终", "端", "未", "注", "册", "SIP"]


def test_a_table_too_wide_for_portrait_prints_landscape() -> None:
    narrow = Document("t", "en", sections=[Section("s", ["a", "b"], [["1", "2"]])])
    wide = Document("t", "en", sections=[Section("s", [f"column heading {i}" for i in range(7)],
                                                 [["a-rather-long-unbreakable-token-here"] * 7])])
    assert PdfReader(io.BytesIO(render_pdf.render(narrow))).pages[0].mediabox.width < 600
    assert PdfReader(io.BytesIO(render_pdf.render(wide))).pages[0].mediabox.width > 800


@pytest.fixture
def page(year: SeededYear) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=year.server.base_url, timeout=30) as http:
        signed = http.post("/api/v1/auth/session", data={"username": "viewer", "password": PASSWORD})
        assert signed.status_code == 200, signed.text
        yield http


def test_reports_page_offers_every_report_in_every_format(page: httpx.Client) -> None:
    html = page.get("/reports").text
    rows = re.findall(r'<tr data-report="(\w+)">(.*?)</tr>', html, re.S)
    assert [r[0] for r in rows] == ["annual", "inspections", "faults", "recordings"]
    header_cells = re.findall(r"<th scope=\"col\"", html)
    for kind, body in rows:
        formats = re.findall(r'data-format="(\w+)"', body)
        assert formats == ["html", "pdf", "csv"], (kind, formats)
        assert body.count("<td") == len(header_cells) - 1          # aligned: one cell per column
    for kind, body in rows:
        for href in re.findall(r'href="([^"]+)"', body):
            got = page.get(href.replace("&amp;", "&") + f"&year={YEAR}")
            assert got.status_code == 200, (kind, href, got.text[:200])


def test_without_a_cjk_font_file_the_pdf_still_prints(monkeypatch: pytest.MonkeyPatch) -> None:
    """A machine without fonts-wqy-zenhei: reportlab's built-in Chinese CID font, never a 503."""
    monkeypatch.delenv(render_pdf.FONT_ENV, raising=False)
    monkeypatch.setattr(render_pdf, "FONT_CANDIDATES", (("/nonexistent/font.ttc", 0),))
    render_pdf.cjk_font.cache_clear()
    try:
        assert render_pdf.cjk_font() == render_pdf.FALLBACK_FONT
        doc = Document("2025年度故障记录", "zh-CN", sections=[Section("站点", ["站点", "原因"],
                                                                       [["拉萨", "视频终端未注册"]])])
        text = pdf_text(render_pdf.render(doc)).replace(" ", "")
        assert "2025年度故障记录" in text and "视频终端未注册" in text
        monkeypatch.setenv(render_pdf.FONT_ENV, "/nonexistent/named.ttf")
        render_pdf.cjk_font.cache_clear()
        with pytest.raises(render_pdf.FontMissing, match="named.ttf"):      # a named font must exist
            render_pdf.cjk_font()
    finally:
        monkeypatch.undo()
        render_pdf.cjk_font.cache_clear()
