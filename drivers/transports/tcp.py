"""Plain TCP byte stream (PJLink, Extron direct port, VISCA over TCP, test servers)."""

from __future__ import annotations

import errno
import select
import socket
import time

from drivers.errors import ConnectError, DeviceTimeout, Disconnected
from drivers.transports.base import Transport


def translate_connect_error(exc: OSError, where: str, name: str) -> Exception:
    """Map socket errors at connect time onto our error model."""
    if isinstance(exc, socket.timeout | TimeoutError):
        return DeviceTimeout(f"connect to {where} timed out", device=name)
    if exc.errno in (errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EADDRNOTAVAIL):
        return ConnectError(f"connect to {where} failed: {exc.strerror or exc}", device=name)
    return ConnectError(f"connect to {where} failed: {exc}", device=name)


class TcpTransport(Transport):
    scheme = "tcp"

    def __init__(self, host: str, port: int, *, source_address: str | None = None, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.host = host
        self.port = port
        self.source_address = source_address
        self._sock: socket.socket | None = None

    def describe(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    def _open(self) -> None:
        src = (self.source_address, 0) if self.source_address else None
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self.connect_timeout,
                                            source_address=src)
        except OSError as exc:
            raise translate_connect_error(exc, self.describe(), self.name) from exc
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        self._sock = sock
        self._after_connect()

    def _after_connect(self) -> None:
        """Hook for protocols layered on TCP (Telnet)."""

    def _close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already reset by the peer; closing is all that is left to do
            sock.close()

    def _send(self, data: bytes) -> None:
        self._raw_send(data)

    def _raw_send(self, data: bytes) -> None:
        sock = self._sock
        if sock is None:
            raise Disconnected(f"{self.describe()} is closed", device=self.name)
        view = memoryview(data)
        # A peer that stops reading fills our send buffer; give it connect_timeout to drain.
        deadline = time.monotonic() + self.connect_timeout
        while view:
            try:
                sent = sock.send(view)
            except BlockingIOError:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    # Part of the message may be out: the stream is unusable, reconnect.
                    raise Disconnected(
                        f"write to {self.describe()} stalled for {self.connect_timeout:g} s",
                        device=self.name) from None
                select.select([], [sock], [], remaining)
                continue
            except OSError as exc:
                raise Disconnected(f"write to {self.describe()} failed: {exc}", device=self.name) from exc
            view = view[sent:]

    def _recv(self, timeout: float) -> bytes:
        return self._raw_recv(timeout)

    def _raw_recv(self, timeout: float) -> bytes:
        sock = self._sock
        if sock is None:
            raise Disconnected(f"{self.describe()} is closed", device=self.name)
        ready, _, _ = select.select([sock], [], [], timeout)
        if not ready:
            return b""
        try:
            data = sock.recv(65536)
        except BlockingIOError:
            return b""
        except OSError as exc:
            raise Disconnected(f"read from {self.describe()} failed: {exc}", device=self.name) from exc
        if not data:
            raise Disconnected(f"{self.describe()} closed the connection", device=self.name)
        return data
