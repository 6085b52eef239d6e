"""Cisco IOS over netmiko (``cisco_ios``)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from netmiko.base_connection import BaseConnection

from drivers.errors import (
    AuthError,
    CommandRejected,
    ProtocolError,
)
from drivers.roles import (
    Identity,
)
from drivers.routers.base import NetmikoRouterDriver, ping_result
from drivers.routers.config_diff import Blocks, dialect_lines, net_mask, structured_config
from drivers.routers.session import last_error

# -- Cisco IOS ------------------------------------------------------------------------------------
_IOS_PING = re.compile(r"Success rate is (\d+) percent \((\d+)/(\d+)\)"
                       r"(?:, round-trip min/avg/max = (\d+)/(\d+)/(\d+) ms)?")
_IOS_BRIEF = re.compile(
    r"^(\S+)\s+(\S+)\s+(?:YES|NO)\s+\S+\s+(administratively down|up|down)\s+(up|down)\s*$", re.M)


class CiscoIosRouterDriver(NetmikoRouterDriver):
    device_type = "cisco_ios"
    vendor = "Cisco"
    negate = "no"
    leave_block = "exit"
    config_enter = "configure terminal"
    config_leave = "end"
    config_error = r"^%"
    config_terminator = r"#"
    boilerplate = ("Building configuration", "Current configuration", "Using ", "version ", "service ",
                   "end", "line ", "transport ", "no ip address")

    def _after_login(self, conn: BaseConnection) -> None:
        """Enter privileged mode. Done with explicit prompts rather than netmiko's ``enable()``,
        which waits its fixed ten seconds when the secret is wrong (IOS asks again)."""
        timeout = self.endpoint.timeout
        try:
            out = conn.send_command("enable", expect_string=r"(?:[Pp]assword:|[>#])\s*$",
                                    read_timeout=timeout, strip_prompt=False)
            if out.rstrip().endswith(":"):
                out = conn.send_command(self._secret, expect_string=r"(?:[Pp]assword:|[>#])\s*$",
                                        read_timeout=timeout, strip_prompt=False, cmd_verify=False)
        except BaseException as exc:
            raise self._translate(exc, "enable") from exc
        finally:
            self._flush_log()
        if not out.rstrip().endswith("#"):
            raise AuthError("enable secret refused", device=self.name)

    def exec_prompt(self) -> str:
        assert self._conn is not None
        # netmiko cuts an IOS base prompt to 16 characters (IOS abbreviates long hostnames in
        # config mode), so the rest of a long hostname may follow before the mode character.
        return re.escape(self._conn.base_prompt) + r"[^\s>#]*[>#]"

    def any_exec_prompt(self) -> str:
        return r"(?m)^[^\s()#>]+#\s*$"

    def config_prompt_pattern(self) -> str:
        return r"\(config[^)]*\)#"

    def logout_command(self) -> str:
        return "exit"

    def identify(self) -> Identity:
        text = self.run("show version")
        firmware = re.search(r"Version ([^\s,]+)", text)
        model = re.search(r"^cisco (\S+)", text, re.M)
        serial = re.search(r"Processor board ID (\S+)", text)
        if not (firmware and model):
            raise ProtocolError("show version without version or model", device=self.name, data=text[:500])
        return Identity(self.vendor, model.group(1), serial.group(1) if serial else "", firmware.group(1))

    def interfaces(self) -> list[dict[str, Any]]:
        text = self.run("show ip interface brief")
        rows = []
        for m in _IOS_BRIEF.finditer(text):
            status = "admin-down" if m.group(3) == "administratively down" else m.group(3)
            addr = m.group(2) if m.group(2) != "unassigned" else None
            rows.append({"interface": m.group(1), "status": status, "protocol": m.group(4), "address": addr})
        if not rows:
            raise ProtocolError("no interfaces in show ip interface brief", device=self.name, data=text[:500])
        return rows

    def ping_command(self, target: str, count: int) -> str:
        return f"ping {target} repeat {int(count)}"

    def parse_ping(self, target: str, count: int, text: str) -> dict[str, Any]:
        if "% " in text and "Success rate" not in text:
            raise CommandRejected("%", last_error(text), device=self.name, command=f"ping {target}")
        m = _IOS_PING.search(text)
        if m is None:
            raise ProtocolError("no success rate in ping output", device=self.name, data=text[-300:])
        received, sent = int(m.group(2)), int(m.group(3))
        return ping_result(target, sent, received, *(int(g) if g else None for g in m.group(4, 5, 6)),
                           device=self.name, text=text)

    def running_config(self) -> str:
        return self.run("show running-config")

    def save_command_ok(self, output: str) -> bool:
        return "[OK]" in output and "%Error" not in output

    def structured(self, blocks: Blocks) -> dict[str, Any]:
        return structured_config(blocks, hostname="hostname ", route="ip route ", dns="ip name-server ",
                           ntp="ntp server ")

    def desired_lines(self, desired: Mapping[str, Any], current: dict[str, Any]) -> list[str]:
        return dialect_lines(desired, current, hostname="hostname", negate="no", leave="exit",
                              route=lambda r: f"ip route {net_mask(r['prefix'])} {r['next_hop']}",
                              dns="ip name-server", ntp="ntp server", no_address="no ip address",
                              no_shutdown="no shutdown")

