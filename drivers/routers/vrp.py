"""Huawei VRP over netmiko (``huawei``)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from drivers.errors import (
    CommandRejected,
    ProtocolError,
)
from drivers.roles import (
    Identity,
)
from drivers.routers.base import NetmikoRouterDriver, ping_result
from drivers.routers.config_diff import Blocks, dialect_lines, net_mask, structured_config
from drivers.routers.session import last_error

# -- Huawei VRP -----------------------------------------------------------------------------------
_VRP_BRIEF = re.compile(
    r"^(\S+)\s+(\S+)\s+(\*down|\^down|up|down)(?:\(\w\))?\s+(up|down)(?:\(\w\))?\s*$", re.M)
_VRP_LOSS = re.compile(r"(\d+) packet\(s\) transmitted\s+(\d+) packet\(s\) received", re.S)
_VRP_RTT = re.compile(r"round-trip min/avg/max = (\d+)/(\d+)/(\d+) ms")


class HuaweiVrpRouterDriver(NetmikoRouterDriver):
    device_type = "huawei"
    vendor = "Huawei"
    negate = "undo"
    leave_block = "quit"
    config_enter = "system-view"
    config_leave = "return"
    config_error = r"^\s*Error:"
    config_terminator = r"\]"
    boilerplate = ("!Software Version", "return")

    def exec_prompt(self) -> str:
        assert self._conn is not None
        return "<" + re.escape(self._conn.base_prompt) + ">"

    def any_exec_prompt(self) -> str:
        return r"<[^<>\s]+>"

    def config_prompt_pattern(self) -> str:
        return r"\[[^\]\s]+\]"

    def logout_command(self) -> str:
        return "quit"

    def identify(self) -> Identity:
        text = self.run("display version")
        firmware = re.search(r"VRP \(R\) software, Version \S+ \((?:\S+ )?(\S+)\)", text)
        model = re.search(r"^(?:Huawei|HUAWEI) (\S+) (?:Router )?uptime is", text, re.M)
        if not (firmware and model):
            raise ProtocolError("display version without version or model", device=self.name, data=text[:500])
        # The serial number (ESN) is its own command [unverified layout: "ESN of ...: <esn>"].
        esn = re.search(r"ESN of [^:]*:\s*(\S+)", self.run("display esn"))
        return Identity(self.vendor, model.group(1), esn.group(1) if esn else "", firmware.group(1))

    def interfaces(self) -> list[dict[str, Any]]:
        text = self.run("display ip interface brief")
        rows = []
        for m in _VRP_BRIEF.finditer(text):
            if m.group(1) == "Interface":
                continue
            status = {"*down": "admin-down", "^down": "standby"}.get(m.group(3), m.group(3))
            addr = m.group(2).split("/")[0] if m.group(2) != "unassigned" else None
            rows.append({"interface": m.group(1), "status": status, "protocol": m.group(4), "address": addr})
        if not rows:
            raise ProtocolError("no interfaces in display ip interface brief", device=self.name,
                                data=text[:500])
        return rows

    def ping_command(self, target: str, count: int) -> str:
        return f"ping -c {int(count)} {target}"

    def parse_ping(self, target: str, count: int, text: str) -> dict[str, Any]:
        if "Error:" in text:
            raise CommandRejected("Error", last_error(text), device=self.name, command=f"ping {target}")
        m = _VRP_LOSS.search(text)
        if m is None:
            raise ProtocolError("no packet counts in ping output", device=self.name, data=text[-300:])
        rtt = _VRP_RTT.search(text)
        figures = tuple(int(g) for g in rtt.groups()) if rtt else (None, None, None)
        return ping_result(target, int(m.group(1)), int(m.group(2)), *figures, device=self.name, text=text)

    def running_config(self) -> str:
        return self.run("display current-configuration")

    def save_command_ok(self, output: str) -> bool:
        return "successfully" in output.lower() and "Error" not in output

    def structured(self, blocks: Blocks) -> dict[str, Any]:
        return structured_config(blocks, hostname="sysname ", route="ip route-static ", dns="dns server ",
                           ntp="ntp-service unicast-server ")

    def desired_lines(self, desired: Mapping[str, Any], current: dict[str, Any]) -> list[str]:
        return dialect_lines(desired, current, hostname="sysname", negate="undo", leave="quit",
                              route=lambda r: f"ip route-static {net_mask(r['prefix'])} {r['next_hop']}",
                              dns="dns server", ntp="ntp-service unicast-server",
                              no_address="undo ip address", no_shutdown="undo shutdown")

