"""Bounded, redacted record of what went over a device session.

Attached to failed checks as evidence. Registered secrets (passwords, tokens, PJLink digests)
never appear in anything this module returns: entries keep raw bytes in memory only and are
redacted when rendered. Consecutive chunks in the same direction are merged into one entry, so a
secret split across two reads is still found whole.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Literal

Direction = Literal["tx", "rx", "info"]
MASK = "********"


@dataclass
class TranscriptEntry:
    direction: Direction
    timestamp: float
    text: str

    def as_dict(self) -> dict[str, object]:
        return {"direction": self.direction, "timestamp": self.timestamp, "text": self.text}


@dataclass
class _RawEntry:
    """One entry as recorded: raw bytes, never shown without redaction."""

    direction: Direction
    timestamp: float
    data: bytearray = field(repr=False)
    truncated: bool = False


def printable(data: bytes) -> str:
    """Bytes as one line of readable text: CR/LF/ESC and other controls escaped."""
    out: list[str] = []
    for b in data:
        if b == 0x0D:
            out.append("\\r")
        elif b == 0x0A:
            out.append("\\n")
        elif b == 0x09:
            out.append("\\t")
        elif 0x20 <= b < 0x7F and b != 0x5C:
            out.append(chr(b))
        elif b == 0x5C:
            out.append("\\\\")
        else:
            out.append(f"\\x{b:02x}")
    return "".join(out)


class Transcript:
    """Thread-safe ring of session entries with secret redaction.

    Bounded: at most ``max_entries`` entries of at most ``max_entry_bytes`` shown bytes each
    (an entry keeps its newest bytes).
    """

    def __init__(self, max_entries: int = 200, max_entry_bytes: int = 4096) -> None:
        self._entries: deque[_RawEntry] = deque(maxlen=max_entries)
        self._max_entry_bytes = max_entry_bytes
        self._secrets: list[bytes] = []
        self._lock = threading.Lock()

    def add_secret(self, secret: str | bytes | None) -> None:
        """Register a value that must never be shown. Empty values are ignored."""
        if not secret:
            return
        raw = secret.encode() if isinstance(secret, str) else bytes(secret)
        with self._lock:
            if raw not in self._secrets:
                self._secrets.append(raw)
                self._secrets.sort(key=len, reverse=True)

    def _margin(self) -> int:
        return max((len(s) for s in self._secrets), default=0)

    def record(self, direction: Direction, data: bytes) -> None:
        if not data:
            return
        with self._lock:
            last = self._entries[-1] if self._entries else None
            if last is not None and last.direction == direction and direction != "info":
                last.data.extend(data)
                entry = last
            else:
                entry = _RawEntry(direction, time.time(), bytearray(data))
                self._entries.append(entry)
            # Keep one secret's length beyond the shown size, so a secret cut at the front can
            # be dropped whole when rendering instead of showing its tail.
            limit = self._max_entry_bytes + self._margin()
            if len(entry.data) > limit:
                del entry.data[: len(entry.data) - limit]
                entry.truncated = True

    def note(self, text: str) -> None:
        """A line of our own (reconnect, timeout) for context."""
        self.record("info", text.encode())

    def _redact(self, data: bytes) -> bytes:
        for secret in self._secrets:
            data = data.replace(secret, MASK.encode())
        return data

    def _safe_cut(self, data: bytes, margin: int) -> int:
        """Where to start showing a truncated entry: past ``margin`` (longer than any cut
        secret's tail), moved back to the start of a whole secret that straddles it."""
        cut = margin
        moved = True
        while moved:  # moving back may expose another straddling secret: repeat until stable
            moved = False
            for secret in self._secrets:
                start = data.find(secret, max(0, cut - len(secret) + 1))
                if 0 <= start < cut:
                    cut, moved = start, True
        return cut

    def entries(self) -> list[TranscriptEntry]:
        with self._lock:
            margin = self._margin()
            out = []
            for entry in self._entries:
                data = bytes(entry.data)
                if entry.truncated:
                    # The front may hold the tail of a secret whose head was cut: drop it.
                    red = b"..." + self._redact(data[self._safe_cut(data, margin):])
                else:
                    red = self._redact(data)
                out.append(TranscriptEntry(entry.direction, entry.timestamp, printable(red)))
            return out

    def tail(self, n: int = 20) -> list[TranscriptEntry]:
        return self.entries()[-n:]

    def render(self, n: int | None = None) -> str:
        rows = self.entries() if n is None else self.tail(n)
        arrows = {"tx": ">>", "rx": "<<", "info": "--"}
        return "\n".join(
            f"{time.strftime('%H:%M:%S', time.localtime(e.timestamp))}"
            f".{int(e.timestamp * 1000) % 1000:03d} {arrows[e.direction]} {e.text}"
            for e in rows
        )

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def __repr__(self) -> str:
        return f"Transcript({len(self)} entries)"
