"""The zh-CN and en catalogues cover the same keys, and every key the pages use exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from central.web.i18n import LANGUAGES, catalogue, pick_language, translator

WEB = Path(__file__).resolve().parents[2] / "central" / "web"
LITERAL_KEY = re.compile(r"""\bt\(\s*["']([a-z_]+\.[a-z_.]+)["']""")


def test_both_languages_have_the_same_keys() -> None:
    en, zh = set(catalogue("en")), set(catalogue("zh-CN"))
    assert en == zh, f"only in en: {sorted(en - zh)}; only in zh-CN: {sorted(zh - en)}"


def test_every_literal_key_used_by_templates_and_scripts_exists() -> None:
    used: set[str] = set()
    for path in [*WEB.glob("templates/*.html"), *WEB.glob("static/js/*.js")]:
        used |= set(LITERAL_KEY.findall(path.read_text(encoding="utf-8")))
    assert len(used) > 50
    for lang in LANGUAGES:
        missing = sorted(used - set(catalogue(lang)))
        assert not missing, f"{lang} lacks {missing}"


def test_placeholders_are_filled_and_a_missing_key_shows_itself() -> None:
    assert translator("en")("overview.devices_up", up=6, total=7) == "6 of 7 up"
    assert translator("zh-CN")("overview.devices_up", up=6, total=7) == "7 台中 6 台在线"
    assert translator("en")("no.such.key") == "no.such.key"


@pytest.mark.parametrize(("cookie", "header", "expected"), [
    ("en", "zh-CN,zh;q=0.9", "en"),
    (None, "en-GB,en;q=0.8", "en"),
    (None, "zh-TW", "zh-CN"),
    ("fr", None, "zh-CN"),
    (None, "", "zh-CN"),
])
def test_language_choice(cookie: str | None, header: str | None, expected: str) -> None:
    assert pick_language(cookie, header) == expected
