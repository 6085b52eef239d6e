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
from dataclasses import dataclass
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
    """Thread-safe ring of session entries with secret redaction."""

    def __init__(self, max_entries: int = 200, max_entry_bytes: int = 4096) -> None:
        self._entries: deque[list] = deque(maxlen=max_entries)  # [direction, ts, bytearray]
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
            now = time.time()
            if self._entries and self._entries[-1][0] == direction and direction != "info":
                buf: bytearray = self._entries[-1][2]
                buf.extend(data)
            else:
                buf = bytearray(data)
                self._entries.append([direction, now, buf])
            limit = self._max_entry_bytes + self._margin()
            if len(buf) > limit:
                # Keep the tail; a secret cut at the front is dropped with the margin at render.
                del buf[: len(buf) - limit]
                self._entries[-1].append(True)  # mark truncated

    def note(self, text: str) -> None:
        """A line of our own (reconnect, timeout) for context."""
        self.record("info", text.encode())

    def _redact(self, data: bytes) -> bytes:
        for secret in self._secrets:
            data = data.replace(secret, MASK.encode())
        return data

    def entries(self) -> list[TranscriptEntry]:
        with self._lock:
            out = []
            for item in self._entries:
                direction, ts, buf = item[0], item[1], bytes(item[2])
                red = self._redact(buf)
                if len(item) > 3:  # truncated: drop the front margin that may hold half a secret
                    red = b"..." + red[self._margin():]
                out.append(TranscriptEntry(direction, ts, printable(red)))
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

    def __repr__(self) -> str:
        return f"Transcript({len(self._entries)} entries)"
