"""Bounds on what one side of the link accepts from the other, checked before full parsing.

A frame is measured before it is parsed: its size in bytes against the cap of its type and the
nesting depth of its JSON, found without recursion (strings removed, then innermost brackets
stripped one level per pass), so a 200,000-deep frame costs a few regex passes instead of a
``RecursionError``.
"""

from __future__ import annotations

import json
import re
from typing import Any

#: ``msg_id``, ``command_id`` and acked ids: what an id may look like (uuid hex, or readable ids);
#: 64 characters is also what central's tables hold
MSG_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"
MSG_ID_MAX = 64
_MSG_ID = re.compile(MSG_ID_PATTERN)

#: the largest frame either side reads at all; a bigger one is rejected unread
MAX_FRAME_BYTES = 1024 * 1024
#: per message type: a status is small, a self-test with transcripts is the biggest report
FRAME_BYTES: dict[str, int] = {
    "heartbeat": 4 * 1024,
    "ack": 256 * 1024,
    "hello": 256 * 1024,
    "status": 512 * 1024,
    "event": 128 * 1024,
    "command_result": 256 * 1024,
    "selftest": MAX_FRAME_BYTES,
    "command": 256 * 1024,
    "schedule": MAX_FRAME_BYTES,
}
#: deepest JSON nesting of any frame (a status is about 5 deep; device details may nest a little)
MAX_DEPTH = 32
#: a device's status ``details`` and an event's ``data``, as JSON
MAX_DETAILS_BYTES = 64 * 1024
#: devices one hello may declare (the site profile's devices) and one status may report
MAX_DEVICES = 256
MAX_LIST = 1000           # acked ids, checks, calls, drift entries ...
MAX_TEXT = 8 * 1024       # one reason, error or evidence line

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_INNERMOST = re.compile(r"\{[^{}\[\]]*\}|\[[^{}\[\]]*\]")
_MSG_ID_FIELD = re.compile(r'"msg_id"\s*:\s*"([^"\\]{1,64})"')
_TYPE_FIELD = re.compile(r'"type"\s*:\s*"([a-z_]{1,32})"')


class FrameTooLarge(ValueError):
    pass


class FrameTooDeep(ValueError):
    pass


def valid_id(value: object) -> bool:
    return isinstance(value, str) and _MSG_ID.match(value) is not None


def depth_exceeds(text: str, limit: int = MAX_DEPTH) -> bool:
    """Whether ``text``'s JSON nests deeper than ``limit`` (no recursion, no full parse)."""
    if text.count("{") + text.count("[") <= limit:
        return False
    bare = _STRING.sub('""', text)
    for _ in range(limit):
        stripped = _INNERMOST.sub("0", bare)
        if stripped == bare:
            # what is left are brackets never closed: they nest too (malformed, but json would recurse)
            return bare.count("{") + bare.count("[") > limit
        bare = stripped
    return True


def sniff(text: str) -> tuple[str | None, str | None]:
    """(msg_id, type) read with bounded regexes from a frame that may not parse at all."""
    msg_id = _MSG_ID_FIELD.search(text)
    kind = _TYPE_FIELD.search(text)
    found = msg_id.group(1) if msg_id else None
    return (found if valid_id(found) else None), (kind.group(1) if kind else None)


def load_bounded(text: str) -> Any:
    """``json.loads`` after the size and depth checks; raises FrameTooLarge / FrameTooDeep / ValueError."""
    size = len(text) if len(text) > MAX_FRAME_BYTES else len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_FRAME_BYTES:
        raise FrameTooLarge(f"frame of {size} bytes is over the {MAX_FRAME_BYTES} byte limit")
    if depth_exceeds(text):
        raise FrameTooDeep(f"frame nests deeper than {MAX_DEPTH} levels")
    try:
        value = json.loads(text)
    except RecursionError as exc:     # the checks above make this unreachable; never let it escape
        raise FrameTooDeep(f"frame nests deeper than {MAX_DEPTH} levels") from exc
    kind = value.get("type") if isinstance(value, dict) else None
    cap = FRAME_BYTES.get(kind) if isinstance(kind, str) else None
    if cap is not None and size > cap:
        raise FrameTooLarge(f"{kind} frame of {size} bytes is over its {cap} byte limit")
    return value


def json_size(value: Any) -> int:
    return len(json.dumps(value, default=str, separators=(",", ":")))
