"""APC switched rack PDU (AP79xx, NMC AOS command line) over Telnet and SSH.

Written from the protocol notes (section 7), not from the driver:

- Telnet: ``User Name :`` / ``Password  :`` then a banner and the ``apc>`` prompt. SSH: the
  server authenticates, the shell starts at the banner. Prompt and login texts are
  [unverified]; they are options here (``prompt``, ``username_prompt``, ``password_prompt``).
- Commands: ``olStatus <n|all>``, ``olOn <n|all>``, ``olOff <n|all>``, ``olReboot <n|all>``,
  ``olName <n|all>``, ``about``, ``exit``/``quit``/``bye``. Every reply starts with a code line:
  ``E000: Success``, ``E101: Command Not Found``, ``E102: Parameter Error``,
  ``E104: User Level Denial``, ``E107: Serial Communication With The Rack PDU Has Been Lost``.
  Data lines such as `` 3: Codec: On`` follow the code [layout unverified].
- Outlets can be wired to other simulators (``options["outlets"] = {n: device_id}``): switching
  the outlet off calls ``power_off()`` on the device plugged into it, switching it on calls
  ``power_on()`` (the device boots after its own boot time). ``olReboot`` is off, the PDU's
  reboot duration (``options["reboot_duration"]``, seconds), then on.

Protocol fault knobs (``set_protocol_fault``): ``read-only`` (control commands answer E104, as
for a Device Manager account), ``comms-lost`` (every outlet command answers E107).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from typing import Any

from simulators.harness import DeviceSimulator, Server, SimConnection, SocketConnection, TcpServer
from simulators.host_keys import host_key_option

DEFAULT_OUTLETS = 8
LINE_END = re.compile(rb"[\r\n]")

CODES = {
    "E000": "Success",
    "E101": "Command Not Found",
    "E102": "Parameter Error",
    "E104": "User Level Denial",
    "E107": "Serial Communication With The Rack PDU Has Been Lost",
}


class Outlet:
    """One switched socket and what is plugged into it."""

    def __init__(self, number: int, name: str, target_id: str = "") -> None:
        self.number = number
        self.name = name
        self.on = True
        self.target_id = target_id          # device id to resolve lazily through the site
        self.target: DeviceSimulator | None = None


class ApcPduSimulator(DeviceSimulator):
    default_boot_time = 1.0

    def __init__(self, *, outlet_count: int = DEFAULT_OUTLETS, names: Mapping[int, str] | None = None,
                 transports: tuple[str, ...] = ("telnet",), ssh_port: int = 0,
                 reboot_duration: float = 5.0, model: str = "AP7920", serial: str = "ZA0000000001",
                 firmware: str = "v3.9.2", prompt: str = "apc>", username_prompt: str = "User Name : ",
                 password_prompt: str = "Password  : ", site: Any = None, host_key: Any = None,
                 **kw: Any) -> None:
        kw.setdefault("name", "apc-pdu")
        super().__init__(**kw)
        names = names or {}
        self.outlets: dict[int, Outlet] = {
            n: Outlet(n, names.get(n, f"Outlet {n}")) for n in range(1, outlet_count + 1)
        }
        self.transports = transports
        self.ssh_port = ssh_port
        self.reboot_duration = reboot_duration
        self.model = model
        self.serial = serial
        self.firmware = firmware
        self.prompt = prompt
        self.username_prompt = username_prompt
        self.password_prompt = password_prompt
        self.site = site
        self.host_key = host_key               # None: the SSH server makes a fresh one
        self.commands: list[str] = []       # every command line received, for tests
        self._outlet_lock = threading.Lock()
        self._reboot_timers: dict[int, threading.Timer] = {}

    @classmethod
    def from_spec(cls, spec: Any, site: Any = None) -> ApcPduSimulator:
        opts = dict(spec.options)
        transports = tuple(opts.get("transports") or (spec.transport,))
        names = {int(k): str(v) for k, v in (opts.get("names") or {}).items()}
        sim = cls(
            name=spec.device_id, host=spec.host, port=spec.port, username=spec.username,
            password=spec.password, boot_time=spec.boot_time,
            outlet_count=int(opts.get("outlet_count", DEFAULT_OUTLETS)), names=names,
            transports=transports, ssh_port=int(opts.get("ssh_port", 0)),
            reboot_duration=float(opts.get("reboot_duration", 5.0)),
            model=spec.identity.get("model", "AP7920"), serial=spec.identity.get("serial", "ZA0000000001"),
            firmware=spec.identity.get("firmware", "v3.9.2"),
            prompt=opts.get("prompt", "apc>"), site=site,
            host_key=host_key_option(opts) if "ssh" in transports else None,
        )
        for number, device_id in (opts.get("outlets") or {}).items():
            sim.wire(int(number), str(device_id))
        return sim

    # wiring ------------------------------------------------------------------------------------
    def wire(self, outlet: int, target: DeviceSimulator | str) -> None:
        """Plug a device (a simulator, or a device id the site resolves later) into an outlet."""
        socket_ = self.outlets[outlet]
        if isinstance(target, str):
            socket_.target_id, socket_.target = target, None
        else:
            socket_.target_id, socket_.target = getattr(target, "name", ""), target

    def _resolve(self, outlet: Outlet) -> DeviceSimulator | None:
        # The site builds every simulator before serving; a target missing at construction
        # is looked up again here, on first use.
        if outlet.target is None and outlet.target_id and self.site is not None:
            outlet.target = dict(getattr(self.site, "simulators", {}) or {}).get(outlet.target_id)
        return outlet.target

    # servers -----------------------------------------------------------------------------------
    def build_servers(self) -> list[Server]:
        servers: list[Server] = []
        if "telnet" in self.transports:
            servers.append(TcpServer(self, self.host, self.port, telnet=True))
        if "ssh" in self.transports:
            from simulators.ssh_server import SshServer  # only when a profile asks for SSH

            port = self.ssh_port if "telnet" in self.transports else self.port
            servers.append(SshServer(self, self.host, port, host_key=self.host_key))
        return servers

    # outlet state ------------------------------------------------------------------------------
    def switch(self, number: int, on: bool) -> None:
        """Switch one outlet and power the device plugged into it accordingly."""
        with self._outlet_lock:
            outlet = self.outlets[number]
            timer = self._reboot_timers.pop(number, None)
            if timer is not None:
                timer.cancel()
            changed = outlet.on != on
            outlet.on = on
        target = self._resolve(outlet)
        if changed and target is not None:
            if on:
                target.power_on()
            else:
                target.power_off()

    def reboot_outlet(self, number: int) -> None:
        self.switch(number, False)
        timer = threading.Timer(self.reboot_duration, self._reboot_done, args=(number,))
        timer.daemon = True
        with self._outlet_lock:
            self._reboot_timers[number] = timer
        timer.start()

    def _reboot_done(self, number: int) -> None:
        with self._outlet_lock:
            if self._reboot_timers.pop(number, None) is None or self.stopping:
                return
        self.switch(number, True)

    def stop(self) -> None:
        with self._outlet_lock:
            timers = list(self._reboot_timers.values())
            self._reboot_timers.clear()
        for timer in timers:
            timer.cancel()
        super().stop()

    # faults ------------------------------------------------------------------------------------
    def set_protocol_fault(self, knob: str, value: str) -> None:
        if knob in ("read-only", "comms-lost"):
            self.faults.extra[knob] = value or "1"
        else:
            super().set_protocol_fault(knob, value)

    # the session -------------------------------------------------------------------------------
    def handle_connection(self, conn: SimConnection) -> None:
        telnet = isinstance(conn, SocketConnection)
        if telnet and not self._telnet_login(conn):
            return
        conn.send(self._banner() + self.prompt + " ")
        while True:
            line = _read_line(conn, echo=True)
            command = line.strip()
            if not command:
                conn.send("\r\n" + self.prompt + " ")
                continue
            self.commands.append(command)
            if command.lower() in ("exit", "quit", "bye"):
                conn.send("\r\nBye.\r\n")
                return
            conn.send(self.execute(command) + self.prompt + " ")

    def _telnet_login(self, conn: SimConnection) -> bool:
        for _attempt in range(3):
            conn.send("\r\n" + self.username_prompt)
            user = _read_line(conn, echo=True).strip()
            conn.send(self.password_prompt)
            password = _read_line(conn, echo=False)
            if (user == self.username and password == self.password
                    and not self.faults.reject_password):
                return True
            conn.send("\r\n")
        conn.send("\r\nLogin failed.\r\n")
        return False

    def _banner(self) -> str:
        return (
            "\r\nAmerican Power Conversion               Network Management Card AOS      v3.9.2\r\n"
            f"(c) Copyright 2016 All Rights Reserved  RPDU APP                         {self.firmware}\r\n"
            "-------------------------------------------------------------------------------\r\n"
            f"Name      : {self.name:<40}Date : 01/01/2024\r\n"
            "Contact   : Unknown                                 User : Super User\r\n"
            "\r\nType ? for command listing\r\n\r\n"
        )

    def execute(self, command: str) -> str:
        """One command line -> its reply text (code line, data lines), CRLF-terminated."""
        verb, *args = command.split()
        handler = {
            "olstatus": self._ol_status, "olname": self._ol_name, "olon": self._ol_on,
            "oloff": self._ol_off, "olreboot": self._ol_reboot, "about": self._about,
        }.get(verb.lower())
        if handler is None:
            return _reply("E101")
        return handler(args)

    def _targets(self, args: list[str]) -> list[int] | None:
        if len(args) != 1:
            return None
        if args[0].lower() == "all":
            return sorted(self.outlets)
        numbers: list[int] = []
        for part in args[0].split(","):
            lo, _, hi = part.partition("-")
            if not lo.isdigit() or (hi and not hi.isdigit()):
                return None
            span = range(int(lo), int(hi or lo) + 1)
            if not span or any(n not in self.outlets for n in span):
                return None
            numbers.extend(span)
        return numbers

    def _outlet_command(self, args: list[str], action: str) -> str:
        numbers = self._targets(args)
        if numbers is None:
            return _reply("E102")
        if "read-only" in self.faults.extra:
            return _reply("E104")
        if "comms-lost" in self.faults.extra:
            return _reply("E107")
        for n in numbers:
            if action == "on":
                self.switch(n, True)
            elif action == "off":
                self.switch(n, False)
            else:
                self.reboot_outlet(n)
        return _reply("E000")

    def _ol_on(self, args: list[str]) -> str:
        return self._outlet_command(args, "on")

    def _ol_off(self, args: list[str]) -> str:
        return self._outlet_command(args, "off")

    def _ol_reboot(self, args: list[str]) -> str:
        return self._outlet_command(args, "reboot")

    def _ol_status(self, args: list[str]) -> str:
        numbers = self._targets(args)
        if numbers is None:
            return _reply("E102")
        if "comms-lost" in self.faults.extra:
            return _reply("E107")
        lines = [f"{n:2d}: {self.outlets[n].name}: {'On' if self.outlets[n].on else 'Off'}" for n in numbers]
        return _reply("E000", lines)

    def _ol_name(self, args: list[str]) -> str:
        numbers = self._targets(args[:1])
        if numbers is None:
            return _reply("E102")
        return _reply("E000", [f"{n:2d}: {self.outlets[n].name}" for n in numbers])

    def _about(self, args: list[str]) -> str:
        return _reply("E000", [
            "Hardware Factory", "---------------",
            f"Model Number:           {self.model}",
            f"Serial Number:          {self.serial}",
            "Hardware Revision:      B2", "",
            "Application Module", "---------------",
            "Name:                   rpdu",
            f"Version:                {self.firmware}",
        ])


def _reply(code: str, lines: list[str] | None = None) -> str:
    body = "".join(f"{line}\r\n" for line in lines or [])
    return f"\r\n{code}: {CODES[code]}\r\n{body}\r\n"


def _read_line(conn: SimConnection, *, echo: bool) -> str:
    """One typed line. CR LF, CR NUL and LF all end a line; the LF after a CR is swallowed."""
    while True:
        raw = conn.read_until(LINE_END)
        if raw == b"\n" and conn.state.pop("after_cr", False):
            continue  # the second half of a CR LF
        conn.state["after_cr"] = raw.endswith(b"\r")
        text = raw.rstrip(b"\r\n").replace(b"\x00", b"").decode("latin-1")
        if echo and text:
            conn.send_raw(text)  # a terminal echoes what is typed, whatever the fault knobs
        return text
