"""UDP datagrams (VISCA over IP). One datagram is one message: ``_recv`` returns one at a time."""

from __future__ import annotations

import select
import socket
import time

from drivers.errors import ConnectError, DeviceTimeout, Disconnected
from drivers.transports.base import Transport


class UdpTransport(Transport):
    scheme = "udp"

    def __init__(self, host: str, port: int, *, local_host: str = "0.0.0.0", **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.host = host
        self.port = port
        self.local_host = local_host
        self._sock: socket.socket | None = None

    def describe(self) -> str:
        return f"udp://{self.host}:{self.port}"

    def _open(self) -> None:
        try:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.bind((self.local_host, 0))
            sock.connect((self.host, self.port))  # only the camera's datagrams reach us
        except OSError as exc:
            raise ConnectError(f"cannot open {self.describe()}: {exc}", device=self.name) from exc
        sock.setblocking(False)
        self._sock = sock

    def _close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()

    def _send(self, data: bytes) -> None:
        if self._sock is None:
            raise Disconnected(f"{self.describe()} is closed", device=self.name)
        try:
            self._sock.send(data)
        except ConnectionRefusedError:
            pass  # ICMP port unreachable from an earlier datagram: UDP has no session to lose
        except OSError as exc:
            raise Disconnected(f"send to {self.describe()} failed: {exc}", device=self.name) from exc

    def _recv(self, timeout: float) -> bytes:
        if self._sock is None:
            raise Disconnected(f"{self.describe()} is closed", device=self.name)
        ready, _, _ = select.select([self._sock], [], [], timeout)
        if not ready:
            return b""
        try:
            return self._sock.recv(65536)
        except (BlockingIOError, ConnectionRefusedError):
            # Nobody listening yet (camera rebooting): to the caller that is silence.
            return b""
        except OSError as exc:
            raise Disconnected(f"read from {self.describe()} failed: {exc}", device=self.name) from exc

    def recv_datagram(self, timeout: float) -> bytes:
        """Next whole datagram, or ``DeviceTimeout``. Ignores the byte buffer of stream reads."""
        return self.read_packet(timeout)

    def read_packet(self, timeout: float) -> bytes:
        self._require_open()
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._stale = True  # a late answer must not pass for the next one
                self.transcript.note("timeout waiting for a datagram")
                raise DeviceTimeout(f"no datagram from {self.describe()} within the deadline",
                                    device=self.name)
            packet = self._recv_checked(remaining)
            if packet:
                return packet
