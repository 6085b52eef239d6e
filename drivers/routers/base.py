"""Branch routers through netmiko: Cisco IOS (``cisco_ios``) and Huawei VRP (``huawei``). Role Router.

What a site needs from its router: who it is (``show version`` / ``display version``), the state
and address of the uplink, a ping from the router to central, the SIP registrar or the bridge
(loss and round-trip figures), and configuration: ``apply_config`` sends lines through the
CLI's configuration mode, reads the running configuration back, and if what it asked for is not
there, undoes what did change (a diff of the configuration before and after) and reports
``verified=False, rolled_back=True``. Only a verified configuration is saved.

``apply_config`` takes either a list of CLI lines (``interface X`` followed by its sub-lines), or
a desired-state mapping with any of these keys (the shape ``read_config`` returns)::

    hostname: "R1"
    interfaces: {"GigabitEthernet0/0/0": {"address": "203.0.113.2/30" | None,
                                          "description": "uplink", "enabled": True}}
    routes: [{"prefix": "0.0.0.0/0", "next_hop": "203.0.113.1"}]    # the exact set of static routes
    dns: ["8.8.8.8"]                                                   # the exact set
    ntp: ["10.0.0.1"]                                                  # the exact set
    lines: ["logging host 10.0.0.9"]                                   # extra lines, as typed

netmiko's exceptions become ours at this edge (``raise ... from``): authentication -> AuthError,
an unknown or changed host key -> HostKeyError, TCP refused -> ConnectError, no answer in time
-> DeviceTimeout, an answer that never reaches a prompt -> ProtocolError, a closed session ->
Disconnected, a configuration line the device refuses -> CommandRejected. We never use netmiko's
delay factors; every read has an explicit pattern (``expect_string``) and deadline.

Endpoint.options: ``uplink_interface`` (else the first interface that has an address),
``enable_secret`` (IOS; default: the login password), ``ping_timeout_per_packet`` (seconds,
default 2.5: the CLIs wait 2 s per lost echo).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from typing import Any

from netmiko.exceptions import (
    ReadTimeout,
)

from drivers.errors import (
    CommandRejected,
    ProtocolError,
)
from drivers.roles import (
    ApplyReport,
    CheckOutcome,
    ConfigChange,
    DeviceCheck,
    Health,
    Verdict,
)
from drivers.routers.config_diff import Blocks, matches
from drivers.routers.session import RouterSession, last_error


class NetmikoRouterDriver(RouterSession):
    """The Router role and configuration with rollback, on the shared session."""

    # -- Router role -------------------------------------------------------------------------------
    def interfaces(self) -> list[dict[str, Any]]:
        raise NotImplementedError

    def uplink(self) -> dict[str, Any]:
        rows = self.interfaces()
        wanted = str(self.endpoint.options.get("uplink_interface", ""))
        for row in rows:
            if (row["interface"] == wanted) if wanted else row["address"]:
                return row
        raise ProtocolError(f"uplink interface {wanted or '(any addressed)'} not in the interface list",
                            device=self.name)

    def ping_command(self, target: str, count: int) -> str:
        raise NotImplementedError

    def parse_ping(self, target: str, count: int, text: str) -> dict[str, Any]:
        raise NotImplementedError

    def ping(self, target: str, count: int = 5) -> dict[str, Any]:
        ipaddress.ip_address(target)   # a typo must not become a DNS lookup on the router
        per_packet = float(self.endpoint.options.get("ping_timeout_per_packet", 2.5))
        text = self.run(self.ping_command(target, count), timeout=self.endpoint.timeout + count * per_packet)
        return self.parse_ping(target, count, text)

    # -- configuration -----------------------------------------------------------------------------
    def running_config(self) -> str:
        raise NotImplementedError

    def blocks(self, text: str) -> Blocks:
        """A shown configuration as blocks: global lines under "", each interface's under its header."""
        blocks: Blocks = {"": []}
        current = ""
        for raw in text.splitlines():
            line = raw.rstrip()
            stripped = line.strip()
            if not stripped or stripped in ("!", "#") or stripped.startswith(self.boilerplate):
                if stripped in ("!", "#"):
                    current = ""
                continue
            if line.startswith("interface "):
                current = line
                blocks.setdefault(current, [])
            elif line.startswith(" ") and current:
                blocks[current].append(stripped)
            else:
                current = ""
                blocks[""].append(stripped)
        return blocks

    def read_config(self) -> dict[str, Any]:
        return self.structured(self.blocks(self.running_config()))

    def structured(self, blocks: Blocks) -> dict[str, Any]:
        raise NotImplementedError

    def desired_lines(self, desired: Mapping[str, Any], current: dict[str, Any]) -> list[str]:
        raise NotImplementedError

    def apply_config(self, desired: Mapping[str, Any] | Sequence[str]) -> ApplyReport:  # type: ignore[override]
        before_text = self.running_config()
        before = self.blocks(before_text)
        if isinstance(desired, Mapping):
            current = self.structured(before)
            lines = self.desired_lines(desired, current)
            changes = [ConfigChange(k, current.get(k), desired[k]) for k in desired
                       if k != "lines" and not matches(desired[k], current.get(k))]
            changes += [ConfigChange("lines", None, list(desired.get("lines") or []))] if desired.get(
                "lines") else []
        else:
            lines = [str(x) for x in desired]
            changes = [ConfigChange(x.strip(), None, x.strip()) for x in lines if x.strip()]
        report = ApplyReport(changes=changes if lines else [])
        if not lines:
            return report
        try:
            self.send_config(lines)
        except CommandRejected as exc:
            self._roll_back(before)
            exc.message += " (what was applied has been rolled back)"
            exc.args = (exc.message,)
            raise
        after = self.blocks(self.running_config())
        if isinstance(desired, Mapping):
            got = self.structured(after)
            report.mismatches = {k: (desired[k], got.get(k)) for k in desired
                                 if k != "lines" and not matches(desired[k], got.get(k))}
            report.mismatches.update(self._missing_lines(list(desired.get("lines") or []), after))
        else:
            report.mismatches = self._missing_lines(lines, after)
        if report.mismatches:
            report.verified = False
            self._roll_back(before)
            report.rolled_back = True
            return report
        self.save()
        return report

    def send_config(self, lines: Sequence[str]) -> None:
        """Enter configuration mode, send the lines (each echo and prompt checked), leave it."""
        conn = self._require()
        timeout = self.endpoint.timeout
        self.run(self.config_enter, expect=self.config_prompt_pattern())
        self.transcript.record("tx", "".join(f"{x}\n" for x in lines).encode())
        mark = self._log.mark()
        try:
            # Mode changes are done here with explicit prompts: netmiko's mode probe is a
            # two-second timing read on Huawei.
            conn.send_config_set(list(lines), enter_config_mode=False, exit_config_mode=False,
                                 read_timeout=timeout, error_pattern=self.config_error,
                                 terminator=self.config_terminator)
        except BaseException as exc:
            self._flush_log()
            translated = self._translate(exc, "configuration", since=mark)
            if isinstance(translated, CommandRejected):
                self.run(self.config_leave, expect=self.any_exec_prompt())
            raise translated from exc
        finally:
            self._flush_log()
        self.run(self.config_leave, expect=self.any_exec_prompt())
        try:
            conn.set_base_prompt()   # the hostname may have changed
        except (ValueError, ReadTimeout) as exc:
            raise self._translate(exc, "prompt after configuration") from exc

    def config_prompt_pattern(self) -> str:
        raise NotImplementedError

    def _missing_lines(self, lines: Sequence[str], after: Blocks) -> dict[str, tuple[Any, Any]]:
        """Lines whose effect is not in the configuration read back."""
        missing: dict[str, tuple[Any, Any]] = {}
        block = ""
        for raw in lines:
            line = raw.strip()
            if not line or line in (self.leave_block, "exit", "quit"):
                block = "" if line else block
                continue
            if line.startswith("interface "):
                block = line
                if block not in after:
                    missing[line] = (line, None)
                continue
            shown = after.get(block, [])
            if line.startswith(self.negate + " "):
                target = line[len(self.negate) + 1:]
                if any(s == target or s.startswith(target + " ") for s in shown):
                    missing[line] = (line, "still present")
            elif line not in shown:
                missing[line] = (line, None)
        return missing

    def _roll_back(self, before: Blocks) -> None:
        """Undo whatever differs from ``before``: negate added lines, restore removed ones."""
        after = self.blocks(self.running_config())
        lines: list[str] = []
        for header in list(before) + [h for h in after if h not in before]:
            old, new = before.get(header), after.get(header)
            if header and old is None:
                lines.append(f"{self.negate} {header}")   # a block we created
                continue
            old = old or []
            new = new or []
            added = [x for x in new if x not in old and not x.startswith(self.negate + " ")]
            removed = [x for x in old if x not in new]
            if not added and not removed and not (header and new is None):
                continue
            body = [f"{self.negate} {x}" for x in added] + removed
            if header:
                lines += [header, *body, self.leave_block]
            else:
                lines += body
        if lines:
            self.transcript.note(f"rolling back {len(lines)} configuration lines")
            self.send_config(lines)

    def save_command_ok(self, output: str) -> bool:
        raise NotImplementedError

    def save(self) -> None:
        conn = self._require()
        mark = self._log.mark()
        try:
            output = conn.save_config()
        except BaseException as exc:
            self._flush_log()
            raise self._translate(exc, "save", since=mark) from exc
        self._flush_log()
        if not self.save_command_ok(output):
            raise CommandRejected("save", last_error(output), device=self.name, command="save")

    # -- Driver ------------------------------------------------------------------------------------
    def health(self) -> Health:
        link = self.uplink()
        if link["status"] == "up" and link["protocol"] == "up":
            return Health(Verdict.OK, details={"uplink": link})
        reason = f"uplink {link['interface']} is {link['status']}/{link['protocol']}"
        return Health(Verdict.DEGRADED, (reason,), {"uplink": link})

    def selftest_checks(self, expect: Mapping[str, Any]) -> list[DeviceCheck]:
        checks = [DeviceCheck("router.uplink", "the uplink interface is up with an address",
                              self._check_uplink)]
        if expect.get("serial"):
            checks.append(DeviceCheck("router.identity", "router serial number matches the profile",
                                      lambda: self._check_serial(str(expect["serial"]))))
        max_loss = float(expect.get("max_loss", 0.2))
        max_rtt = expect.get("max_rtt_ms")
        for label, target in dict(expect.get("ping_targets") or {}).items():
            checks.append(DeviceCheck(
                f"router.ping.{label}", f"the router reaches {label} ({target})",
                lambda t=str(target): self._check_ping(t, max_loss, max_rtt),
                timeout=self.endpoint.timeout + 5 * 2.5, needs=("router.uplink",)))
        return checks

    def _check_uplink(self) -> CheckOutcome:
        link = self.uplink()
        if link["status"] == "up" and link["protocol"] == "up" and link["address"]:
            return CheckOutcome.passed(**link)
        reason = f"uplink {link['interface']} is {link['status']}/{link['protocol']}"
        return CheckOutcome.failed(reason, **link)

    def _check_serial(self, wanted: str) -> CheckOutcome:
        found = self.identify().serial
        if found == wanted:
            return CheckOutcome.passed(serial=found)
        return CheckOutcome.failed(f"serial {found!r}, profile says {wanted!r}", serial=found)

    def _check_ping(self, target: str, max_loss: float, max_rtt: Any) -> CheckOutcome:
        result = self.ping(target)
        if result["received"] == 0:
            return CheckOutcome.failed(f"{target} does not answer", **result)
        if result["loss"] > max_loss:
            return CheckOutcome.failed(f"loss {result['loss']:.0%} to {target}", **result)
        if max_rtt is not None and result["rtt_ms"] is not None and result["rtt_ms"] > float(max_rtt):
            return CheckOutcome.warned(f"round trip {result['rtt_ms']} ms to {target}", **result)
        return CheckOutcome.passed(**result)



def ping_result(target: str, sent: int, received: int, rtt_min: int | None, rtt_avg: int | None,
                 rtt_max: int | None, *, device: str = "", text: str = "") -> dict[str, Any]:
    if received > sent:
        # More echoes back than sent: a garbled reply, not a loss figure.
        raise ProtocolError(f"ping output says {received} of {sent} received", device=device,
                            data=text[-300:])
    return {"target": target, "sent": sent, "received": received,
            "loss": round(1 - received / sent, 4) if sent else 1.0,
            "rtt_ms": rtt_avg, "rtt_min_ms": rtt_min, "rtt_max_ms": rtt_max}
