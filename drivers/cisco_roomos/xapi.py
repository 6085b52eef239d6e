"""The xAPI's grammar, shared by every framing: leaves, values, request parsing, config paths.

A reply is reduced to ``(fields, leaves)``: ``fields`` the named values of a command result
(``CallId`` of a ``DialResult``, plus ``_result`` = the result's name), ``leaves`` the
``(path, value)`` pairs of a status or configuration query, list items by their number
(``("Call", "3", "Status")``), whatever the framing (terminal lines, JSON, XML).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Protocol

Leaf = tuple[tuple[str, ...], str]
Reply = tuple[dict[str, str], list[Leaf]]

_ARG = re.compile(r'(\w+)\s*:\s*("((?:[^"\\]|\\.)*)"|\S+)')


class FeedbackSink(Protocol):
    """Where a channel hands what the codec tells us unasked (the driver's call tracker)."""

    def status(self, leaves: list[Leaf]) -> None: ...
    def event(self, name: str, fields: dict[str, str]) -> None: ...
    def call_gone(self, call_id: str) -> None: ...


@dataclass(frozen=True)
class Request:
    """One xAPI request line taken apart: ``xCommand Dial Number: "x"`` -> command, path
    ``("Dial",)``, args ``[("Number", "x")]``; ``xConfiguration SIP URI: "x"`` -> config set."""

    kind: str                        # "status" | "configuration" | "command" | "feedback"
    path: tuple[str, ...]
    args: list[tuple[str, str]] = field(default_factory=list)
    value: str | None = None         # configuration set: the new value

    @property
    def is_config_set(self) -> bool:
        return self.kind == "configuration" and self.value is not None


_KINDS = {"xstatus": "status", "xconfiguration": "configuration", "xcommand": "command",
          "xfeedback": "feedback"}


def parse_request(command: str) -> Request | None:
    """The request behind an xAPI line, or None for a line that is not one (``echo off``)."""
    verb, _, rest = command.strip().partition(" ")
    kind = _KINDS.get(verb.lower())
    if kind is None:
        return None
    if kind == "configuration" and ":" in rest:
        path_text, _, value = rest.partition(":")
        return Request(kind, tuple(path_text.split()), value=unquote(value))
    path: list[str] = []
    for word in rest.split():
        if ":" in word:
            break
        path.append(word)
    args = [(m.group(1), m.group(3).replace('\\"', '"') if m.group(3) is not None else m.group(2))
            for m in _ARG.finditer(rest)] if kind == "command" else []
    return Request(kind, tuple(path), args)


def unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1].replace('\\"', '"')
    return value


def json_value(node: Any) -> str:
    """``{"Value": x}`` -> ``"x"`` (JSON output mode wraps every leaf that way)."""
    if isinstance(node, dict) and "Value" in node:
        return str(node["Value"])
    return "" if node is None else str(node)


def flatten_json(node: Any, path: tuple[str, ...] = ()) -> list[Leaf]:
    """JSON status/config tree to leaves: list items by id, leaves ``{"Value": x}``."""
    out: list[Leaf] = []
    if isinstance(node, dict):
        if set(node) == {"Value"}:
            return [(path, str(node["Value"]))]
        for key, child in node.items():
            if key in ("id", "ghost", "ResultId", "status"):
                continue
            out += flatten_json(child, (*path, key))
    elif isinstance(node, list):
        for item in node:
            if isinstance(item, dict):
                out += flatten_json(item, (*path, str(item.get("id", ""))))
    else:
        out.append((path, str(node)))
    return out


def matches(path: tuple[str, ...], query: tuple[str, ...]) -> bool:
    """Does a leaf fall under a query path (case-insensitive, as the xAPI is)?"""
    return len(path) >= len(query) and all(a.lower() == b.lower() for a, b in zip(path, query, strict=False))


def config_paths(tc: bool) -> dict[str, str]:
    """Our configuration keys -> xConfiguration paths. SIP/H.323 paths differ between TC
    (``SIP Profile 1 ...``) and CE/RoomOS [unverified exact paths, see protocols.md]."""
    sip = "SIP Profile 1" if tc else "SIP"
    auth = "Authentication 1" if tc else "Authentication"
    h323 = "H323 Profile 1" if tc else "H323"
    return {
        "network.assignment": "Network 1 IPv4 Assignment",
        "network.ipv4.address": "Network 1 IPv4 Address",
        "network.ipv4.mask": "Network 1 IPv4 SubnetMask",
        "network.ipv4.gateway": "Network 1 IPv4 Gateway",
        "network.dns": "Network 1 DNS Server 1 Address",
        "sip.uri": f"{sip} URI",
        "sip.proxy": f"{sip} Proxy 1 Address",
        "sip.username": f"{sip} {auth} UserName",
        "sip.password": f"{sip} {auth} Password",
        "h323.gatekeeper": f"{h323} Gatekeeper Address",
        "h323.alias": f"{h323} H323Alias ID",
        "system.name": "SystemUnit Name",
    }

