"""Huawei VRP command line: user view, system view, interface views."""

from __future__ import annotations

import ipaddress
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

    telnet_prompt_space = False

    def telnet_greeting(self) -> str:
        return "\r\nLogin authentication\r\n\r\n\r\n"

    def telnet_login_failed(self) -> str:
        return "\r\nError: Local authentication is rejected.\r\n\r\n"   # [unverified] exact text

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
        if not valid_ip(target):
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
                if len(bwords) != 4 or not valid_ip(bwords[2]) or dotted_mask(bwords[3]) is None:
                    return self._error("invalid")
                if not ignored:
                    iface.address, iface.mask = bwords[2], dotted_mask(bwords[3])
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
                len(bwords) < 5 or not valid_ip(bwords[2]) or dotted_mask(bwords[3]) is None
                or not valid_ip(bwords[4])):
            return self._error("invalid")
        if not ignored:
            self.set_global_line(body, remove=negate)
        if conn.state["mode"] == "interface":
            conn.state["mode"] = "system"
        return ""

