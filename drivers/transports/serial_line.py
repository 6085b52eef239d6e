"""RS-232 through pyserial's ``serial_for_url``: device paths (``/dev/ttyUSB0``, pty slaves),
``rfc2217://host:port`` and ``socket://host:port`` all work the same way."""

from __future__ import annotations

import contextlib
import socket

import serial
from serial.urlhandler import protocol_socket

from drivers.errors import ConnectError, Disconnected
from drivers.transports.base import Transport


class SerialTransport(Transport):
    scheme = "serial"

    def __init__(self, url: str, *, baudrate: int = 9600, bytesize: int = 8, parity: str = "N",
                 stopbits: float = 1, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.url = url
        self.baudrate = baudrate
        self.bytesize = bytesize
        self.parity = parity
        self.stopbits = stopbits
        # A line trickles: at 9600 baud a byte arrives every ~1 ms. Draining stops only after
        # five character times of quiet, so a banner being sent is drained whole, not cut.
        self.drain_window = max(0.002, 5 * 10 / baudrate)
        self._port: serial.SerialBase | None = None

    def describe(self) -> str:
        return f"serial:{self.url}@{self.baudrate}"

    def _open(self) -> None:
        try:
            port = serial.serial_for_url(
                self.url, baudrate=self.baudrate, bytesize=self.bytesize, parity=self.parity,
                stopbits=self.stopbits, timeout=0, write_timeout=self.connect_timeout,
                do_not_open=True,
            )
            # Modem lines raise "Inappropriate ioctl" on a pty; we never touch them.
            port.open()
        except (serial.SerialException, OSError, ValueError) as exc:
            raise ConnectError(f"cannot open {self.describe()}: {exc}", device=self.name) from exc
        self._port = port

    def _close(self) -> None:
        port, self._port = self._port, None
        if port is None:
            return
        if isinstance(port, protocol_socket.Serial):
            # pyserial's socket:// close() sleeps 0.3 s "for quick reconnects"; we close the
            # socket ourselves and leave reconnect pacing to the agent's retry policy.
            sock, port._socket = port._socket, None
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            port.is_open = False
            return
        port.close()

    def _send(self, data: bytes) -> None:
        if self._port is None:
            raise Disconnected(f"{self.describe()} is closed", device=self.name)
        try:
            self._port.write(data)
            self._port.flush()
        except (serial.SerialException, OSError) as exc:
            raise Disconnected(f"write to {self.describe()} failed: {exc}", device=self.name) from exc

    def _recv(self, timeout: float) -> bytes:
        port = self._port
        if port is None:
            raise Disconnected(f"{self.describe()} is closed", device=self.name)
        try:
            port.timeout = timeout
            first = port.read(1)  # blocks up to timeout for the first byte
            if not first:
                return b""
            # Then whatever else is already there, without waiting. (``in_waiting`` would not
            # do: on ``socket://`` it only says 0 or 1.)
            port.timeout = 0
            return first + port.read(65536)
        except (serial.SerialException, OSError) as exc:
            raise Disconnected(f"read from {self.describe()} failed: {exc}", device=self.name) from exc
