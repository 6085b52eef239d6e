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
import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any

from simulators.harness import DeviceSimulator, Server, SimConnection
from simulators.host_keys import host_key_option
from simulators.ssh_server import SshServer

LINE_END = re.compile(rb"[\r\n]")


@dataclass
class Interface:
    name: str
    address: str | None = None      # "a.b.c.d"
    mask: str | None = None         # "255.255.255.0"
    description: str = ""
    shutdown: bool = False


@dataclass
class RouterConfig:
    hostname: str
    interfaces: dict[str, Interface] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)   # global lines in order, dialect syntax


def _parse_cidr(text: str) -> tuple[str, str]:
    iface = ipaddress.IPv4Interface(text)
    return str(iface.ip), str(iface.netmask)


def _mask(text: str) -> str | None:
    """A dotted mask or a prefix length -> dotted mask; None if neither."""
    try:
        return str(ipaddress.IPv4Network(f"0.0.0.0/{text}").netmask)
    except ValueError:
        return None


def _valid_ip(text: str) -> bool:
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return True


def match_command(words: list[str], table: list[tuple[str, ...]]) -> tuple[tuple[str, ...] | None, str]:
    """Match typed words against command keywords by unique prefix (``sh ip int br``).

    A keyword ``*`` takes the rest of the words as arguments. Returns (entry, "") or
    (None, "invalid" | "ambiguous" | "incomplete")."""
    found: list[tuple[str, ...]] = []
    incomplete = False
    for entry in table:
        ok = True
        for i, keyword in enumerate(entry):
            if keyword == "*":
                break
            if i >= len(words):
                ok, incomplete = False, True
                break
            if not keyword.startswith(words[i].lower()):
                ok = False
                break
        else:
            if len(words) > len(entry):
                ok = False
        if ok:
            found.append(entry)
    exact = [e for e in found if all(k == "*" or k == w.lower() for k, w in zip(e, words, strict=False))]
    if len(found) == 1:
        return found[0], ""
    if len(exact) == 1:
        return exact[0], ""
    if found:
        return None, "ambiguous"
    return None, "incomplete" if incomplete else "invalid"


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
                 ssh_host_key: Any = None, **kw: Any) -> None:
        kw.setdefault("name", "router")
        super().__init__(**kw)
        config = RouterConfig(hostname or self.default_hostname)
        for name, spec in (interfaces or self.default_interfaces).items():
            iface = Interface(name, description=str(spec.get("description", "")),
                              shutdown=bool(spec.get("shutdown", False)))
            if spec.get("address"):
                iface.address, iface.mask = _parse_cidr(str(spec["address"]))
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
        }
        if spec.identity.get("firmware"):
            kwargs["firmware"] = spec.identity["firmware"]
        kwargs.update(cls._extra_options(opts))
        return cls(**kwargs)

    @classmethod
    def _extra_options(cls, opts: dict[str, Any]) -> dict[str, Any]:
        return {}

    def build_servers(self) -> list[Server]:
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


# -- Cisco IOS ------------------------------------------------------------------------------------
IOS_EXEC: list[tuple[str, ...]] = [
    ("enable",), ("disable",), ("exit",), ("logout",), ("quit",),
    ("terminal", "length", "*"), ("terminal", "width", "*"),
    ("show", "version"), ("show", "ip", "interface", "brief"), ("show", "running-config"),
    ("show", "startup-config"), ("ping", "*"), ("configure", "terminal"),
    ("write", "memory"), ("copy", "running-config", "startup-config"),
]
IOS_PRIVILEGED = {("disable",), ("show", "running-config"), ("show", "startup-config"),
                  ("configure", "terminal"), ("write", "memory"),
                  ("copy", "running-config", "startup-config")}
IOS_GLOBAL_PREFIXES = ("ip route ", "ip name-server ", "ntp server ", "logging host ", "ip domain name ",
                       "ip domain-name ", "snmp-server location ", "snmp-server contact ")
IOS_INVALID = "% Invalid input detected at '^' marker.\r\n"


class CiscoIosSimulator(RouterSimulator):
    vendor_model = "ISR4331/K9"
    default_interfaces = {
        "GigabitEthernet0/0/0": {"address": "203.0.113.2/30", "description": "uplink"},
        "GigabitEthernet0/0/1": {"address": "192.168.10.1/24", "description": "room LAN"},
        "GigabitEthernet0/0/2": {"shutdown": True},
    }
    default_lines = ["ip route 0.0.0.0 0.0.0.0 203.0.113.1"]

    def __init__(self, *, enable_secret: str | None = None, privilege: int = 1, **kw: Any) -> None:
        kw.setdefault("firmware", "16.9.4")
        super().__init__(**kw)
        self.enable_secret = self.password if enable_secret is None else enable_secret
        self.privilege = privilege

    @classmethod
    def _extra_options(cls, opts: dict[str, Any]) -> dict[str, Any]:
        extra: dict[str, Any] = {"privilege": int(opts.get("privilege", 1))}
        if "enable_secret" in opts:
            extra["enable_secret"] = str(opts["enable_secret"])
        return extra

    def initial_mode(self) -> str:
        return "enable" if self.privilege >= 15 else "user"

    def login_banner(self) -> str:
        return "\r\n"

    def prompt(self, conn: SimConnection) -> str:
        host = self.running.hostname
        mode = conn.state["mode"]
        if mode == "config":
            return f"{host}(config)#"
        if mode == "config-if":
            return f"{host}(config-if)#"
        return f"{host}#" if mode == "enable" else f"{host}>"

    def execute(self, conn: SimConnection, line: str) -> bool:
        if not line:
            return True
        mode = conn.state["mode"]
        if mode in ("config", "config-if"):
            conn.send(self.configure(conn, line))
            return True
        entry, problem = match_command(line.split(), IOS_EXEC)
        if entry is None or (entry in IOS_PRIVILEGED and mode != "enable"):
            conn.send(self._exec_error(problem or "invalid", line))
            return True
        args = line.split()[len([k for k in entry if k != "*"]):]
        head = entry[0]
        if head in ("exit", "logout", "quit"):
            return False
        if head == "enable":
            self._enable(conn)
        elif head == "disable":
            conn.state["mode"] = "user"
        elif head == "terminal":
            pass
        elif entry == ("show", "version"):
            conn.send(self.show_version())
        elif entry == ("show", "ip", "interface", "brief"):
            conn.send(self.show_ip_interface_brief())
        elif entry == ("show", "running-config"):
            conn.send(self.render(self.running, running=True))
        elif entry == ("show", "startup-config"):
            conn.send(self.render(self.startup, running=False))
        elif head == "ping":
            conn.send(self.ping(args))
        elif head == "configure":
            conn.state["mode"] = "config"
            conn.send("Enter configuration commands, one per line.  End with CNTL/Z.\r\n")
        elif head == "write":
            conn.send(self._write())
        elif head == "copy":
            conn.send("Destination filename [startup-config]? ")
            self.read_line(conn)
            conn.send(self._write())
        return True

    def _exec_error(self, problem: str, line: str) -> str:
        if problem == "ambiguous":
            return f'% Ambiguous command:  "{line}"\r\n'
        if problem == "incomplete":
            return "% Incomplete command.\r\n\r\n"
        return f"        ^\r\n{IOS_INVALID}\r\n"

    def _enable(self, conn: SimConnection) -> None:
        if conn.state["mode"] == "enable":
            return
        for _ in range(3):
            conn.send("Password: ")
            if self.read_line(conn, echo=False) == self.enable_secret:
                conn.state["mode"] = "enable"
                return
        conn.send("% Bad secrets\r\n\r\n")

    def _write(self) -> str:
        if not self.save():
            return ("Building configuration...\r\n"
                    "%Error writing nvram:startup-config (No space left on device)\r\n")
        return "Building configuration...\r\n[OK]\r\n"

    def show_version(self) -> str:
        host = self.running.hostname
        return (
            "Cisco IOS XE Software, Version " + self.firmware + "\r\n"
            f"Cisco IOS Software [Fuji], ISR Software (X86_64_LINUX_IOSD-UNIVERSALK9-M), "
            f"Version {self.firmware}, RELEASE SOFTWARE (fc2)\r\n"
            "Technical Support: http://www.cisco.com/techsupport\r\n"
            "Copyright (c) 1986-2019 by Cisco Systems, Inc.\r\n\r\n"
            f"{host} uptime is {self.boot_count} days, 2 hours, 3 minutes\r\n"
            "System image file is \"bootflash:isr4300-universalk9.16.09.04.SPA.bin\"\r\n\r\n"
            f"cisco {self.model} (1RU) processor with 1795999K/6147K bytes of memory.\r\n"
            f"Processor board ID {self.serial}\r\n"
            f"{len(self.running.interfaces)} Gigabit Ethernet interfaces\r\n"
            "Configuration register is 0x2102\r\n\r\n"
        )

    def _status(self, iface: Interface) -> tuple[str, str]:
        if iface.shutdown:
            return "administratively down", "down"
        if not self.link_up(iface):
            return "down", "down"
        return "up", "up"

    def show_ip_interface_brief(self) -> str:
        rows = [f"{'Interface':<27}{'IP-Address':<16}OK? Method Status                Protocol"]
        for iface in self.running.interfaces.values():
            status, proto = self._status(iface)
            addr = iface.address or "unassigned"
            method = "manual" if iface.address else "unset "
            rows.append(f"{iface.name:<27}{addr:<16}YES {method} {status:<22}{proto}")
        return "\r\n".join(rows) + "\r\n"

    def render(self, config: RouterConfig, *, running: bool) -> str:
        size = "Current configuration : 1536 bytes" if running else "Using 1536 out of 262144 bytes"
        out = ["Building configuration...", "", size, "!", "version 16.9",
               "service timestamps debug datetime msec", "!", f"hostname {config.hostname}", "!"]
        for line in config.lines:
            if not line.startswith("ip route"):
                out.append(line)
        out.append("!")
        for iface in config.interfaces.values():
            out.append(f"interface {iface.name}")
            if iface.description:
                out.append(f" description {iface.description}")
            out.append(f" ip address {iface.address} {iface.mask}" if iface.address else " no ip address")
            if iface.shutdown:
                out.append(" shutdown")
            out.append("!")
        out.extend(line for line in config.lines if line.startswith("ip route"))
        out += ["!", "line vty 0 4", " transport input ssh", "!", "end", ""]
        return "\r\n".join(out) + "\r\n"

    def ping(self, args: list[str]) -> str:
        if not args:
            return "% Incomplete command.\r\n\r\n"
        target, count = args[0], 5
        if len(args) >= 3 and args[1].lower().startswith("rep") and args[2].isdigit():
            count = max(1, min(int(args[2]), 1000))
        if not _valid_ip(target):
            return (f'Translating "{target}"\r\n'
                    "% Unrecognized host or address, or protocol not running.\r\n\r\n")
        results = self.ping_results(target, count)
        got = [r for r in results if r is not None]
        marks = "".join("!" if r is not None else "." for r in results)
        text = ("Type escape sequence to abort.\r\n"
                f"Sending {count}, 100-byte ICMP Echos to {target}, timeout is 2 seconds:\r\n{marks}\r\n"
                f"Success rate is {len(got) * 100 // count} percent ({len(got)}/{count})")
        if got:
            avg = int(sum(got) / len(got))
            text += f", round-trip min/avg/max = {int(min(got))}/{avg}/{int(max(got))} ms"
        return text + "\r\n"

    # configuration mode --------------------------------------------------------------------------
    def configure(self, conn: SimConnection, line: str) -> str:
        words = line.split()
        head = words[0].lower()
        if head == "end":
            conn.state["mode"] = "enable"
            return ""
        if head == "exit":
            conn.state["mode"] = "config" if conn.state["mode"] == "config-if" else "enable"
            return ""
        if conn.state["mode"] == "config-if":
            handled, error = self._interface_command(conn, line)
            if handled:
                return error
        error = self._global_command(conn, line)
        if not error and conn.state["mode"] == "config-if" and not line.startswith("interface "):
            conn.state["mode"] = "config"   # a global command leaves interface mode, as on IOS
        return error

    def _interface_command(self, conn: SimConnection, line: str) -> tuple[bool, str]:
        iface = self.running.interfaces.get(str(conn.state.get("interface")))
        if iface is None:
            return False, ""
        negate = line.startswith("no ")
        body = line[3:] if negate else line
        words = body.split()
        if not words:
            return True, IOS_INVALID
        ignored = self.config_ignored(line)
        if words[0] == "ip" and len(words) >= 2 and words[1] == "address":
            if negate:
                if not ignored:
                    iface.address = iface.mask = None
                return True, ""
            if len(words) != 4 or not _valid_ip(words[2]) or _mask(words[3]) is None:
                return True, IOS_INVALID
            if not ignored:
                iface.address, iface.mask = words[2], _mask(words[3])
            return True, ""
        if words[0] == "description":
            if not ignored:
                iface.description = "" if negate else body[len("description"):].strip()
            return True, ""
        if words == ["shutdown"]:
            if not ignored:
                iface.shutdown = not negate
            return True, ""
        return False, ""

    def _global_command(self, conn: SimConnection, line: str) -> str:
        negate = line.startswith("no ")
        body = line[3:] if negate else line
        words = body.split()
        ignored = self.config_ignored(line)
        if words and words[0] == "hostname":
            if negate:
                if not ignored:
                    self.running.hostname = "Router"
                return ""
            if len(words) != 2:
                return IOS_INVALID
            if not ignored:
                self.running.hostname = words[1]
            return ""
        if words and words[0] == "interface" and len(words) == 2:
            name = words[1]
            if negate:
                if name.lower().startswith("loopback") and not ignored:
                    self.running.interfaces.pop(name, None)
                return ""
            if name not in self.running.interfaces:
                if not name.lower().startswith("loopback"):
                    return IOS_INVALID
                self.running.interfaces[name] = Interface(name)
            conn.state["mode"] = "config-if"
            conn.state["interface"] = name
            return ""
        if not any((body + " ").startswith(p) for p in IOS_GLOBAL_PREFIXES) or len(words) < 3:
            return IOS_INVALID
        if body.startswith("ip route ") and (len(words) < 5 or not all(_valid_ip(w) for w in words[2:5])):
            return IOS_INVALID
        if not ignored:
            self.set_global_line(body, remove=negate)
        return ""


# -- Huawei VRP -----------------------------------------------------------------------------------
VRP_EXEC: list[tuple[str, ...]] = [
    ("screen-length", "*"), ("screen-width", "*"), ("display", "version"), ("display", "esn"),
    ("display", "ip", "interface", "brief"), ("display", "current-configuration"),
    ("display", "saved-configuration"), ("ping", "*"), ("system-view",), ("save",), ("quit",),
    ("return",),
]
VRP_GLOBAL_PREFIXES = ("ip route-static ", "dns server ", "dns resolve", "ntp-service unicast-server ",
                       "info-center loghost ", "snmp-agent sys-info location ")
VRP_INVALID = "Error: Unrecognized command found at '^' position.\r\n"


class HuaweiVrpSimulator(RouterSimulator):
    vendor_model = "AR2220E"
    default_hostname = "R1"
    default_interfaces = {
        "GigabitEthernet0/0/0": {"address": "203.0.113.6/30", "description": "uplink"},
        "GigabitEthernet0/0/1": {"address": "192.168.20.1/24", "description": "room LAN"},
        "GigabitEthernet0/0/2": {"shutdown": True},
    }
    default_lines = ["ip route-static 0.0.0.0 0.0.0.0 203.0.113.5"]

    def __init__(self, **kw: Any) -> None:
        kw.setdefault("firmware", "V200R009C00SPC500")
        kw.setdefault("serial", "2102351931P0K8000123")
        super().__init__(**kw)

    def initial_mode(self) -> str:
        return "user"

    def login_banner(self) -> str:
        return ("\r\nInfo: The max number of VTY users is 5, and the number\r\n"
                "      of current VTY users on line is 1.\r\n"
                "      The current login time is 2024-01-01 10:00:00.\r\n")

    def prompt(self, conn: SimConnection) -> str:
        host = self.running.hostname
        mode = conn.state["mode"]
        if mode == "system":
            return f"\r\n[{host}]"
        if mode == "interface":
            return f"\r\n[{host}-{conn.state['interface']}]"
        return f"\r\n<{host}>"

    def execute(self, conn: SimConnection, line: str) -> bool:
        if not line:
            return True
        mode = conn.state["mode"]
        words = line.split()
        if mode != "user":
            head = words[0].lower()
            if head == "return":
                conn.state["mode"] = "user"
                return True
            if head == "quit":
                conn.state["mode"] = "system" if mode == "interface" else "user"
                return True
            if head != "display":
                conn.send(self.configure(conn, line))
                return True
        entry, problem = match_command(words, VRP_EXEC)
        if entry is None:
            conn.send(self._error(problem))
            return True
        args = words[len([k for k in entry if k != "*"]):]
        head = entry[0]
        if head == "quit":
            return False
        if head == "screen-length":
            conn.send("Info: The configuration takes effect on the current user terminal interface only.")
        elif head == "screen-width" or head == "return":
            pass
        elif entry == ("display", "version"):
            conn.send(self.display_version())
        elif entry == ("display", "esn"):
            conn.send(f"ESN of slot 0: {self.serial}")
        elif entry == ("display", "ip", "interface", "brief"):
            conn.send(self.display_ip_interface_brief())
        elif entry == ("display", "current-configuration"):
            conn.send(self.render(self.running))
        elif entry == ("display", "saved-configuration"):
            conn.send(self.render(self.startup))
        elif head == "ping":
            conn.send(self.ping(args))
        elif head == "system-view":
            conn.state["mode"] = "system"
            conn.send("Enter system view, return user view with Ctrl+Z.")
        elif head == "save":
            self._save(conn)
        return True

    def _error(self, problem: str) -> str:
        if problem == "incomplete":
            return "Error: Incomplete command found at '^' position."
        if problem == "ambiguous":
            return "Error: Ambiguous command found at '^' position."
        return "        ^\r\n" + VRP_INVALID.rstrip()

    def _save(self, conn: SimConnection) -> None:
        conn.send("The current configuration will be written to the device.\r\n"
                  "Are you sure to continue?[Y/N]")
        answer = self.read_line(conn).strip().lower()
        if answer not in ("y", "yes"):
            conn.send("Info: Save the configuration canceled.")
            return
        if not self.save():
            conn.send("Now saving the current configuration to the slot 0.\r\n"
                      "Error: Failed to save the configuration file.")
            return
        conn.send("Now saving the current configuration to the slot 0.\r\n"
                  "Info: Save the configuration successfully.")

    def display_version(self) -> str:
        return (
            "Huawei Versatile Routing Platform Software\r\n"
            f"VRP (R) software, Version 5.160 (AR2200 {self.firmware})\r\n"
            "Copyright (C) 2011-2018 HUAWEI TECH CO., LTD\r\n"
            f"Huawei {self.model} Router uptime is 0 week, {self.boot_count} day, 2 hours, 3 minutes\r\n"
            "BKP 0 version information:\r\n"
            "1. PCB      Version  : AR01BAK2A VER.NC\r\n"
        ).rstrip("\r\n")

    def display_ip_interface_brief(self) -> str:
        up = sum(1 for i in self.running.interfaces.values() if not i.shutdown and self.link_up(i))
        down = len(self.running.interfaces) - up
        rows = ["*down: administratively down", "^down: standby", "(l): loopback", "(s): spoofing",
                f"The number of interface that is UP in Physical is {up}",
                f"The number of interface that is DOWN in Physical is {down}",
                f"The number of interface that is UP in Protocol is {up}",
                f"The number of interface that is DOWN in Protocol is {down}", "",
                f"{'Interface':<34}{'IP Address/Mask':<21}{'Physical':<11}Protocol"]
        for iface in self.running.interfaces.values():
            if iface.shutdown:
                phys, proto = "*down", "down"
            elif not self.link_up(iface):
                phys, proto = "down", "down"
            else:
                phys, proto = "up", "up"
            addr = "unassigned"
            if iface.address and iface.mask:
                length = ipaddress.IPv4Network(f"0.0.0.0/{iface.mask}").prefixlen
                addr = f"{iface.address}/{length}"
            rows.append(f"{iface.name:<34}{addr:<21}{phys:<11}{proto}")
        return "\r\n".join(rows)

    def render(self, config: RouterConfig) -> str:
        out = ["!Software Version V200R009C00SPC500", "#", f" sysname {config.hostname}", "#"]
        out.extend(f" {line}" for line in config.lines if not line.startswith("ip route-static"))
        out.append("#")
        for iface in config.interfaces.values():
            out.append(f"interface {iface.name}")
            if iface.description:
                out.append(f" description {iface.description}")
            if iface.address:
                out.append(f" ip address {iface.address} {iface.mask}")
            if iface.shutdown:
                out.append(" shutdown")
            out.append("#")
        out.extend(f" {line}" for line in config.lines if line.startswith("ip route-static"))
        out += ["#", "return"]
        return "\r\n".join(out)

    def ping(self, args: list[str]) -> str:
        count = 5
        rest = list(args)
        if len(rest) >= 2 and rest[0] == "-c":
            if not rest[1].isdigit():
                return VRP_INVALID.rstrip()
            count = max(1, min(int(rest[1]), 4294967295))
            rest = rest[2:]
        if len(rest) != 1:
            return "Error: Incomplete command found at '^' position."
        target = rest[0]
        if not _valid_ip(target):
            return f"Error: The specified host {target} is unknown."
        results = self.ping_results(target, count)
        lines = [f"  PING {target}: 56  data bytes, press CTRL_C to break"]
        for seq, rtt in enumerate(results, 1):
            lines.append(f"    Reply from {target}: bytes=56 Sequence={seq} ttl=255 time={int(rtt)} ms"
                         if rtt is not None else "    Request time out")
        got = [r for r in results if r is not None]
        lines += ["", f"  --- {target} ping statistics ---", f"    {count} packet(s) transmitted",
                  f"    {len(got)} packet(s) received",
                  f"    {(count - len(got)) * 100 / count:.2f}% packet loss"]
        if got:
            lines.append(f"    round-trip min/avg/max = {int(min(got))}/{int(sum(got) / len(got))}/"
                         f"{int(max(got))} ms")
        return "\r\n".join(lines)

    # system view ---------------------------------------------------------------------------------
    def configure(self, conn: SimConnection, line: str) -> str:
        words = line.split()
        negate = words[0] == "undo"
        body = " ".join(words[1:]) if negate else line
        bwords = body.split()
        if not bwords:
            return self._error("incomplete")
        ignored = self.config_ignored(line)
        if conn.state["mode"] == "interface":
            iface = self.running.interfaces[conn.state["interface"]]
            if bwords[:2] == ["ip", "address"]:
                if negate:
                    if not ignored:
                        iface.address = iface.mask = None
                    return ""
                if len(bwords) != 4 or not _valid_ip(bwords[2]) or _mask(bwords[3]) is None:
                    return self._error("invalid")
                if not ignored:
                    iface.address, iface.mask = bwords[2], _mask(bwords[3])
                return ""
            if bwords[0] == "description":
                if not ignored:
                    iface.description = "" if negate else body[len("description"):].strip()
                return ""
            if bwords == ["shutdown"]:
                if not ignored:
                    iface.shutdown = not negate
                return ""
        if bwords[0] == "sysname":
            if negate:
                if not ignored:
                    self.running.hostname = "Huawei"
                return ""
            if len(bwords) != 2:
                return self._error("invalid")
            if not ignored:
                self.running.hostname = bwords[1]
            return ""
        if bwords[0] == "interface" and len(bwords) == 2:
            name = bwords[1]
            if negate:
                if name.lower().startswith("loopback") and not ignored:
                    self.running.interfaces.pop(name, None)
                return ""
            if name not in self.running.interfaces:
                if not name.lower().startswith("loopback"):
                    return self._error("invalid")
                self.running.interfaces[name] = Interface(name)
            conn.state["mode"] = "interface"
            conn.state["interface"] = name
            return ""
        if not any((body + " ").startswith(p) for p in VRP_GLOBAL_PREFIXES):
            return self._error("invalid")
        if body.startswith("ip route-static ") and (
                len(bwords) < 5 or not _valid_ip(bwords[2]) or _mask(bwords[3]) is None
                or not _valid_ip(bwords[4])):
            return self._error("invalid")
        if not ignored:
            self.set_global_line(body, remove=negate)
        if conn.state["mode"] == "interface":
            conn.state["mode"] = "system"
        return ""
