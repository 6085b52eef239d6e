"""Message catalogues for the dashboard (zh-CN and en) and the choice of language per request.

The catalogues are JSON so the same text serves the server-rendered page and the script that
renders live data. The chosen language is remembered in the ``roomops_lang`` cookie.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path

LANGUAGES: tuple[str, ...] = ("zh-CN", "en")
DEFAULT_LANGUAGE = "zh-CN"          # the office staff's language
LANG_COOKIE = "roomops_lang"
_CATALOGUE_DIR = Path(__file__).parent / "catalogues"

Translator = Callable[..., str]


@cache
def catalogue(lang: str) -> Mapping[str, str]:
    if lang not in LANGUAGES:
        raise KeyError(f"no catalogue for language {lang!r}")
    with (_CATALOGUE_DIR / f"{lang}.json").open(encoding="utf-8") as handle:
        data: dict[str, str] = json.load(handle)
    return data


def translator(lang: str) -> Translator:
    """``t(key, **values)``: the text for ``key`` with ``{name}`` placeholders filled.

    A missing key shows the key itself, so a gap is visible on the page instead of crashing it.
    """
    texts = catalogue(lang)

    def t(key: str, **values: object) -> str:
        text = texts.get(key, key)
        return text.format(**values) if values else text

    return t


def pick_language(cookie: str | None, accept_language: str | None) -> str:
    """The cookie wins; else the first supported language in Accept-Language; else Chinese."""
    if cookie in LANGUAGES:
        return cookie
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("en"):
            return "en"
        if tag.startswith("zh"):
            return "zh-CN"
    return DEFAULT_LANGUAGE
