"""Poly (Polycom) RealPresence Group Series codec: the telnet API on port 24.

Written from protocols.md section 2, not from the driver. Session: optional ``User:`` prompt
(spec option ``login_prompt: user``), ``Password:`` (skipped when the unit has no password),
``-- login failed, retry --`` on a wrong one, then the welcome block (``Hi, my name is : <name>``,
``Here is what I know about myself:``, key/value lines) ending with the ``-> `` prompt.
Commands end with CR (CRLF accepted); every reply line ends CRLF.

Facts marked [unverified] in the notes and chosen here: the ``Hi, my name is : `` separator, the
``-> `` prompt closing the welcome/whoami block, ``status`` ending with ``status end``, the
unknown-command text ``error: command not found``, SIP settings named ``sipaddress``,
``sipusername``, ``sippassword``, ``sipregistrarserver`` under ``systemsetting``, network
changes taking effect at the next restart, Q.850-style cause codes in callstatus notifications
(16 normal clearing, 17 busy, 1 unallocated number, 21 rejected, 38 network out of order).

Notifications (``notify callstatus``, ``sleep register``, ``mute register``) are per session
here and vanish on reconnect.
"""

from __future__ import annotations

import re
import shlex
import time
from typing import Any, Self

from simulators.codec_common import (
    CodecOptions,
    CodecSimulator,
    SimCall,
    broadcast,
    options_from_spec,
    writer_of,
)
from simulators.fabric import CallFabric, Cause, DialFailed
from simulators.harness import ConnectionClosed, PtyServer, Server, SimConnection, TcpServer
from simulators.host_keys import host_key_option
from simulators.spec import SimSpec

CRLF = "\r\n"
PROMPT = "-> "
CAUSE_CODES: dict[Cause, int] = {
    Cause.LOCAL: 16, Cause.REMOTE: 16, Cause.BUSY: 17, Cause.REJECTED: 21, Cause.NO_ANSWER: 19,
    Cause.UNKNOWN_REMOTE: 1, Cause.NETWORK: 38,
}
NOTIFY_KINDS = ("callstatus", "linestatus", "mutestatus", "sysstatus", "vidsourcechanges")


class PolyGroupSimulator(CodecSimulator):
    default_boot_time = 3.0

    def __init__(self, *, telnet_port: int = 0, login_prompt: str = "password",
                 software: str = "Release 6.2.2 - 28Sep2020 12:00", ssh: bool = False, ssh_port: int = 0,
                 host_key: Any = None, serial_link: str | None = None, serial: bool = False,
                 baudrate: int = 9600, **kw: Any) -> None:
        kw.setdefault("options", CodecOptions(model="RealPresence Group 500", firmware="6.2.2"))
        super().__init__(**kw)
        self.serial = serial                   # RS-232 in Control mode instead of the LAN API
        self.serial_link = serial_link
        self.baudrate = baudrate
        self.telnet_port = telnet_port
        self.ssh = ssh
        self.ssh_port = ssh_port
        self.host_key = host_key               # None: the SSH server makes a fresh one
        self.command_times: list[float] = []   # arrival of each command: lets tests check pacing
        self.login_prompt = login_prompt
        self.software = software

    @classmethod
    def from_spec(cls, spec: SimSpec, site: Any = None) -> Self:
        fabric: CallFabric | None = getattr(site, "fabric", None) if site is not None else None
        opts = options_from_spec(spec, model="RealPresence Group 500", firmware="6.2.2")
        over_ssh = spec.transport == "ssh"
        telnet_port = int(spec.options.get("telnet_port", 24)) if over_ssh else (spec.port or 24)
        ssh_port = (spec.port or 22) if over_ssh else int(spec.options.get("ssh_port", 22))
        return cls(name=spec.device_id, host=spec.host, port=telnet_port, username=spec.username,
                   password=spec.password, boot_time=spec.boot_time, options=opts, fabric=fabric,
                   telnet_port=telnet_port, ssh=over_ssh or bool(spec.options.get("ssh", False)),
                   ssh_port=ssh_port, login_prompt=str(spec.options.get("login_prompt", "password")),
                   host_key=host_key_option(spec.options) if over_ssh else None,
                   serial=spec.transport == "serial", serial_link=spec.serial_link or None,
                   baudrate=spec.baudrate)

    def build_servers(self) -> list[Server]:
        if self.serial:
            return [PtyServer(self, baudrate=self.baudrate, link=self.serial_link)]
        servers: list[Server] = [TcpServer(self, self.host, self.port or self.telnet_port, telnet=True)]
        if self.ssh:
            from simulators.ssh_server import SshServer

            # Group Series also offers the API over SSH: SSH does the login, then the welcome.
            servers.append(SshServer(self, self.host, self.ssh_port, host_key=self.host_key))
        return servers

    # session -------------------------------------------------------------------------------------
    def handle_connection(self, conn: SimConnection) -> None:
        out = writer_of(conn)
        over_ssh = type(conn).__name__ == "SshConnection"
        if self.serial:
            # A serial port sends nothing until something is typed [unverified for HDX/GS]; the
            # line then keeps its session (registrations, login) until the unit restarts.
            conn.read_until(re.compile(rb"\r\n|\r|\n"))
        if not over_ssh and not self._login(conn):
            return
        out.send(self.welcome_block())
        conn.state["notify"] = set()
        while True:
            raw = conn.read_until(re.compile(rb"\r\n|\r|\n"))
            line = raw.decode("utf-8", "replace").strip()
            if line.startswith(PROMPT.strip()):
                line = line[len(PROMPT.strip()):].strip()
            if not line:
                continue
            if self.down:
                return
            self.command_times.append(time.monotonic())
            self.execute(conn, line)

    def move_to(self, host: str) -> None:
        if self.serial:
            self.host = host   # the RS-232 line keeps its session when the IP address changes
            return
        super().move_to(host)

    def _login(self, conn: SimConnection) -> bool:
        if not self.password and not self.faults.reject_password:
            return True
        for _attempt in range(3):
            if self.login_prompt == "user":
                conn.send_raw("User: ")
                conn.read_until(re.compile(rb"\r\n|\r|\n"), timeout=60)
            conn.send_raw("Password: ")
            given = conn.read_until(re.compile(rb"\r\n|\r|\n"), timeout=60).decode("utf-8", "replace").strip()
            if given == self.password and not self.faults.reject_password:
                conn.send_raw(CRLF)
                return True
            conn.send_raw(CRLF + "-- login failed, retry --" + CRLF)
        conn.close()
        return False

    def welcome_block(self) -> str:
        s = self.settings
        lines = [
            f"Hi, my name is : {s['system.name']}",
            "Here is what I know about myself:",
            f"Model: {self.opts.model}",
            f"Serial Number: {self.opts.serial}",
            f"Software Version: {self.software}",
            f"Build Information: {self.opts.firmware}",
            f"FQDN: {s['system.name'].replace(' ', '-').lower()}.local",
            f"IP Address: {s['network.ipv4.address']}",
            f"SIP Address: {s['sip.uri']}",
            f"H323 Name: {s['h323.alias']}",
        ]
        return CRLF.join(lines) + CRLF + PROMPT

    # commands ------------------------------------------------------------------------------------
    def execute(self, conn: SimConnection, line: str) -> None:
        out = writer_of(conn)
        try:
            words = shlex.split(line)
        except ValueError:
            out.send("error: invalid command syntax" + CRLF)
            return
        if not words:
            return
        cmd, args = words[0].lower(), words[1:]
        handler = getattr(self, f"cmd_{cmd}", None)
        if handler is None:
            out.send("error: command not found" + CRLF)   # [unverified] exact text
            return
        reply = handler(conn, args)
        if reply is not None:
            out.send(reply)

    def cmd_whoami(self, conn: SimConnection, args: list[str]) -> str | None:
        return self.welcome_block()

    def cmd_version(self, conn: SimConnection, args: list[str]) -> str | None:
        return f"version {self.opts.firmware}" + CRLF

    def cmd_systemsetting(self, conn: SimConnection, args: list[str]) -> str | None:
        names = {"sipaddress": "sip.uri", "sipregistrarserver": "sip.proxy", "sipusername": "sip.username",
                 "sippassword": "sip.password", "model": None}
        if not args:
            return "error: invalid command syntax" + CRLF
        if args[0].lower() == "get" and len(args) == 2:
            name = args[1].lower()
            if name not in names:
                return "error: command not found" + CRLF
            key = names[name]
            if key is None:
                return f'systemsetting model "{self.opts.model}"' + CRLF
            value = "****" if key == "sip.password" and self.settings[key] else self.settings[key]
            return f"systemsetting {name} {value}" + CRLF
        name = args[0].lower()
        if name not in names or names[name] is None or len(args) != 2:
            return "error: command not found" + CRLF
        self.set_setting(names[name], args[1])
        shown = "****" if name == "sippassword" else args[1]
        return f"systemsetting {name} {shown}" + CRLF

    def _get_set(self, name: str, key: str, args: list[str]) -> str:
        if args[:1] == ["get"] and len(args) == 1:
            return f"{name} {self.settings[key]}" + CRLF
        if args[:1] == ["set"] and len(args) == 2:
            self.set_setting(key, args[1])
            return f"{name} {args[1]}" + CRLF
        return "error: invalid command syntax" + CRLF

    def cmd_ipaddress(self, conn: SimConnection, args: list[str]) -> str | None:
        return self._get_set("ipaddress", "network.ipv4.address", args)

    def cmd_subnetmask(self, conn: SimConnection, args: list[str]) -> str | None:
        return self._get_set("subnetmask", "network.ipv4.mask", args)

    def cmd_defaultgateway(self, conn: SimConnection, args: list[str]) -> str | None:
        return self._get_set("defaultgateway", "network.ipv4.gateway", args)

    def cmd_gatekeeperip(self, conn: SimConnection, args: list[str]) -> str | None:
        return self._get_set("gatekeeperip", "h323.gatekeeper", args)

    def cmd_h323name(self, conn: SimConnection, args: list[str]) -> str | None:
        return self._get_set("h323name", "h323.alias", args)

    def cmd_systemname(self, conn: SimConnection, args: list[str]) -> str | None:
        return self._get_set("systemname", "system.name", args)

    def cmd_dnsserver(self, conn: SimConnection, args: list[str]) -> str | None:
        if args[:2] == ["get", "1"]:
            return f"dnsserver 1 {self.settings['network.dns']}" + CRLF
        if args[:2] == ["set", "1"] and len(args) == 3:
            self.set_setting("network.dns", args[2])
            return f"dnsserver 1 {args[2]}" + CRLF
        return "error: invalid command syntax" + CRLF

    def cmd_dhcp(self, conn: SimConnection, args: list[str]) -> str | None:
        if args == ["get"]:
            return ("dhcp client" if self.settings["network.assignment"] == "DHCP" else "dhcp off") + CRLF
        if args in (["off"], ["client"]):
            self.set_setting("network.assignment", "DHCP" if args[0] == "client" else "Static")
            return f"dhcp {args[0]}" + CRLF
        return "error: invalid command syntax" + CRLF

    def cmd_status(self, conn: SimConnection, args: list[str]) -> str | None:
        def on(flag: bool) -> str:
            return "online" if flag else "offline"

        rows = [
            ("inacall", on(bool(self.active_calls()))),
            ("autoanswerp2p", on(self.auto_answer)),
            ("remotecontrol", "online"),
            ("microphones", on("diagnostics" not in self.faults.extra)),
            ("visualboard", "offline"),
            ("globaldirectory", "online"),
            ("ipnetwork", "online"),
            ("gatekeeper", on(self.h323_status() == "Registered")),
            ("sipserver", on(self.sip_status() == "Registered")),
            ("logthreshold", "offline"),
            ("meetingpassword", "offline"),
            ("rpms", "offline"),
        ]
        return "".join(f"{name} {state}{CRLF}" for name, state in rows) + "status end" + CRLF

    def cmd_callinfo(self, conn: SimConnection, args: list[str]) -> str | None:
        calls = self.active_calls()
        if args[:1] == ["callid"] and len(args) == 2:
            calls = [c for c in calls if str(c.call_id) == args[1]]
        elif args != ["all"]:
            return "error: invalid command syntax" + CRLF
        if not calls:
            return "system is not in a call" + CRLF
        rows = [f"callinfo:{c.call_id}:{c.remote_name or c.remote_uri}:{c.remote_uri}:{c.rate}:"
                f"{_poly_state(c)}:{'muted' if self.mic_mute else 'notmuted'}:{c.direction}:videocall"
                for c in calls]
        return "callinfo begin" + CRLF + CRLF.join(rows) + CRLF + "callinfo end" + CRLF

    def cmd_dial(self, conn: SimConnection, args: list[str]) -> str | None:
        if len(args) < 3 or args[0] != "manual":
            return "error: invalid command syntax" + CRLF
        speed, dialstr = args[1], args[2]
        protocol = args[3].lower() if len(args) > 3 else "sip"
        rate = self.max_rate if speed == "auto" else int(speed) if speed.isdigit() else -1
        if rate <= 0 or protocol not in ("sip", "h323"):
            return "error: invalid command syntax" + CRLF
        try:
            call = self.start_call(dialstr, protocol, rate)
        except DialFailed as exc:
            return f"info: {exc.text}" + CRLF
        writer_of(conn).send("dialing manual" + CRLF)
        self.connect_call(call)
        return None

    def cmd_hangup(self, conn: SimConnection, args: list[str]) -> str | None:
        if args == ["all"]:
            writer_of(conn).send("hanging up all" + CRLF)
            self.hangup(None)
            return None
        if args[:1] == ["video"] and len(args) <= 2:
            writer_of(conn).send("hanging up video" + CRLF)
            target = int(args[1]) if len(args) == 2 and args[1].isdigit() else None
            self.hangup(target)
            return None
        return "error: invalid command syntax" + CRLF

    def cmd_answer(self, conn: SimConnection, args: list[str]) -> str | None:
        if args != ["video"]:
            return "error: invalid command syntax" + CRLF
        writer_of(conn).send("answer incoming video call" + CRLF)
        self.answer(None)
        return None

    def cmd_preset(self, conn: SimConnection, args: list[str]) -> str | None:
        if len(args) != 3 or args[0] != "near" or args[1] not in ("go", "set") or not args[2].isdigit():
            return "error: invalid command syntax" + CRLF
        n = int(args[2])
        if not 0 <= n <= 99:
            return "error: invalid preset number" + CRLF
        with self.state_lock:
            if args[1] == "set":
                self.presets[n] = self.camera_position
            else:
                self.camera_position = self.presets.get(n, 0)
        return f"preset near {args[1]} {n}" + CRLF

    def cmd_camera(self, conn: SimConnection, args: list[str]) -> str | None:
        if len(args) == 2 and args[0] == "near" and args[1].isdigit() and 1 <= int(args[1]) <= 6:
            self.main_source = int(args[1])
            return f"camera near {args[1]}" + CRLF
        if len(args) == 3 and args[:2] == ["near", "move"]:
            with self.state_lock:
                self.camera_position += 1
            return f"event: camera near move {args[2]}" + CRLF
        return "error: invalid command syntax" + CRLF

    def cmd_mute(self, conn: SimConnection, args: list[str]) -> str | None:
        if len(args) != 2 or args[0] != "near" or args[1] not in ("on", "off", "toggle", "get"):
            return "error: invalid command syntax" + CRLF
        if args[1] != "get":
            self.mic_mute = (not self.mic_mute) if args[1] == "toggle" else args[1] == "on"
        return f"mute near {'on' if self.mic_mute else 'off'}" + CRLF

    def cmd_volume(self, conn: SimConnection, args: list[str]) -> str | None:
        if args == ["get"]:
            return f"volume {self.volume}" + CRLF
        if len(args) == 2 and args[0] == "set" and args[1].isdigit() and 0 <= int(args[1]) <= 50:
            self.volume = int(args[1])
            return f"volume {self.volume}" + CRLF
        return "error: invalid command syntax" + CRLF

    def cmd_vcbutton(self, conn: SimConnection, args: list[str]) -> str | None:
        if args[:1] == ["play"] and len(args) <= 2:
            self.presentation_source = int(args[1]) if len(args) == 2 and args[1].isdigit() else 2
            return f"vcbutton play {self.presentation_source}" + CRLF
        if args == ["stop"]:
            self.presentation_source = None
            return "vcbutton stop" + CRLF
        if args == ["get"]:
            return ("vcbutton play" if self.presentation_source else "vcbutton stop") + CRLF
        return "error: invalid command syntax" + CRLF

    def cmd_sleep(self, conn: SimConnection, args: list[str]) -> str | None:
        if args == ["register"]:
            conn.state.setdefault("notify", set()).add("sleep")  # type: ignore[union-attr]
            return "sleep registered" + CRLF
        if args:
            return "error: invalid command syntax" + CRLF
        self._set_standby(True)
        return "sleeping" + CRLF

    def cmd_wake(self, conn: SimConnection, args: list[str]) -> str | None:
        self._set_standby(False)
        return "waking up" + CRLF

    def _set_standby(self, on: bool) -> None:
        if self.standby == on:
            return
        self.standby = on
        event = "listen going to sleep" if on else "listen waking up"
        broadcast(self, lambda c: event + CRLF if "sleep" in c.state.get("notify", set()) else None)

    def cmd_notify(self, conn: SimConnection, args: list[str]) -> str | None:
        if len(args) != 1 or args[0] not in NOTIFY_KINDS:
            return "error: invalid command syntax" + CRLF
        active: set[str] = conn.state.setdefault("notify", set())  # type: ignore[assignment]
        if args[0] in active:
            return f"info: event/notification already active:{args[0]}" + CRLF
        active.add(args[0])
        return f"notify {args[0]} success" + CRLF

    def cmd_nonotify(self, conn: SimConnection, args: list[str]) -> str | None:
        if len(args) != 1 or args[0] not in NOTIFY_KINDS:
            return "error: invalid command syntax" + CRLF
        conn.state.setdefault("notify", set()).discard(args[0])  # type: ignore[union-attr]
        return f"nonotify {args[0]} success" + CRLF

    def cmd_reboot(self, conn: SimConnection, args: list[str]) -> str | None:
        if args != ["now"]:
            # The prompting form needs an interactive answer; the API documents "reboot now".
            return "error: invalid command syntax" + CRLF
        if not self.reboot_command():
            return None
        raise ConnectionClosed("rebooting")

    # notifications -------------------------------------------------------------------------------
    def call_changed(self, call: SimCall) -> None:
        states = {"dialling": "opened", "ringing": "ringing", "connected": "connected"}
        cause = 0
        if call.state == "ended":
            cause = CAUSE_CODES.get(call.cause or Cause.LOCAL, 16)
            lines = [self._callstatus(call, "disconnecting", cause), self._callstatus(call, "disconnected",
                                                                                      cause)]
        else:
            lines = [self._callstatus(call, states.get(call.state, call.state), cause)]
        text = CRLF.join(lines) + CRLF
        broadcast(self, lambda c: text if "callstatus" in c.state.get("notify", set()) else None)

    @staticmethod
    def _callstatus(call: SimCall, state: str, cause: int) -> str:
        name = call.remote_name or call.remote_uri
        speed = call.rate if state not in ("opened",) else 0
        return (f"notification:callstatus:{call.direction}:{call.call_id}:{name}:{call.remote_uri}:"
                f"{state}:{speed}:{cause}:videocall")


def _poly_state(call: SimCall) -> str:
    return {"dialling": "connecting", "ringing": "ringing", "connected": "connected"}.get(call.state,
                                                                                          call.state)
