"""The transport interface: move bytes, read with deadlines.

Every transport (serial, TCP, Telnet, SSH, UDP) implements four primitives — ``_open``,
``_close``, ``_send`` and ``_recv`` — and inherits buffering, deadlines and the transcript
from here, so framing behaves the same whatever the cable.

State after a timeout: the bytes buffered so far are discarded (they are attached to the
``DeviceTimeout`` as ``partial``) and the connection stays open. Because a late reply may still
arrive, the next ``write`` first drains whatever is pending, so a stale answer is never read as
the reply to the next command.
"""

from __future__ import annotations

import re
import time
from abc import ABC, abstractmethod

from drivers.errors import DeviceTimeout, Disconnected
from drivers.transcript import Transcript

Terminator = bytes | re.Pattern[bytes]

#: How long the drain before a write may look for late bytes, in seconds.
_DRAIN_WINDOW = 0.0


class Transport(ABC):
    """Byte stream to one device, with reads bounded by deadlines in seconds."""

    #: URL scheme, e.g. ``tcp``; also used in log lines.
    scheme: str = "?"
    #: Seconds the drain before a write waits for late bytes still on their way to us.
    drain_window: float = _DRAIN_WINDOW

    def __init__(self, *, name: str | None = None, transcript: Transcript | None = None,
                 connect_timeout: float = 5.0) -> None:
        self.name = name or self.scheme
        self.transcript = transcript if transcript is not None else Transcript()
        self.connect_timeout = connect_timeout
        self._buffer = bytearray()
        self._open_flag = False
        self._stale = False

    # -- primitives each transport implements -------------------------------------------------
    @abstractmethod
    def _open(self) -> None: ...

    @abstractmethod
    def _close(self) -> None: ...

    @abstractmethod
    def _send(self, data: bytes) -> None:
        """Write all of ``data``; raise ``Disconnected`` if the link is gone."""

    @abstractmethod
    def _recv(self, timeout: float) -> bytes:
        """Return what arrives within ``timeout`` (``b""`` if nothing); ``Disconnected`` on EOF."""

    # -- public interface ----------------------------------------------------------------------
    @property
    def is_open(self) -> bool:
        return self._open_flag

    def open(self) -> None:
        if self._open_flag:
            return
        self._buffer.clear()
        self._stale = False
        self._open()
        self._open_flag = True
        self.transcript.note(f"open {self.describe()}")

    def close(self) -> None:
        if not self._open_flag:
            return
        self._open_flag = False
        self._buffer.clear()
        try:
            self._close()
        finally:
            self.transcript.note("close")

    def __enter__(self) -> Transport:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def describe(self) -> str:
        """Where this transport goes, without credentials."""
        return self.scheme

    def _require_open(self) -> None:
        if not self._open_flag:
            raise Disconnected(f"{self.describe()} is not open", device=self.name)

    def write(self, data: bytes) -> None:
        self._require_open()
        if self._stale:
            self.drain()
        self.transcript.record("tx", data)
        try:
            self._send(data)
        except Disconnected:
            self._mark_closed()
            raise

    def drain(self) -> bytes:
        """Discard everything buffered or already waiting on the link; return it."""
        self._require_open()
        dropped = bytes(self._buffer)
        self._buffer.clear()
        while True:
            chunk = self._recv_checked(self.drain_window)
            if not chunk:
                break
            dropped += chunk
        self._stale = False
        return dropped

    def read_until(self, terminator: Terminator, timeout: float) -> bytes:
        """Read up to and including ``terminator`` (bytes or a compiled bytes regex).

        Raises ``DeviceTimeout`` if it has not arrived ``timeout`` seconds from now.
        """
        self._require_open()
        deadline = time.monotonic() + timeout
        scan_from = 0
        while True:
            end = self._find(terminator, scan_from)
            if end is not None:
                data = bytes(self._buffer[:end])
                del self._buffer[:end]
                return data
            if isinstance(terminator, bytes):
                # Only the tail can still complete a match next time.
                scan_from = max(0, len(self._buffer) - len(terminator) + 1)
            self._fill(deadline, waiting_for=terminator)

    def read_exactly(self, n: int, timeout: float) -> bytes:
        """Read exactly ``n`` bytes or raise ``DeviceTimeout``."""
        self._require_open()
        deadline = time.monotonic() + timeout
        while len(self._buffer) < n:
            self._fill(deadline, waiting_for=f"{n} bytes")
        data = bytes(self._buffer[:n])
        del self._buffer[:n]
        return data

    def read_some(self, timeout: float) -> bytes:
        """Whatever is buffered, or the next chunk to arrive within ``timeout`` (may be b"")."""
        self._require_open()
        deadline = time.monotonic() + timeout
        # A chunk may carry no data (Telnet negotiation only): keep waiting until the deadline.
        while not self._buffer:
            self._buffer.extend(self._recv_checked(deadline - time.monotonic()))
            if time.monotonic() >= deadline:
                break
        data = bytes(self._buffer)
        self._buffer.clear()
        return data

    def unread(self, data: bytes) -> None:
        """Put bytes back at the front of the buffer (a framer read one message too many)."""
        self._buffer[:0] = data

    # -- framing on the one receive buffer --------------------------------------------------------
    # Line and frame readers (the codec drivers' line and JSON framings) work on this buffer
    # directly: there is no second buffer above the transport, so a partial line survives a
    # pacing pause and is dropped only when a read really timed out.
    @property
    def pending(self) -> bytearray:
        """Received bytes no read has consumed yet; a framer may take complete frames off its front."""
        return self._buffer

    def fill(self, deadline: float) -> bool:
        """Append what arrives before ``deadline`` (``time.monotonic``) to the buffer, keeping what
        is there; False if nothing came."""
        self._require_open()
        chunk = self._recv_checked(max(deadline - time.monotonic(), 0.0))
        if chunk:
            self._buffer.extend(chunk)
            return True
        return False

    def take_line(self) -> str | None:
        """The next complete line from the buffer (without CR/LF, UTF-8 with replacement), or None."""
        idx = self._buffer.find(b"\n")
        if idx < 0:
            return None
        raw = bytes(self._buffer[:idx])
        del self._buffer[: idx + 1]
        return raw.decode("utf-8", "replace").strip("\r")

    def next_line(self, deadline: float, what: str = "a reply line") -> str:
        """The next complete line, reading until ``deadline``; ``DeviceTimeout`` after it."""
        while True:
            line = self.take_line()
            if line is not None:
                return line
            if time.monotonic() >= deadline or not self.fill(deadline):
                if time.monotonic() >= deadline:
                    self.discard_pending(f"timeout waiting for {what}", stale=True)
                    raise DeviceTimeout(f"no {what} from {self.describe()} within the deadline",
                                        device=self.name)

    def pending_text(self) -> str:
        return self._buffer.decode("utf-8", "replace")

    def discard_pending(self, why: str = "", *, stale: bool = False) -> bytes:
        """Forget the buffered input (a prompt answered, or a reply whose state is unknown); with
        ``stale`` (a timeout) late bytes still on their way are drained before the next write."""
        dropped = bytes(self._buffer)
        self._buffer.clear()
        self._stale = self._stale or stale
        if why:
            self.transcript.note(why)
        return dropped

    # -- helpers -----------------------------------------------------------------------------------
    def _find(self, terminator: Terminator, scan_from: int) -> int | None:
        if isinstance(terminator, bytes):
            idx = self._buffer.find(terminator, scan_from)
            return None if idx < 0 else idx + len(terminator)
        match = terminator.search(self._buffer)
        return None if match is None else match.end()

    def _fill(self, deadline: float, waiting_for: object) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            partial = bytes(self._buffer)
            self._buffer.clear()
            self._stale = True
            self.transcript.note(f"timeout waiting for {_show(waiting_for)}")
            raise DeviceTimeout(
                f"no {_show(waiting_for)} from {self.describe()} within the deadline",
                device=self.name, partial=partial,
            )
        chunk = self._recv_checked(remaining)
        self._buffer.extend(chunk)

    def _recv_checked(self, timeout: float) -> bytes:
        try:
            chunk = self._recv(max(timeout, 0.0))
        except Disconnected:
            self._mark_closed()
            raise
        if chunk:
            self.transcript.record("rx", chunk)
        return chunk

    def _mark_closed(self) -> None:
        if self._open_flag:
            self._open_flag = False
            self._buffer.clear()
            self.transcript.note("connection lost")
            try:
                self._close()
            except OSError as exc:
                # The link is already gone; a failing close only adds to the record.
                self.transcript.note(f"close after loss failed: {exc}")


def _show(waiting_for: object) -> str:
    if isinstance(waiting_for, bytes):
        return repr(waiting_for)
    if isinstance(waiting_for, re.Pattern):
        return f"/{waiting_for.pattern!r}/"
    return str(waiting_for)
