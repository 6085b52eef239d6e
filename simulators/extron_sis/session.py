"""What every simulated Extron SIS unit shares: banner, login, the SIS parser, verbose mode,
reboot and network settings."""

from __future__ import annotations

import contextlib
import re
import threading
import time
from typing import Any

from simulators.harness import DeviceSimulator, PtyServer, Server, SimConnection, TcpServer
from simulators.spec import SimSpec

ESC, CR, LF = "\x1b", "\r", "\n"
SIMPLE_TERMINATORS = set("!&%$.,INQSBZ")
PLANE_NAMES = {"!": "All", "&": "RGB", "%": "Vid", "$": "Aud"}
TELNET_PORT = 23


#: Form variations of real units the drivers tolerate (see the module docstring).
QUIRKS = ("no-banner", "no-verbose")


class ExtronSisSimulator(DeviceSimulator):
    """Session handling common to every SIS device: banner, login, parser, verbose mode."""

    default_boot_time = 1.0
    model = "Extron device"
    part = "60-000-00"
    description = "Extron device"

    def __init__(self, *, host: str = "127.0.0.1", port: int = TELNET_PORT, serial: bool = False,
                 baudrate: int = 9600, serial_link: str | None = None, password: str = "",
                 user_password: str = "", model: str | None = None, part: str | None = None,
                 firmware: str = "1.13", idle_timeout: float = 300.0, serial_number: str = "",
                 serial_query: str = "", **kw: Any) -> None:
        super().__init__(host=host, port=port, password=password, **kw)
        # Which SIS command reports the serial number differs by model (many report none):
        # ``serial_query`` is its Escape-command body here, answered with the bare serial.
        self.serial_number = serial_number
        self.serial_query = serial_query.upper()
        self.serial = serial
        self.baudrate = baudrate
        self.serial_link = serial_link
        self.user_password = user_password
        self.model = model or self.model
        self.part = part or self.part
        self.firmware = firmware
        self.idle_timeout = idle_timeout
        self.device_name = self.model.replace(" ", "-")
        self.ip_address = host
        self.subnet = "255.255.255.0"
        self.gateway = "0.0.0.0"
        self._banner_due = True   # RS-232 shows the banner once per power-up

    @staticmethod
    def _common_kwargs(spec: SimSpec) -> dict[str, Any]:
        o = spec.options
        kw: dict[str, Any] = {
            "name": spec.device_id, "host": spec.host, "port": spec.port,
            "serial": spec.transport == "serial",
            "baudrate": spec.baudrate, "serial_link": spec.serial_link or None, "password": spec.password,
            "user_password": str(o.get("user_password", "")), "boot_time": spec.boot_time,
            "firmware": spec.identity.get("firmware", str(o.get("firmware", "1.13"))),
            "idle_timeout": float(o.get("idle_timeout", 300.0)),
            "serial_number": spec.identity.get("serial", ""), "serial_query": str(o.get("serial_query", "")),
        }
        if spec.identity.get("model") or o.get("model"):
            kw["model"] = spec.identity.get("model") or str(o["model"])
        if o.get("part"):
            kw["part"] = str(o["part"])
        return kw

    def build_servers(self) -> list[Server]:
        if self.serial:
            return [PtyServer(self, baudrate=self.baudrate, link=self.serial_link)]
        return [TcpServer(self, self.host, self.port, telnet=True)]

    @property
    def serial_path(self) -> str:
        return self.servers[0].path  # type: ignore[attr-defined]

    @property
    def tcp_port(self) -> int:
        return self.servers[0].port  # type: ignore[attr-defined]

    def on_boot(self) -> None:
        self._banner_due = True

    def set_protocol_fault(self, knob: str, value: str) -> None:
        if knob in QUIRKS:
            self.faults.extra[knob] = "1"
        else:
            super().set_protocol_fault(knob, value)

    # -- session -------------------------------------------------------------------------------------
    def banner(self) -> str:
        year = time.strftime("%Y")
        stamp = time.strftime("%a, %d %b %Y %H:%M:%S")
        return (f"(c) Copyright {year}, Extron Electronics, {self.model}, V{self.firmware}, {self.part}\r\n"
                f"{stamp}\r\n")

    def handle_connection(self, conn: SimConnection) -> None:
        conn.state["verbose"] = 1 if self.serial else 0
        conn.state["lock"] = threading.Lock()
        if (not self.serial or self._banner_due) and "no-banner" not in self.faults.extra:
            self._banner_due = False
            self.reply(conn, self.banner())
        if not self.serial:
            level = self._login(conn)
            if level is None:
                return
            conn.state["level"] = level
        else:
            conn.state["level"] = "Administrator"
        self._command_loop(conn)

    def _login(self, conn: SimConnection) -> str | None:
        if not self.password and not self.user_password:
            return "Administrator"
        while True:
            self.reply(conn, "\r\nPassword:")
            try:
                line = conn.read_until(re.compile(rb"[\r\n]"), timeout=self.idle_timeout)
            except TimeoutError:
                return None
            answer = line.rstrip(b"\r\n").decode("latin-1")
            if self.faults.reject_password:
                continue
            if answer == self.password or not self.password and answer == self.user_password:
                self.reply(conn, "\r\nLogin Administrator\r\n")
                return "Administrator"
            if self.user_password and answer == self.user_password:
                self.reply(conn, "\r\nLogin User\r\n")
                return "User"

    def _command_loop(self, conn: SimConnection) -> None:
        buf = ""
        escape = False
        while True:
            try:
                chunk = conn.read_some(timeout=self.idle_timeout)
            except TimeoutError:
                return  # idle timeout: the unit hangs up
            for ch in chunk.decode("latin-1"):
                if escape:
                    if ch in (CR, "|"):
                        escape = False
                        answer = self.escape_command(conn, buf)
                        quiet = "no-verbose" in self.faults.extra and re.fullmatch(r"\d?CV", buf.upper())
                        if not quiet:
                            self.reply(conn, answer + "\r\n")
                        buf = ""
                    else:
                        buf += ch
                elif ch == ESC:
                    escape, buf = True, ""
                elif ch in (CR, LF, " "):
                    continue
                else:
                    buf += ch
                    if ch.upper() in SIMPLE_TERMINATORS:
                        self.reply(conn, self.simple_command(conn, buf.upper()) + "\r\n")
                        buf = ""
                    elif not (ch.isdigit() or ch == "*"):
                        self.reply(conn, "E10\r\n")
                        buf = ""

    def reply(self, conn: SimConnection, text: str) -> None:
        lock = conn.state.get("lock")
        if lock is None:
            conn.send(text)
            return
        with lock:  # type: ignore[attr-defined]  # session thread and broadcasts share the socket
            conn.send(text)

    def spawn_helper(self, target: Any, *args: Any) -> None:
        """A short-lived helper thread the simulator joins on stop."""

        def run() -> None:
            try:
                target(*args)
            finally:
                with self._lock:
                    self._threads.discard(threading.current_thread())

        t = threading.Thread(target=run, name=f"sim-extron-{self.name}", daemon=True)
        with self._lock:
            self._threads.add(t)
        t.start()

    def broadcast(self, text: str) -> None:
        """An unsolicited message to every session in verbose mode 1 or 3."""
        for conn in self.iter_sessions():
            if conn.state.get("verbose") in (1, 3) and conn.state.get("level"):
                with contextlib.suppress(Exception):
                    self.reply(conn, text + "\r\n")

    @staticmethod
    def tagged(conn: SimConnection) -> bool:
        return conn.state.get("verbose") in (2, 3)

    # -- commands -------------------------------------------------------------------------------------
    def simple_command(self, conn: SimConnection, cmd: str) -> str:
        if cmd == "N":
            return self.part
        if cmd == "Q" or cmd == "1Q":
            return self.firmware
        if cmd == "*Q":
            return f"{self.firmware}.0001"
        if cmd == "S":
            return "3.29 4.85 12.06 38.5 02100 1"  # voltages, temperature, fan rpm, PSU ok
        if cmd == "2I":
            return self.description
        if cmd == "1I":
            return self.model
        return "E10"

    def escape_command(self, conn: SimConnection, body: str) -> str:
        upper = body.upper()
        if self.serial_query and upper == self.serial_query:
            return self.serial_number or "E14"
        admin = conn.state.get("level") == "Administrator"
        m = re.fullmatch(r"(\d)?CV", upper)
        if m:
            if m.group(1) is None:
                return str(conn.state["verbose"])
            mode = int(m.group(1))
            if mode > 3:
                return "E13"
            conn.state["verbose"] = mode
            return f"Vrb{mode}"
        m = re.fullmatch(r"([12])BOOT", upper)
        if m:
            if not admin:
                return "E24"
            if m.group(1) == "1":
                self.spawn_helper(self._reboot_after_reply)
            return f"Boot{m.group(1)}"
        m = re.fullmatch(r"(.*)(CN|CI|CS|CG)", body, flags=re.IGNORECASE)
        if m:
            return self._network_setting(m.group(1), m.group(2).upper(), admin)
        return "E10"

    def _reboot_after_reply(self) -> None:
        self.wait(0.05)  # let the Boot1 reply leave before the unit goes away
        if not self.stopping:
            self.reboot()

    def _network_setting(self, value: str, verb: str, admin: bool) -> str:
        attr, tag = {"CN": ("device_name", "Ipn"), "CI": ("ip_address", "Ipi"), "CS": ("subnet", "Ips"),
                     "CG": ("gateway", "Ipg")}[verb]
        if not value:
            return str(getattr(self, attr))
        if not admin:
            return "E24"
        if verb != "CN" and not re.fullmatch(r"\d{1,3}(\.\d{1,3}){3}", value):
            return "E13"
        setattr(self, attr, value)
        if verb == "CI" and not self.serial:
            # Only the network side moves: an RS-232 session goes on undisturbed.
            self.spawn_helper(self._move_after_reply, value)
        return f"{tag} {value}"

    def _move_after_reply(self, host: str) -> None:
        self.wait(0.05)
        if not self.stopping:
            self.move_to(host)
