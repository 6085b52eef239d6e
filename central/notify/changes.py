"""``Changes``: the ids one transaction touched, and their compact wire form for ``pg_notify``.

Only ids travel (never bodies): a NOTIFY payload must stay under 8,000 bytes, so a large change
set is split over several payloads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

#: Stay well under PostgreSQL's 8,000-byte NOTIFY payload limit.
PAYLOAD_LIMIT = 7000

#: dashboard topics, as the browsers' change feed names them
TOPICS = ("sites", "devices", "faults", "selftests", "meetings", "commands", "relocations", "audit")

_SETS = {"c": "commands", "s": "schedules", "m": "meetings", "t": "tokens", "d": "topics"}


@dataclass
class Changes:
    #: sites with new queued commands
    commands: set[str] = field(default_factory=set)
    #: sites whose meeting schedule changed
    schedules: set[str] = field(default_factory=set)
    #: meetings whose state or sites changed
    meetings: set[str] = field(default_factory=set)
    #: agent token ids revoked
    tokens: set[str] = field(default_factory=set)
    #: dashboard topics whose data changed
    topics: set[str] = field(default_factory=set)
    #: site -> link generation of a link that an instance just accepted (older links must close)
    links: dict[str, int] = field(default_factory=dict)
    #: "anything may have changed": after a listener reconnect or a safety-net tick
    resync: bool = False

    def __bool__(self) -> bool:
        return self.resync or bool(self.commands or self.schedules or self.meetings or self.tokens
                                   or self.topics or self.links)

    def merge(self, other: Changes) -> None:
        for name in _SETS.values():
            getattr(self, name).update(getattr(other, name))
        for site, generation in other.links.items():
            self.links[site] = max(generation, self.links.get(site, generation))
        self.resync = self.resync or other.resync

    # -- wire form --------------------------------------------------------------------------------
    def payloads(self, instance: str, limit: int = PAYLOAD_LIMIT) -> list[str]:
        """JSON payloads of at most ``limit`` bytes each that together carry every id."""
        items: list[tuple[str, Any]] = [(key, value) for key, name in _SETS.items()
                                        for value in sorted(getattr(self, name))]
        items += [("l", [site, generation]) for site, generation in sorted(self.links.items())]
        out: list[str] = []
        current: dict[str, list[Any]] = {}
        size = 0
        base = len(json.dumps({"i": instance}))
        for key, value in items:
            cost = len(json.dumps(value)) + len(key) + 8
            if current and base + size + cost > limit:
                out.append(_dump(instance, current))
                current, size = {}, 0
            current.setdefault(key, []).append(value)
            size += cost
        if current or self.resync:
            out.append(_dump(instance, current, self.resync))
        return out

    @classmethod
    def from_payload(cls, payload: str) -> tuple[str, Changes]:
        """(sending instance, its changes); raises ValueError on a payload that is not ours."""
        data = json.loads(payload)
        if not isinstance(data, dict) or not isinstance(data.get("i"), str):
            raise ValueError("not a RoomOps change payload")
        out = cls(resync=bool(data.get("r")))
        for key, name in _SETS.items():
            getattr(out, name).update(str(v) for v in data.get(key, []))
        for site, generation in data.get("l", []):
            out.links[str(site)] = int(generation)
        return data["i"], out


def _dump(instance: str, body: dict[str, list[Any]], resync: bool = False) -> str:
    data: dict[str, Any] = {"i": instance, **body}
    if resync:
        data["r"] = 1
    return json.dumps(data, separators=(",", ":"))
