"""Column widths for PDF tables, from what the cells hold.

Like a browser's automatic table layout: every column gets at least the width of its longest
unbreakable piece (a word, a number, a date; Chinese text may break between any two characters)
and the rest of the line is shared in proportion to how much more each column would like. So a
number column stays narrow, a cause column gets the room, and an English word is never split
letter by letter unless it is longer than a column may be.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from reportlab.pdfbase.pdfmetrics import stringWidth

#: left + right cell padding of reportlab tables (6 pt each by default)
PADDING = 12.0
#: no single word may claim more than this (a SHA-256 or a raw protocol token wraps instead)
MAX_WORD_WIDTH = 110.0
#: a cell's full text counts at most this wide when columns bargain for room
MAX_WANT_WIDTH = 320.0
#: one CJK character (ideographs, kana, hangul, full-width forms, CJK punctuation: a line may
#: break beside each) or a run of anything else but white space
_PIECE = re.compile(r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef\u3000-\u303f]|[^\s\u2e80-\u9fff"
                    r"\uac00-\ud7af\uf900-\ufaff\uff00-\uffef\u3000-\u303f]+")


def pieces(text: str) -> list[str]:
    """The parts of ``text`` a line cannot break inside: words, and single CJK characters."""
    return _PIECE.findall(text)


def column_widths(headers: Sequence[str], rows: Sequence[Sequence[str]], font: str, size: float,
                  available: float, header_font: str | None = None) -> list[float]:
    """Widths (points) that add up to ``available`` for a table of ``headers`` and ``rows``."""
    count = len(headers)
    if count == 0:
        return []
    least = [0.0] * count     # the longest unbreakable piece
    want = [0.0] * count      # the longest cell on one line
    for r, row in enumerate([list(headers), *[list(x) for x in rows]]):
        face = (header_font or font) if r == 0 else font
        for c in range(min(count, len(row))):
            text = str(row[c])
            longest = max((stringWidth(p, face, size) for p in pieces(text)), default=0.0)
            least[c] = max(least[c], min(longest, MAX_WORD_WIDTH) + PADDING)
            want[c] = max(want[c], min(stringWidth(text, face, size), MAX_WANT_WIDTH) + PADDING)
    want = [max(w, m) for w, m in zip(want, least, strict=True)]
    return share(least, want, available)


def share(least: list[float], want: list[float], available: float) -> list[float]:
    """Give each column its ``least``, then the rest in proportion to what it still wants; when
    everyone is satisfied the spare room goes to all in proportion to their width."""
    floor, ideal = sum(least), sum(want)
    if ideal <= available:
        return [w * available / ideal for w in want] if ideal else [available / len(want)] * len(want)
    if floor >= available:
        return [m * available / floor for m in least]
    extra = available - floor
    hunger = [w - m for w, m in zip(want, least, strict=True)]
    total = sum(hunger)
    return [m + extra * h / total for m, h in zip(least, hunger, strict=True)]


def minimum_width(headers: Sequence[str], rows: Sequence[Sequence[str]], font: str, size: float) -> float:
    """The narrowest the table can be without splitting a word (to choose portrait or landscape)."""
    total = 0.0
    for c in range(len(headers)):
        cells = [str(headers[c])] + [str(r[c]) for r in rows if c < len(r)]
        total += max(min(max((stringWidth(p, font, size) for p in pieces(t)), default=0.0), MAX_WORD_WIDTH)
                     for t in cells) + PADDING
    return total
