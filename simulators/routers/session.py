"""Branch-office routers: Cisco IOS and Huawei VRP command lines over SSH.

Written from what the two CLIs look like (not from our driver), to the point that unmodified
netmiko (device types ``cisco_ios`` and ``huawei``) drives them: the terminal echoes each line,
prompts change with the mode, unique abbreviations of exec commands work (``write mem``,
``dis cu``), errors look like the real ones.

Cisco IOS: ``R1>`` / ``R1#`` (``enable`` asks ``Password:``), ``R1(config)#``,
``R1(config-if)#``; ``terminal length|width``, ``show version``, ``show ip interface brief``,
``show running-config``, ``show startup-config``, ``ping <target> [repeat N]``,
``configure terminal``, ``end``, ``exit``, ``write memory``, ``copy running-config
startup-config``. Errors: ``% Invalid input detected at '^' marker.``

Huawei VRP: ``<R1>`` user view, ``[R1]`` system view, ``[R1-GigabitEthernet0/0/0]``;
``screen-length 0 temporary``, ``display version``, ``display esn``, ``display ip interface
brief``, ``display current-configuration``, ``display saved-configuration``, ``ping [-c N]
<target>``, ``system-view``, ``quit``, ``return``, ``save`` (asks ``Are you sure to
continue?[Y/N]``). Errors: ``Error: Unrecognized command found at '^' position.``

Configuration is real state: hostname/sysname, interfaces (address, description, shutdown),
and global lines (static routes, name servers, NTP, log hosts, domain name). ``write memory`` /
``save`` copy it to the startup configuration, which a reboot or power cycle loads again.

Options (``SimSpec.options``): ``hostname``, ``interfaces`` (``{name: {"address": "a.b.c.d/len",
"description": str, "shutdown": bool}}``), ``uplink`` (interface name), ``lines`` (initial
global lines in the dialect's syntax), ``reachable`` (ping targets that answer; default all),
``rtt_ms`` (a number, or ``{target: ms}``), ``enable_secret`` (IOS), ``privilege`` (IOS: 15
starts in ``#``).

Fault knobs (``set_protocol_fault``): ``uplink-down`` (carrier lost on the uplink),
``packet-loss=PERCENT``, ``unreachable=TARGET``, ``config-ignore=TEXT`` (configuration lines
containing TEXT are accepted but not applied: what makes read-back verification fail),
``save-fail`` (the startup configuration cannot be written).
"""

from __future__ import annotations

import copy
from typing import Any

from simulators.harness import DeviceSimulator, Server, SimConnection, SocketConnection, TcpServer
from simulators.host_keys import host_key_option
from simulators.routers.config import LINE_END, Interface, RouterConfig, parse_cidr
from simulators.ssh_server import SshServer


class RouterSimulator(DeviceSimulator):
    """State and session loop shared by both dialects; subclasses speak the CLI."""

    default_boot_time = 3.0
    default_hostname = "R1"
    default_interfaces: dict[str, dict[str, Any]] = {}
    default_lines: list[str] = []
    vendor_model = ""

    def __init__(self, *, hostname: str | None = None, interfaces: dict[str, dict[str, Any]] | None = None,
                 uplink: str | None = None, lines: list[str] | None = None,
                 reachable: list[str] | None = None, rtt_ms: float | dict[str, float] = 2.0,
                 model: str | None = None, serial: str = "FDO0000A0AA", firmware: str = "",
                 ssh_host_key: Any = None, transport: str = "ssh", **kw: Any) -> None:
        kw.setdefault("name", "router")
        if transport not in ("ssh", "telnet"):
            raise ValueError(f"routers are served over ssh or telnet, not {transport!r}")
        self.transport = transport
        super().__init__(**kw)
        config = RouterConfig(hostname or self.default_hostname)
        for name, spec in (interfaces or self.default_interfaces).items():
            iface = Interface(name, description=str(spec.get("description", "")),
                              shutdown=bool(spec.get("shutdown", False)))
            if spec.get("address"):
                iface.address, iface.mask = parse_cidr(str(spec["address"]))
            config.interfaces[name] = iface
        config.lines = list(self.default_lines if lines is None else lines)
        self.running = config
        self.startup = copy.deepcopy(config)
        self.uplink = uplink or next(iter(config.interfaces), "")
        self.reachable = None if reachable is None else set(reachable)
        self.rtt_ms = rtt_ms
        self.model = model or self.vendor_model
        self.serial = serial
        self.firmware = firmware
        self.ssh_host_key = ssh_host_key
        self.commands: list[str] = []         # every line typed, for tests
        self.saves = 0

    @classmethod
    def from_spec(cls, spec: Any, site: Any = None) -> RouterSimulator:
        opts = dict(spec.options)
        kwargs: dict[str, Any] = {
            "name": spec.device_id, "host": spec.host, "port": spec.port, "username": spec.username,
            "password": spec.password, "boot_time": spec.boot_time,
            "hostname": opts.get("hostname"), "interfaces": opts.get("interfaces"),
            "uplink": opts.get("uplink"), "lines": opts.get("lines"), "reachable": opts.get("reachable"),
            "rtt_ms": opts.get("rtt_ms", 2.0), "model": spec.identity.get("model"),
            "serial": spec.identity.get("serial", "FDO0000A0AA"),
            "ssh_host_key": host_key_option(opts),
            "transport": "telnet" if spec.transport == "telnet" else "ssh",
        }
        if spec.identity.get("firmware"):
            kwargs["firmware"] = spec.identity["firmware"]
        kwargs.update(cls._extra_options(opts))
        return cls(**kwargs)

    @classmethod
    def _extra_options(cls, opts: dict[str, Any]) -> dict[str, Any]:
        return {}

    def build_servers(self) -> list[Server]:
        if self.transport == "telnet":
            return [TcpServer(self, self.host, self.port, telnet=True)]
        return [SshServer(self, self.host, self.port, host_key=self.ssh_host_key)]

    # power and faults ---------------------------------------------------------------------------
    def on_boot(self) -> None:
        self.running = copy.deepcopy(self.startup)   # unsaved changes are lost on a restart

    def set_protocol_fault(self, knob: str, value: str) -> None:
        if knob in ("uplink-down", "save-fail"):
            self.faults.extra[knob] = "1"
        elif knob == "packet-loss":
            pct = float(value or 30)
            if not 0 <= pct <= 100:
                raise ValueError("packet-loss is a percentage")
            self.faults.extra[knob] = str(pct)
        elif knob in ("unreachable", "config-ignore"):
            if not value:
                raise ValueError(f"{knob} needs a value")
            self.faults.extra[knob] = value
        else:
            super().set_protocol_fault(knob, value)

    # state the CLIs show ------------------------------------------------------------------------
    def link_up(self, iface: Interface) -> bool:
        return not (iface.name == self.uplink and "uplink-down" in self.faults.extra)

    def uplink_ready(self) -> bool:
        iface = self.running.interfaces.get(self.uplink)
        return bool(iface and not iface.shutdown and self.link_up(iface) and iface.address)

    def ping_results(self, target: str, count: int) -> list[float | None]:
        """Round-trip time per echo (ms), None for a lost one."""
        answers = self.uplink_ready() and target != self.faults.extra.get("unreachable") and (
            self.reachable is None or target in self.reachable)
        rtt = self.rtt_ms.get(target, 2.0) if isinstance(self.rtt_ms, dict) else float(self.rtt_ms)
        loss_pct = float(self.faults.extra.get("packet-loss", 0))
        lost = round(count * loss_pct / 100)
        results: list[float | None] = []
        for i in range(count):
            # Spread the losses evenly so any count shows the configured share.
            is_lost = not answers or (lost and (i * lost) // count != ((i + 1) * lost) // count)
            if not is_lost:
                self.wait(rtt / 1000)   # the echo's time on the wire
            results.append(None if is_lost else rtt)
        return results

    def config_ignored(self, line: str) -> bool:
        text = self.faults.extra.get("config-ignore")
        return bool(text) and text in line

    def save(self) -> bool:
        if "save-fail" in self.faults.extra:
            return False
        self.startup = copy.deepcopy(self.running)
        self.saves += 1
        return True

    # the session loop ---------------------------------------------------------------------------
    def handle_connection(self, conn: SimConnection) -> None:
        if isinstance(conn, SocketConnection) and conn.telnet and not self.telnet_login(conn):
            return
        conn.state["mode"] = self.initial_mode()
        conn.send(self.login_banner())
        conn.send(self.prompt(conn))
        while True:
            line = self.read_line(conn)
            self.commands.append(line)
            if not self.execute(conn, line.strip()):
                return
            conn.send(self.prompt(conn))

    def read_line(self, conn: SimConnection, *, echo: bool = True) -> str:
        """One typed line; echoed as a terminal does (the echo is the tty's, not the CLI's, so
        the ``silent`` fault does not stop it). CR LF counts as one line end."""
        while True:
            raw = conn.read_until(LINE_END)
            if raw == b"\n" and conn.state.pop("after_cr", False):
                continue
            conn.state["after_cr"] = raw.endswith(b"\r")
            text = raw.rstrip(b"\r\n").decode("utf-8", "replace")
            conn.send_raw((text if echo else "") + "\r\n")
            return text

    def telnet_login(self, conn: SimConnection) -> bool:
        """The VTY login a Telnet session starts with (SSH authenticates in the protocol):
        ``Username:`` echoed, ``Password:`` not; three wrong attempts close the line."""
        conn.send(self.telnet_greeting())
        for _attempt in range(3):
            conn.send_raw("Username:" + (" " if self.telnet_prompt_space else ""))
            user = self.read_line(conn)
            conn.send_raw("Password:" + (" " if self.telnet_prompt_space else ""))
            given = self.read_line(conn, echo=False)
            if user == self.username and given == self.password and not self.faults.reject_password:
                return True
            conn.send(self.telnet_login_failed())
        conn.close()
        return False

    #: IOS shows "Username: " (a space after the colon), VRP "Username:".
    telnet_prompt_space = True

    def telnet_greeting(self) -> str:
        return "\r\n"

    def telnet_login_failed(self) -> str:
        return "\r\n% Login invalid\r\n\r\n"

    # dialect hooks --------------------------------------------------------------------------------
    def initial_mode(self) -> str:
        raise NotImplementedError

    def login_banner(self) -> str:
        return ""

    def prompt(self, conn: SimConnection) -> str:
        raise NotImplementedError

    def execute(self, conn: SimConnection, line: str) -> bool:
        """Run one line; False ends the session."""
        raise NotImplementedError

    # configuration shared by both dialects -------------------------------------------------------
    def set_global_line(self, line: str, *, remove: bool = False) -> None:
        lines = self.running.lines
        if remove:
            # "no ntp server 1.2.3.4" removes that line; a bare prefix removes all that start so.
            self.running.lines = [x for x in lines if x != line and not x.startswith(line + " ")]
        elif line not in lines:
            lines.append(line)

