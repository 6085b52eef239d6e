"""Polycom HDX 7000/8000/9000 codec: the Telnet API on port 24 and the RS-232 port.

Written from protocols.md section 2 ([Poly-IRM-HDX]), not from the driver. The command set is
the Group Series one this package already simulates; what the HDX does differently:

- every command line is echoed before its acknowledgement, on LAN as ``cmd\\n\\r`` and on the
  serial port as ``cmd\\r\\n``, even when the command is invalid (``api_echo``, default on);
- the RS-232 port (a pty here, paced at its baud rate) sends nothing until the host does. With
  ``serial_login`` on [unverified default: off], the first line the host sends gets
  ``Password:``; after the password (or at once without login) the welcome block follows. A
  line opened later finds the port still logged in; registrations on it stay until a restart
  (they are per port, not per session);
- standard definition: ``max_resolution`` 704x576 unless the spec says otherwise (no HD option
  key), so the call fabric negotiates SD for calls with this unit;
- software ``Release 3.1.14-51076`` style versions [illustrative].

Spec options (beyond Group Series): ``serial`` (also serve a pty), ``serial_login``,
``api_echo``, ``baudrate`` (SimSpec.baudrate; default 9600), ``software``.
"""

from __future__ import annotations

import re
import time
from typing import Any, Self

from simulators.codec_common import options_from_spec, writer_of
from simulators.fabric import SD_MAX_RESOLUTION, CallFabric
from simulators.harness import PtyConnection, PtyServer, Server, SimConnection, TcpServer
from simulators.poly_group import CRLF, PROMPT, PolyGroupSimulator
from simulators.spec import SimSpec

LINE = re.compile(rb"\r\n|\r|\n")
HDX_MODEL = "HDX 8000"
HDX_FIRMWARE = "3.1.14"
HDX_SOFTWARE = "Release 3.1.14-51076 - 21Feb2019 14:20"


class PolycomHdxSimulator(PolyGroupSimulator):
    default_boot_time = 3.0

    def __init__(self, *, serial: bool = False, serial_login: bool = False, serial_link: str | None = None,
                 baudrate: int | None = 9600, api_echo: bool = True, telnet: bool = True,
                 software: str = HDX_SOFTWARE, **kw: Any) -> None:
        super().__init__(software=software, **kw)
        if self.opts.model in ("", "Codec", "RealPresence Group 500"):
            self.opts.model = HDX_MODEL
        self.serial = serial
        self.serial_login = serial_login
        self.serial_link = serial_link
        self.baudrate = baudrate
        self.api_echo = api_echo
        self.telnet = telnet
        self._serial_logged_in = False
        self._serial_notify: set[str] = set()   # per port, kept across sessions until a restart

    @classmethod
    def from_spec(cls, spec: SimSpec, site: Any = None) -> Self:
        fabric: CallFabric | None = getattr(site, "fabric", None) if site is not None else None
        o = dict(spec.options)
        o.setdefault("max_resolution", SD_MAX_RESOLUTION)
        spec_opts = SimSpec(**{**spec.__dict__, "options": o})
        opts = options_from_spec(spec_opts, model=HDX_MODEL, firmware=HDX_FIRMWARE)
        over_serial = spec.transport == "serial"
        telnet_port = int(o.get("telnet_port", 24)) if over_serial else (spec.port or 24)
        return cls(name=spec.device_id, host=spec.host, port=telnet_port, username=spec.username,
                   password=spec.password, boot_time=spec.boot_time, options=opts, fabric=fabric,
                   telnet_port=telnet_port, serial=over_serial or bool(o.get("serial", False)),
                   serial_login=bool(o.get("serial_login", False)),
                   serial_link=spec.serial_link or None, baudrate=spec.baudrate or 9600,
                   api_echo=bool(o.get("api_echo", True)),
                   telnet=not over_serial or "telnet_port" in o,
                   software=str(o.get("software", HDX_SOFTWARE)),
                   login_prompt=str(o.get("login_prompt", "password")))

    def build_servers(self) -> list[Server]:
        servers: list[Server] = []
        if self.telnet:
            servers.append(TcpServer(self, self.host, self.port or self.telnet_port, telnet=True))
        if self.serial:
            servers.append(PtyServer(self, baudrate=self.baudrate, link=self.serial_link))
        return servers

    @property
    def serial_path(self) -> str:
        for server in self.servers:
            if isinstance(server, PtyServer):
                return server.path
        raise LookupError(f"{self.name} serves no serial line")

    def on_shutdown(self) -> None:
        super().on_shutdown()
        self._serial_logged_in = False
        self._serial_notify = set()

    # session -------------------------------------------------------------------------------------
    def handle_connection(self, conn: SimConnection) -> None:
        out = writer_of(conn)
        serial = isinstance(conn, PtyConnection)
        if serial:
            conn.state["notify"] = self._serial_notify
            if not self._serial_session_start(conn):
                return
        else:
            if not self._login(conn):
                return
            out.send(self.welcome_block())
            conn.state["notify"] = set()
        while True:
            line = self._read_command(conn)
            if line is None:
                continue
            if self.down:
                return
            self.command_times.append(time.monotonic())
            if self.api_echo:
                # LAN echo ends LF CR, serial echo CR LF [Poly-IRM-HDX]; sent even for bad commands
                out.send(line + ("\r\n" if serial else "\n\r"))
            self.execute(conn, line)

    def _read_command(self, conn: SimConnection) -> str | None:
        raw = conn.read_until(LINE)
        line = raw.decode("utf-8", "replace").strip()
        if line.startswith(PROMPT.strip()):
            line = line[len(PROMPT.strip()):].strip()
        if not line:
            if isinstance(conn, PtyConnection):
                writer_of(conn).send(PROMPT)   # an empty line on the console shows the prompt
            return None
        return line

    def _serial_session_start(self, conn: SimConnection) -> bool:
        """Wait for the host's first line; ask for the password if the port requires it."""
        if not self.serial_login or (not self.password and not self.faults.reject_password):
            self._serial_logged_in = True
        if self._serial_logged_in:
            return True
        out = writer_of(conn)
        conn.read_until(LINE)                 # whatever wakes the port is not a command yet
        for _attempt in range(3):
            out.send("Password: ")
            given = conn.read_until(LINE).decode("utf-8", "replace").strip()
            if given == self.password and not self.faults.reject_password:
                self._serial_logged_in = True
                out.send(CRLF + self.welcome_block())
                return True
            out.send(CRLF + "-- login failed, retry --" + CRLF)
        return False
