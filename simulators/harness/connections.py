"""Client sessions as a simulated device sees them: socket (raw or Telnet) and pty lines.

Reads have deadlines; every ``send`` applies the device's fault knobs.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import select
import socket
import time
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

from simulators.faults import garble

if TYPE_CHECKING:
    from simulators.harness.device import DeviceSimulator

POLL = 0.05  # how often idle server loops look at their stop flag, seconds


class ConnectionClosed(Exception):
    """The client went away, or the simulator closed the session (reboot, stop, drop fault)."""


# -- connections ----------------------------------------------------------------------------------
class SimConnection(ABC):
    """One client session as the device sees it."""

    def __init__(self, sim: DeviceSimulator, peer: str) -> None:
        self.sim = sim
        self.peer = peer
        self.closed = False
        self._buffer = bytearray()
        self.state: dict[str, object] = {}   # per-session protocol state (output mode, verbose...)

    # primitives
    @abstractmethod
    def _recv(self, timeout: float) -> bytes:
        """What arrives within timeout (b"" if nothing); raise ConnectionClosed on EOF."""

    @abstractmethod
    def _send(self, data: bytes) -> None: ...

    @abstractmethod
    def _close(self) -> None: ...

    # reading
    def read_until(self, terminator: bytes | re.Pattern[bytes], timeout: float | None = None) -> bytes:
        """Up to and including ``terminator``; ``None`` timeout waits until closed or stopped.
        Raises ``TimeoutError`` on timeout and ``ConnectionClosed`` when the session ends."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if isinstance(terminator, bytes):
                idx = self._buffer.find(terminator)
                end = None if idx < 0 else idx + len(terminator)
            else:
                m = terminator.search(self._buffer)
                end = None if m is None else m.end()
            if end is not None:
                data = bytes(self._buffer[:end])
                del self._buffer[:end]
                return data
            self._fill(deadline)

    def read_some(self, timeout: float | None = None) -> bytes:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._buffer:
            self._fill(deadline)
        data = bytes(self._buffer)
        self._buffer.clear()
        return data

    def read_exactly(self, n: int, timeout: float | None = None) -> bytes:
        deadline = None if timeout is None else time.monotonic() + timeout
        while len(self._buffer) < n:
            self._fill(deadline)
        data = bytes(self._buffer[:n])
        del self._buffer[:n]
        return data

    def _fill(self, deadline: float | None) -> None:
        if self.closed or self.sim.stopping:
            raise ConnectionClosed(self.peer)
        wait = POLL if deadline is None else min(POLL, deadline - time.monotonic())
        if deadline is not None and wait <= 0:
            raise TimeoutError(f"simulator read from {self.peer} timed out")
        chunk = self._recv(max(wait, 0.0))
        if chunk:
            self._buffer.extend(chunk)

    # writing
    def send(self, data: bytes | str) -> None:
        """Send a reply as the device would, with the simulator's fault knobs applied."""
        if isinstance(data, str):
            data = data.encode("latin-1")
        faults = self.sim.faults
        if self.closed:
            raise ConnectionClosed(self.peer)
        if faults.silent or not data:
            return
        if faults.delay > 0:
            self.sim.wait(faults.delay)
        if faults.garbage:
            data = garble(data, self.sim.rng)
        if faults.drop_mid_reply:
            self._send(data[: max(1, len(data) // 2)])
            self.close()
            raise ConnectionClosed(f"{self.peer}: dropped mid-reply (fault)")
        self._send(data)

    def send_raw(self, data: bytes | str) -> None:
        """Send bypassing fault knobs (banners a fault should not hide, e.g. an auth refusal)."""
        if isinstance(data, str):
            data = data.encode("latin-1")
        if self.closed:
            raise ConnectionClosed(self.peer)
        self._send(data)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            with contextlib.suppress(OSError):
                self._close()


class SocketConnection(SimConnection):
    """TCP connection; with ``telnet=True`` the client's IAC negotiation is filtered out and
    refused (DO -> WONT, WILL -> DONT), doubled 0xFF becomes one data byte and ``CR NUL`` a CR.
    ``negotiations`` keeps every command the client sent (e.g. ``b"\\xff\\xfc\\x01"``)."""

    def __init__(self, sim: DeviceSimulator, sock: socket.socket, peer: str, telnet: bool = False) -> None:
        super().__init__(sim, peer)
        self.sock = sock
        self.telnet = telnet
        self.negotiations: list[bytes] = []
        self._iac_state = 0
        self._verb = 0
        self._after_cr = False
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)

    def _recv(self, timeout: float) -> bytes:
        try:
            ready, _, _ = select.select([self.sock], [], [], timeout)
        except (OSError, ValueError) as exc:  # closed under us by reboot/stop
            raise ConnectionClosed(f"{self.peer}: {exc}") from exc
        if not ready:
            return b""
        try:
            data = self.sock.recv(65536)
        except BlockingIOError:
            return b""
        except OSError as exc:
            raise ConnectionClosed(f"{self.peer}: {exc}") from exc
        if not data:
            raise ConnectionClosed(self.peer)
        return self._telnet_filter(data) if self.telnet else data

    def _telnet_filter(self, data: bytes) -> bytes:
        out = bytearray()
        replies = bytearray()
        for b in data:
            st = self._iac_state
            if st == 0:
                after_cr, self._after_cr = self._after_cr, False
                if b == 255:
                    self._iac_state = 1
                elif b == 0 and after_cr:
                    pass  # NVT "CR NUL": a bare CR
                else:
                    out.append(b)
                    self._after_cr = b == 0x0D
            elif st == 1:
                if b == 255:
                    out.append(255)
                    self._iac_state = 0
                elif b in (251, 252, 253, 254):
                    self._verb = b
                    self._iac_state = 2
                elif b == 250:
                    self._iac_state = 3
                else:
                    self._iac_state = 0
            elif st == 2:
                self.negotiations.append(bytes((255, self._verb, b)))
                if self._verb == 253:      # DO -> WONT
                    replies += bytes((255, 252, b))
                elif self._verb == 251:    # WILL -> DONT
                    replies += bytes((255, 254, b))
                self._iac_state = 0
            elif st == 3:
                if b == 255:
                    self._iac_state = 4
            elif st == 4:
                self._iac_state = 0 if b == 240 else 3
        if replies:
            self._write_all(bytes(replies))  # negotiation is not data: never doubled
        return bytes(out)

    def _send(self, data: bytes) -> None:
        if self.telnet:
            data = data.replace(b"\xff", b"\xff\xff")
        self._write_all(data)

    def _write_all(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            if self.closed:
                raise ConnectionClosed(self.peer)
            try:
                n = self.sock.send(view)
            except BlockingIOError:
                try:
                    select.select([], [self.sock], [], POLL)
                except (OSError, ValueError) as exc:
                    raise ConnectionClosed(f"{self.peer}: {exc}") from exc
                continue
            except OSError as exc:
                raise ConnectionClosed(f"{self.peer}: {exc}") from exc
            view = view[n:]

    def send_iac(self, data: bytes) -> None:
        """Raw Telnet negotiation bytes (not doubled, no fault knobs)."""
        if self.closed:
            raise ConnectionClosed(self.peer)
        self._write_all(data)

    def _close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()


class PtyConnection(SimConnection):
    """The device end of an RS-232 line. Bytes are paced at the baud rate both ways
    (10 bits per byte at 8N1: 9600 baud is about 1.04 ms per byte)."""

    def __init__(self, sim: DeviceSimulator, master_fd: int, peer: str, baudrate: int | None) -> None:
        super().__init__(sim, peer)
        self.fd = master_fd
        self.baudrate = baudrate
        self._rx_free_at = 0.0   # when the last byte received has fully "arrived" on the wire

    def byte_time(self) -> float:
        return 10.0 / self.baudrate if self.baudrate else 0.0

    def _recv(self, timeout: float) -> bytes:
        if self.sim.session_generation != self.state.get("generation", self.sim.session_generation):
            raise ConnectionClosed(f"{self.peer}: device restarted")
        if self.sim.faults.refuse or self.sim.down:
            raise ConnectionClosed(f"{self.peer}: device is off")
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return b""
        try:
            data = os.read(self.fd, 4096)
        except OSError as exc:
            if exc.errno == errno.EIO:  # no client holds the slave: the line is idle
                self.sim.wait(min(timeout, POLL))
                return b""
            raise ConnectionClosed(f"{self.peer}: {exc}") from exc
        if self.sim.faults.refuse or self.sim.down:
            raise ConnectionClosed(f"{self.peer}: device is off")  # switched off while we waited
        if self.baudrate and data:
            # The host's bytes take wire time to arrive; the device sees them no sooner.
            now = time.monotonic()
            start = max(now, self._rx_free_at)
            self._rx_free_at = start + len(data) * self.byte_time()
            self.sim.wait(self._rx_free_at - now)
        return data

    def _send(self, data: bytes) -> None:
        if not self.baudrate:
            os.write(self.fd, data)
            return
        # Pace: write byte by byte at the wire rate, from a start time (no drift accumulation).
        per = self.byte_time()
        start = time.monotonic()
        for i in range(len(data)):
            if self.closed:
                raise ConnectionClosed(f"{self.peer}: closed mid-reply")
            due = start + i * per
            delay = due - time.monotonic()
            if delay > 0:
                self.sim.wait(delay)
            os.write(self.fd, data[i:i + 1])
        tail = start + len(data) * per - time.monotonic()
        if tail > 0:
            self.sim.wait(tail)

    def _close(self) -> None:
        # The pty belongs to the server, not to one session: nothing to close here.
        pass

