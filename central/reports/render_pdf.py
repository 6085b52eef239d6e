"""PDF with reportlab; Chinese text needs a CJK TrueType font (Debian: fonts-wqy-zenhei)."""

from __future__ import annotations

import io
import os
from functools import cache
from pathlib import Path
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import LongTable, Paragraph, SimpleDocTemplate, Spacer, TableStyle

from central.reports.document import Document, Section

FONT_NAME = "RoomOpsCJK"
FONT_ENV = "ROOMOPS_CJK_FONT"
#: (path, index of the face inside a .ttc collection)
FONT_CANDIDATES: tuple[tuple[str, int], ...] = (
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),
    ("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf", 0),
)
WIDE_TABLE = 8        # columns from which a document is printed in landscape


class FontMissing(RuntimeError):
    """No CJK font to render Chinese text with."""


@cache
def cjk_font() -> str:
    """Register the first CJK font found (``ROOMOPS_CJK_FONT=path[:index]`` first) and name it."""
    candidates = list(FONT_CANDIDATES)
    configured = os.environ.get(FONT_ENV, "")
    if configured:
        path, _, index = configured.partition(":")
        candidates.insert(0, (path, int(index or 0)))
    for path, index in candidates:
        if Path(path).is_file():
            pdfmetrics.registerFont(TTFont(FONT_NAME, path, subfontIndex=index))
            return FONT_NAME
    tried = ", ".join(p for p, _ in candidates)
    raise FontMissing(f"no CJK font for PDF reports (tried {tried}); "
                      f"install fonts-wqy-zenhei or set {FONT_ENV}")


def _styles(font: str) -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("base", fontName=font, fontSize=8.5, leading=11, wordWrap="CJK")
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
    first = min(width * 0.22, 40 * mm) if len(section.headers) > 2 else width * 0.5
    rest = (width - first) / max(1, len(section.headers) - 1)
    table = LongTable(data, colWidths=[first] + [rest] * (len(section.headers) - 1), repeatRows=1)
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


def render(doc: Document) -> bytes:
    font = cjk_font()
    styles = _styles(font)
    wide = any(len(s.headers) > WIDE_TABLE for s in doc.sections)
    pagesize = landscape(A4) if wide else A4
    buffer = io.BytesIO()
    pdf = SimpleDocTemplate(buffer, pagesize=pagesize, title=doc.title, author="RoomOps",
                            leftMargin=15 * mm, rightMargin=15 * mm, topMargin=15 * mm, bottomMargin=15 * mm)
    story: list[object] = [_para(doc.title, styles["title"])]
    story += [_para(f"{label}：{value}" if doc.lang == "zh-CN" else f"{label}: {value}", styles["meta"])
              for label, value in doc.meta]
    for section in doc.sections:
        story.append(_para(section.title, styles["h2"]))
        if section.rows:
            story.append(_table(section, styles, pdf.width))
        story += [Spacer(1, 1.5 * mm)] + [_para(note, styles["note"]) for note in section.notes]
    pdf.build(story)
    return buffer.getvalue()
