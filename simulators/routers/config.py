"""Router configuration state and the CLI's command matching by unique prefix."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

LINE_END = re.compile(rb"[\r\n]")


@dataclass
class Interface:
    name: str
    address: str | None = None      # "a.b.c.d"
    mask: str | None = None         # "255.255.255.0"
    description: str = ""
    shutdown: bool = False


@dataclass
class RouterConfig:
    hostname: str
    interfaces: dict[str, Interface] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)   # global lines in order, dialect syntax


def parse_cidr(text: str) -> tuple[str, str]:
    iface = ipaddress.IPv4Interface(text)
    return str(iface.ip), str(iface.netmask)


def dotted_mask(text: str) -> str | None:
    """A dotted mask or a prefix length -> dotted mask; None if neither."""
    try:
        return str(ipaddress.IPv4Network(f"0.0.0.0/{text}").netmask)
    except ValueError:
        return None


def valid_ip(text: str) -> bool:
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return True


def match_command(words: list[str], table: list[tuple[str, ...]]) -> tuple[tuple[str, ...] | None, str]:
    """Match typed words against command keywords by unique prefix (``sh ip int br``).

    A keyword ``*`` takes the rest of the words as arguments. Returns (entry, "") or
    (None, "invalid" | "ambiguous" | "incomplete")."""
    found: list[tuple[str, ...]] = []
    incomplete = False
    for entry in table:
        ok = True
        for i, keyword in enumerate(entry):
            if keyword == "*":
                break
            if i >= len(words):
                ok, incomplete = False, True
                break
            if not keyword.startswith(words[i].lower()):
                ok = False
                break
        else:
            if len(words) > len(entry):
                ok = False
        if ok:
            found.append(entry)
    exact = [e for e in found if all(k == "*" or k == w.lower() for k, w in zip(e, words, strict=False))]
    if len(found) == 1:
        return found[0], ""
    if len(exact) == 1:
        return exact[0], ""
    if found:
        return None, "ambiguous"
    return None, "incomplete" if incomplete else "invalid"
