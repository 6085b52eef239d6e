"""Plain-language texts for reason codes, checks, roles, sites and devices, per language.

The API answers in the language asked for (``?lang=zh|zh-CN|en``, else the dashboard's language
cookie, else Accept-Language, else Chinese); reports and the dashboard use the same texts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

LANGUAGES = ("zh-CN", "en")
DEFAULT_LANGUAGE = "zh-CN"
_DIR = Path(__file__).parent
_ALIASES = {"zh": "zh-CN", "zh-cn": "zh-CN", "zh-hans": "zh-CN", "cn": "zh-CN", "en": "en", "en-us": "en",
            "en-gb": "en"}


class UnknownLanguage(ValueError):
    pass


@cache
def texts(lang: str) -> Mapping[str, str]:
    with (_DIR / f"{lang}.json").open(encoding="utf-8") as handle:
        data: dict[str, str] = json.load(handle)
    return data


def normalise(lang: str | None) -> str | None:
    """``zh``, ``zh-CN``, ``en`` ... -> a supported language; None for none given; UnknownLanguage
    for a language we have no texts for."""
    if not lang:
        return None
    found = _ALIASES.get(lang.strip().lower())
    if found is None:
        raise UnknownLanguage(f"unsupported language {lang!r}: use zh, zh-CN or en")
    return found


def choose(query: str | None, cookie: str | None, accept_language: str | None) -> str:
    """The language of one request: the ``lang`` parameter, the cookie, Accept-Language, Chinese."""
    explicit = normalise(query)
    if explicit:
        return explicit
    if cookie in LANGUAGES:
        return str(cookie)
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("en"):
            return "en"
        if tag.startswith("zh"):
            return "zh-CN"
    return DEFAULT_LANGUAGE


def text(lang: str, key: str, default: str | None = None) -> str:
    return texts(lang).get(key, key if default is None else default)


def summary(code: str, lang: str) -> str:
    """"视频终端未注册到 SIP 服务器：请检查 SIP 账号和网络" — what is wrong, then what to do."""
    what = texts(lang).get(f"reason.{code}") or texts(lang)["reason.check.failed"]
    todo = texts(lang).get(f"action.{code}") or texts(lang)["action.check.failed"]
    return f"{what}{'：' if lang == 'zh-CN' else ': '}{todo}"


def explain(code: str, lang: str) -> dict[str, str]:
    """The parts of a code's message, for an API answer."""
    return {"code": code, "title": texts(lang).get(f"reason.{code}") or texts(lang)["reason.check.failed"],
            "action": texts(lang).get(f"action.{code}") or texts(lang)["action.check.failed"],
            "summary": summary(code, lang)}


def check_label(name: str | None, lang: str) -> str:
    """A check's name for people; the health poll when ``name`` is None."""
    if name is None:
        return text(lang, "source.health")
    found = texts(lang).get(f"check.{name}")
    if found:
        return found
    short = name.rsplit(".", 1)[-1]
    return texts(lang).get(f"check.{short}", name)


def site_label(site: Any, lang: str) -> str:
    """The site's name in ``lang`` (its id when it has no name)."""
    zh, en = getattr(site, "name_zh", "") or "", getattr(site, "name", "") or ""
    first, second = (zh, en) if lang == "zh-CN" else (en, zh)
    return first or second or str(getattr(site, "id", ""))


_TRAILING_NUMBER = re.compile(r"(\d+)$")


def device_label(device_id: str, roles: list[str] | tuple[str, ...] | None, lang: str) -> str:
    """"摄像机 1" for ``lhasa.camera1``: its role in ``lang`` and the number of its local id."""
    local = device_id.split(".", 1)[-1]
    role = next((r for r in roles or () if f"role.{r}" in texts(lang)), None)
    if role is None:
        role = next((r for r in ("codec", "camera", "display", "switcher", "recorder", "router", "pdu")
                     if local.startswith(r)), None)
    if role is None:
        return local
    number = _TRAILING_NUMBER.search(local)
    label = text(lang, f"role.{role}")
    return f"{label} {number.group(1)}" if number else label
