"""A small echo/prompt device for transport and harness tests.

Line protocol (lines end in CR, LF or CRLF; an empty line gets a fresh prompt):

- ``blob N``  -> N bytes of ``0123456789`` repeated, then CRLF (pacing tests)
- ``ff``      -> ``A\\xffB`` CRLF (a 0xFF data byte: Telnet doubles it on the wire)
- ``quit``    -> the device closes the session
- anything else -> ``ECHO <line>`` CRLF

after each reply the prompt (default ``"> "``) unless it is empty. With ``login=True`` a session
starts with ``Password: ``; a wrong password (or the ``bad-password`` fault) gets
``Login incorrect`` and the session is closed. Over SSH the login is the SSH password instead.
UDP: each datagram ``X`` is answered by one datagram ``ECHO X``.

``answered`` lists the lines whose answer (with prompt) has been sent, or given up on by a
fault; ``wait_for_answer(line)`` lets a test know a late reply is on the wire without sleeping.
"""

from __future__ import annotations

import hmac
import re
import threading
from collections.abc import Callable

from simulators.harness import (
    DeviceSimulator,
    PtyServer,
    Server,
    SimConnection,
    SocketConnection,
    TcpServer,
    UdpServer,
)

LINE = re.compile(rb"\r\n?|\n")
KINDS = ("tcp", "telnet", "ssh", "udp", "serial")


class EchoSimulator(DeviceSimulator):
    default_boot_time = 0.5

    def __init__(self, *, serve: tuple[str, ...] | str = ("tcp",), prompt: str = "> ", banner: str = "",
                 login: bool = False, negotiate: bytes = b"", baudrate: int | None = 9600,
                 serial_link: str | None = None, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.serve = (serve,) if isinstance(serve, str) else tuple(serve)
        unknown = set(self.serve) - set(KINDS)
        if unknown:
            raise ValueError(f"unknown transport(s) {sorted(unknown)}; known: {KINDS}")
        self.prompt = prompt.encode("latin-1")
        self.banner = banner.encode("latin-1")
        self.login = login
        self.negotiate = negotiate          # raw Telnet commands sent on connect (IAC DO ...)
        self.baudrate = baudrate
        self.serial_link = serial_link
        self.answered: list[bytes] = []
        self._replied = threading.Condition()

    # -- servers ---------------------------------------------------------------------------------
    def build_servers(self) -> list[Server]:
        servers: list[Server] = []
        for kind in self.serve:
            if kind == "tcp":
                servers.append(TcpServer(self, self.host, self.port))
            elif kind == "telnet":
                servers.append(TcpServer(self, self.host, self.port, telnet=True))
            elif kind == "ssh":
                from simulators.ssh_server import SshServer  # paramiko only when asked for

                servers.append(SshServer(self, self.host, self.port))
            elif kind == "udp":
                servers.append(UdpServer(self, self.host, self.port))
            else:
                servers.append(PtyServer(self, baudrate=self.baudrate, link=self.serial_link))
        return servers

    def server(self, kind: type[Server]) -> Server:
        """The first server of a class, e.g. ``sim.server(PtyServer).slave_path``."""
        for server in self.servers:
            if isinstance(server, kind):
                return server
        raise LookupError(f"{self.name} has no {kind.__name__}")

    # -- replies bookkeeping ---------------------------------------------------------------------
    def _answered(self, line: bytes) -> None:
        with self._replied:
            self.answered.append(line)
            self._replied.notify_all()

    def wait_for_answer(self, line: bytes, timeout: float = 5.0) -> bool:
        """True once the answer to ``line`` has been sent (or given up on by a fault)."""
        with self._replied:
            return self._replied.wait_for(lambda: line in self.answered, timeout)

    # -- protocol --------------------------------------------------------------------------------
    def answer(self, line: bytes) -> bytes:
        if line.startswith(b"blob "):
            try:
                size = int(line[5:])
            except ValueError:
                return b"ERR bad size\r\n"
            return (b"0123456789" * (size // 10 + 1))[:size] + b"\r\n"
        if line == b"ff":
            return b"A\xffB\r\n"
        return b"ECHO " + line + b"\r\n"

    def handle_connection(self, conn: SimConnection) -> None:
        if self.negotiate and isinstance(conn, SocketConnection) and conn.telnet:
            conn.send_iac(self.negotiate)
        if self.login and not self._check_login(conn):
            return
        if self.banner:
            conn.send(self.banner)
        if self.prompt:
            conn.send(self.prompt)
        while True:
            line = LINE.sub(b"", conn.read_until(LINE))
            if not line:
                if self.prompt:
                    conn.send(self.prompt)  # an empty line asks for a fresh prompt, as on a CLI
                continue
            if line == b"quit":
                return
            try:
                conn.send(self.answer(line))
                if self.prompt:
                    conn.send(self.prompt)
            finally:
                self._answered(line)

    def _check_login(self, conn: SimConnection) -> bool:
        given = b""
        while not given:  # Enter alone asks for the prompt again, as a serial console does
            conn.send(b"Password: ")
            given = LINE.sub(b"", conn.read_until(LINE))
        if self.faults.reject_password or not hmac.compare_digest(given, self.password.encode()):
            conn.send_raw(b"\r\nLogin incorrect\r\n")  # a refusal no fault hides
            return False
        conn.send(b"\r\nWelcome\r\n")
        return True

    def handle_datagram(self, data: bytes, reply: Callable[[bytes], None]) -> None:
        line = LINE.sub(b"", data)
        try:
            reply(self.answer(line))
        finally:
            self._answered(line)


__all__ = ["KINDS", "EchoSimulator"]
