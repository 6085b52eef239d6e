"""Cisco IOS command line: user and privileged exec, configuration mode."""

from __future__ import annotations

from typing import Any

from simulators.harness import SimConnection
from simulators.routers.config import (
    Interface,
    RouterConfig,
    dotted_mask,
    match_command,
    valid_ip,
)
from simulators.routers.session import RouterSimulator

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

    def telnet_greeting(self) -> str:
        return "\r\n\r\nUser Access Verification\r\n\r\n"

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
        if not valid_ip(target):
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
            if len(words) != 4 or not valid_ip(words[2]) or dotted_mask(words[3]) is None:
                return True, IOS_INVALID
            if not ignored:
                iface.address, iface.mask = words[2], dotted_mask(words[3])
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
        if body.startswith("ip route ") and (len(words) < 5 or not all(valid_ip(w) for w in words[2:5])):
            return IOS_INVALID
        if not ignored:
            self.set_global_line(body, remove=negate)
        return ""

