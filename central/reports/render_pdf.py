"""PDF with reportlab. Chinese text is embedded from a CJK TrueType font when one is installed
(Debian: fonts-wqy-zenhei, which ``scripts/demo`` and ``scripts/test`` install); without one the
report falls back to reportlab's built-in Adobe CID font STSong-Light, which every PDF reader
supplies itself, so a report never fails for want of a font file. A font named in
``ROOMOPS_CJK_FONT`` that is missing is a configuration error and fails loudly."""

from __future__ import annotations

import io
import logging
import os
from functools import cache
from pathlib import Path
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import (
    KeepTogether,
    LongTable,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from central.reports.chart_draw import WIDTH as CHART_WIDTH
from central.reports.chart_render import drawing
from central.reports.document import Document, Figure, Section
from central.reports.pdf_layout import column_widths, minimum_width

log = logging.getLogger(__name__)

FONT_NAME = "RoomOpsCJK"
#: reportlab's built-in Chinese (simplified) CID font: not embedded, readers bring it
FALLBACK_FONT = "STSong-Light"
CELL_SIZE = 8.5
FONT_ENV = "ROOMOPS_CJK_FONT"
#: (path, index of the face inside a .ttc collection)
FONT_CANDIDATES: tuple[tuple[str, int], ...] = (
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),
    ("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf", 0),
)
WIDE_TABLE = 8        # columns from which a document is printed in landscape


class FontMissing(RuntimeError):
    """The CJK font named in ``ROOMOPS_CJK_FONT`` is not there."""


@cache
def cjk_font() -> str:
    """Register the CJK font to use and name it: ``ROOMOPS_CJK_FONT=path[:index]`` (must exist),
    else the first installed candidate, else the built-in CID font."""
    configured = os.environ.get(FONT_ENV, "")
    if configured:
        path, _, index = configured.partition(":")
        if not Path(path).is_file():
            raise FontMissing(f"{FONT_ENV} names a font that does not exist: {path}")
        pdfmetrics.registerFont(TTFont(FONT_NAME, path, subfontIndex=int(index or 0)))
        return FONT_NAME
    for path, index in FONT_CANDIDATES:
        if Path(path).is_file():
            pdfmetrics.registerFont(TTFont(FONT_NAME, path, subfontIndex=index))
            return FONT_NAME
    log.warning("no CJK TrueType font installed (tried %s): PDF reports use the reader's %s; "
                "install fonts-wqy-zenhei to embed the glyphs", ", ".join(p for p, _ in FONT_CANDIDATES),
                FALLBACK_FONT)
    pdfmetrics.registerFont(UnicodeCIDFont(FALLBACK_FONT))
    return FALLBACK_FONT


def _styles(font: str) -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("base", fontName=font, fontSize=CELL_SIZE, leading=11, wordWrap="CJK")
    return {
        "title": ParagraphStyle("title", parent=base, fontSize=16, leading=21, spaceAfter=4 * mm),
        "h2": ParagraphStyle("h2", parent=base, fontSize=11.5, leading=15, spaceBefore=5 * mm,
                             spaceAfter=2 * mm),
        "meta": ParagraphStyle("meta", parent=base, fontSize=9, leading=12),
        "note": ParagraphStyle("note", parent=base, fontSize=7.5, leading=10,
                               textColor=colors.HexColor("#555555")),
        "cell": base,
        "head": ParagraphStyle("head", parent=base, textColor=colors.white),
    }


def _para(text: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(text), style)


def _table(section: Section, styles: dict[str, ParagraphStyle], width: float) -> LongTable:
    data = [[_para(h, styles["head"]) for h in section.headers]]
    data += [[_para(cell, styles["cell"]) for cell in row] for row in section.rows]
    widths = column_widths(section.headers, section.rows, styles["cell"].fontName, CELL_SIZE, width)
    table = LongTable(data, colWidths=widths, repeatRows=1)
    style = [
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#27486b")),
        ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#9aa5b1")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#f2f5f8")]),
    ]
    if section.total_row and section.rows:
        style.append(("BACKGROUND", (0, -1), (-1, -1), colors.HexColor("#dde6ef")))
    table.setStyle(TableStyle(style))
    return table


def _figures(rows: list[list[Figure]], font: str, width: float) -> list[object]:
    """Each row of charts side by side, scaled to the page width; a row never splits."""
    out: list[object] = []
    for row in rows:
        scale = min(1.0, width / (CHART_WIDTH * max(1, len(row)) + 6 * len(row)))
        cells = [[drawing(f.series, f.title, font, scale) for f in row]]
        table = Table(cells, hAlign="LEFT")
        padding = [("LEFTPADDING", (0, 0), (-1, -1), 0), ("RIGHTPADDING", (0, 0), (-1, -1), 4),
                   ("VALIGN", (0, 0), (-1, -1), "TOP")]
        table.setStyle(TableStyle(padding))
        out.append(KeepTogether([table, Spacer(1, 2 * mm)]))
    return out


def _wide(doc: Document, font: str) -> bool:
    """Landscape when a table has many columns or cannot fit a portrait page without splitting words."""
    portrait = A4[0] - 30 * mm
    return any(not s.figures and (len(s.headers) > WIDE_TABLE
                                  or minimum_width(s.headers, s.rows, font, CELL_SIZE) > portrait)
               for s in doc.sections)


def render(doc: Document) -> bytes:
    font = cjk_font()
    styles = _styles(font)
    pagesize = landscape(A4) if _wide(doc, font) else A4
    buffer = io.BytesIO()
    pdf = SimpleDocTemplate(buffer, pagesize=pagesize, title=doc.title, author="RoomOps",
                            leftMargin=15 * mm, rightMargin=15 * mm, topMargin=15 * mm, bottomMargin=15 * mm)
    story: list[object] = [_para(doc.title, styles["title"])]
    story += [_para(f"{label}：{value}" if doc.lang == "zh-CN" else f"{label}: {value}", styles["meta"])
              for label, value in doc.meta]
    for section in doc.sections:
        if section.title != doc.title:          # a one-table report is not titled twice
            story.append(_para(section.title, styles["h2"]))
        if section.figures:
            story += _figures(section.figures, font, pdf.width)
        elif section.rows:
            story.append(_table(section, styles, pdf.width))
        story += [Spacer(1, 1.5 * mm)] + [_para(note, styles["note"]) for note in section.notes]
    pdf.build(story)
    return buffer.getvalue()
