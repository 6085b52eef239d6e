"""netmiko's session log, bounded: what the router sent since the current command began.

netmiko writes everything it reads into ``session_log``. An ``io.BytesIO`` there grows for the
life of the session and copying it after every command costs time proportional to everything
ever read. This log keeps only the bytes since the last ``mark()`` (one command), at most
``limit`` of them (the tail: an error is at the end), and hands each byte to the transcript once.
"""

from __future__ import annotations

import io
from typing import Any

DEFAULT_LIMIT = 256 * 1024


class BoundedSessionLog(io.BufferedIOBase):
    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        super().__init__()
        self.limit = limit
        self._data = bytearray()     # bytes since the last mark (the tail when over the limit)
        self._start = 0              # absolute offset of _data[0]
        self._taken = 0              # absolute offset up to which the transcript has the bytes
        self.written = 0             # absolute count of bytes netmiko wrote

    # what netmiko calls
    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self._data += chunk
        self.written += len(chunk)
        excess = len(self._data) - self.limit
        if excess > 0:
            del self._data[:excess]
            self._start += excess
        return len(chunk)

    def flush(self) -> None:
        """Nothing is buffered beyond what ``take_new`` hands out."""

    def close(self) -> None:
        """netmiko closes the log on disconnect; the bytes stay readable for the transcript."""

    # what the driver calls
    def mark(self) -> int:
        """A command begins: forget the bytes of earlier commands the transcript already has."""
        keep_from = max(self._taken, self._start) - self._start
        del self._data[:keep_from]
        self._start += keep_from
        return self.written

    def since(self, mark: int) -> bytes:
        """What arrived after ``mark`` (its retained tail)."""
        return bytes(self._data[max(mark - self._start, 0):])

    def take_new(self) -> bytes:
        """Bytes not handed out before (those dropped over the limit are lost, by design)."""
        new = bytes(self._data[max(self._taken - self._start, 0):])
        self._taken = self.written
        return new

    def retained(self) -> int:
        return len(self._data)
