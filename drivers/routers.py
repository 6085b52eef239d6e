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

import io
import ipaddress
import os
import re
import socket
from collections.abc import Mapping, Sequence
from typing import Any

import paramiko
from netmiko import ConnectHandler
from netmiko.base_connection import BaseConnection
from netmiko.exceptions import (
    ConfigInvalidException,
    NetmikoAuthenticationException,
    NetmikoTimeoutException,
    ReadException,
    ReadTimeout,
    WriteException,
)

from drivers.errors import (
    AuthError,
    CommandRejected,
    ConnectError,
    DeviceError,
    DeviceTimeout,
    Disconnected,
    HostKeyError,
    ProtocolError,
)
from drivers.roles import (
    ApplyReport,
    CheckOutcome,
    ConfigChange,
    DeviceCheck,
    Driver,
    Endpoint,
    Health,
    Identity,
    Verdict,
)
from drivers.transcript import Transcript
from drivers.transports.tcp import translate_connect_error

Blocks = dict[str, list[str]]      # block header ("" = global) -> its lines, in order


class NetmikoRouterDriver(Driver):
    """What both families share; subclasses hold the CLI dialect."""

    roles = frozenset({"router"})
    device_type = ""
    vendor = ""
    negate = "no"                     # "no" (IOS) / "undo" (VRP)
    leave_block = "exit"              # leaves an interface block
    config_enter = ""
    config_leave = ""
    config_error = r"^%"              # a refused configuration line
    config_terminator = r"#"          # what ends a config-mode prompt
    boilerplate: tuple[str, ...] = ()  # lines of a shown configuration that are not settings

    def __init__(self, endpoint: Endpoint, *, name: str = "", transcript: Transcript | None = None) -> None:
        super().__init__(endpoint, name=name, transcript=transcript)
        self._conn: BaseConnection | None = None
        self._log = io.BytesIO()
        self._log_seen = 0
        secret = str(endpoint.options.get("enable_secret", "")) or endpoint.password
        self._secret = secret
        self.transcript.add_secret(secret)

    # -- session ---------------------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        conn = self._conn
        return bool(conn and conn.remote_conn is not None and not conn.remote_conn.closed)

    def connect(self) -> None:
        if self.connected:
            return
        ep = self.endpoint
        sock = self._open_socket()
        known = ep.known_hosts or ""
        self._log = io.BytesIO()
        self._log_seen = 0
        try:
            conn = ConnectHandler(
                device_type=self.device_type, host=ep.host, port=ep.port or 22, username=ep.username,
                password=ep.password, secret=self._secret, sock=sock,
                # Host keys are pinned: unknown or changed keys are refused unless the profile
                # opted into trust on first use.
                ssh_strict=not ep.trust_on_first_use, system_host_keys=False,
                alt_host_keys=bool(known), alt_key_file=known, allow_agent=False, use_keys=False,
                conn_timeout=ep.timeout, auth_timeout=ep.timeout, banner_timeout=ep.timeout,
                session_log=self._log, fast_cli=True,
            )
        except BaseException as exc:
            sock.close()
            self._flush_log()
            raise self._translate(exc, "connect") from exc
        self._conn = conn
        self._flush_log()
        self.transcript.note(f"connected {ep.describe()} as {self.device_type}")
        try:
            if ep.trust_on_first_use and known and conn.remote_conn_pre is not None:
                self._record_host_key(conn.remote_conn_pre, known)   # record what we trusted
            self._after_login(conn)
        except BaseException:
            self.close()
            raise

    def _record_host_key(self, client: paramiko.SSHClient, path: str) -> None:
        """Append the key trusted on first use unless it is there. Never rewrite the file
        (``SSHClient.save_host_keys`` does): other sessions append their keys concurrently."""
        transport = client.get_transport()
        if transport is None:
            return
        key = transport.get_remote_server_key()
        port = self.endpoint.port or 22
        name = self.endpoint.host if port == 22 else f"[{self.endpoint.host}]:{port}"
        line = f"{name} {key.get_name()} {key.get_base64()}"
        try:
            if os.path.exists(path):
                with open(path, encoding="utf-8", errors="replace") as fh:
                    if any(row.strip() == line for row in fh):
                        return
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            with os.fdopen(fd, "a", encoding="utf-8") as fh:
                fh.write(line + "\n")
        except OSError as exc:
            raise HostKeyError(f"cannot record the host key of {name} in {path}: {exc}",
                               device=self.name) from exc
        self.transcript.note(f"trusted new host key of {name} on first use, recorded in {path}")

    def _open_socket(self) -> socket.socket:
        ep = self.endpoint
        where = f"ssh://{ep.host}:{ep.port or 22}"
        try:
            sock = socket.create_connection((ep.host, ep.port or 22), timeout=ep.timeout)
        except OSError as exc:
            raise translate_connect_error(exc, where, self.name) from exc
        # paramiko never sets it: without it every round trip waits ~40 ms for delayed ACKs.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def _after_login(self, conn: BaseConnection) -> None:
        """Hook: privilege elevation after the login (IOS enable)."""

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            if conn.remote_conn is not None and not conn.remote_conn.closed:
                conn.write_channel(self.logout_command() + conn.RETURN)
        except (OSError, EOFError, WriteException, paramiko.SSHException):
            pass  # the session is already gone: closing is all that is left to do
        # Close the SSH channel first: netmiko's own cleanup otherwise probes the prompt with a
        # timing read (two seconds on Huawei) before it hangs up.
        conn.paramiko_cleanup()
        conn.disconnect()
        self._flush_log()
        self.transcript.note("closed")

    def logout_command(self) -> str:
        return "exit"

    # -- one command -------------------------------------------------------------------------------
    def _require(self) -> BaseConnection:
        if self._conn is None or not self.connected:
            self._conn = None
            self.connect()
        assert self._conn is not None
        return self._conn

    def exec_prompt(self) -> str:
        raise NotImplementedError

    def any_exec_prompt(self) -> str:
        """An exec prompt whatever the hostname now is (after a hostname change)."""
        raise NotImplementedError

    def run(self, command: str, *, expect: str | None = None, timeout: float | None = None) -> str:
        """One exec command; its output without echo and prompt."""
        conn = self._require()
        self.transcript.record("tx", command.encode() + b"\n")
        mark = self._log.tell()
        try:
            out = conn.send_command(command, expect_string=expect or self.exec_prompt(),
                                    read_timeout=timeout or self.endpoint.timeout)
        except BaseException as exc:
            self._flush_log()
            raise self._translate(exc, command, since=mark) from exc
        self._flush_log()
        assert isinstance(out, str)
        return out

    def _flush_log(self) -> None:
        data = self._log.getvalue()[self._log_seen:]
        self._log_seen += len(data)
        if data:
            self.transcript.record("rx", data)

    def _translate(self, exc: BaseException, what: str, since: int | None = None) -> BaseException:
        if isinstance(exc, DeviceError):
            return exc
        cause = exc.__context__
        if isinstance(exc, NetmikoAuthenticationException):
            return AuthError(f"{self.device_type} login refused", device=self.name)
        if isinstance(exc, NetmikoTimeoutException):
            if isinstance(cause, paramiko.BadHostKeyException) or "known_hosts" in str(exc):
                return HostKeyError(f"SSH host key of {self.endpoint.host} is not the pinned one",
                                    device=self.name)
            if isinstance(cause, TimeoutError | socket.timeout):
                return DeviceTimeout(f"{what}: no SSH session within the deadline", device=self.name)
            return ConnectError(f"{what}: SSH session failed: {_first_line(exc)}", device=self.name)
        if isinstance(exc, ConfigInvalidException):
            return _rejected(str(exc), self.name)
        if isinstance(exc, ReadTimeout):
            if not self.connected:
                return Disconnected(f"session closed during {what!r}", device=self.name)
            if since is not None:
                reply = self._log.getvalue()[since:].decode("utf-8", "replace").replace(what, "", 1)
                if reply.strip():
                    return ProtocolError(f"reply to {what!r} never reached a prompt", device=self.name,
                                         data=reply[-500:])
            return DeviceTimeout(f"no complete reply to {what!r} within the deadline", device=self.name)
        if isinstance(exc, ReadException | WriteException | OSError | EOFError | paramiko.SSHException):
            return Disconnected(f"session lost during {what!r}: {exc}", device=self.name)
        if isinstance(exc, ValueError):   # netmiko: prompt not found, enable failed
            return ProtocolError(f"{what}: {_first_line(exc)}", device=self.name)
        return exc

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
                       if k != "lines" and not _matches(desired[k], current.get(k))]
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
                                 if k != "lines" and not _matches(desired[k], got.get(k))}
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
        mark = self._log.tell()
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
        mark = self._log.tell()
        try:
            output = conn.save_config()
        except BaseException as exc:
            self._flush_log()
            raise self._translate(exc, "save", since=mark) from exc
        self._flush_log()
        if not self.save_command_ok(output):
            raise CommandRejected("save", _last_error(output), device=self.name, command="save")

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
            raise CommandRejected("%", _last_error(text), device=self.name, command=f"ping {target}")
        m = _IOS_PING.search(text)
        if m is None:
            raise ProtocolError("no success rate in ping output", device=self.name, data=text[-300:])
        received, sent = int(m.group(2)), int(m.group(3))
        return _ping_result(target, sent, received, *(int(g) if g else None for g in m.group(4, 5, 6)))

    def running_config(self) -> str:
        return self.run("show running-config")

    def save_command_ok(self, output: str) -> bool:
        return "[OK]" in output and "%Error" not in output

    def structured(self, blocks: Blocks) -> dict[str, Any]:
        return _structured(blocks, hostname="hostname ", route="ip route ", dns="ip name-server ",
                           ntp="ntp server ")

    def desired_lines(self, desired: Mapping[str, Any], current: dict[str, Any]) -> list[str]:
        return _desired_lines(desired, current, hostname="hostname", negate="no", leave="exit",
                              route=lambda r: f"ip route {_net_mask(r['prefix'])} {r['next_hop']}",
                              dns="ip name-server", ntp="ntp server", no_address="no ip address",
                              no_shutdown="no shutdown")


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
            raise CommandRejected("Error", _last_error(text), device=self.name, command=f"ping {target}")
        m = _VRP_LOSS.search(text)
        if m is None:
            raise ProtocolError("no packet counts in ping output", device=self.name, data=text[-300:])
        rtt = _VRP_RTT.search(text)
        figures = tuple(int(g) for g in rtt.groups()) if rtt else (None, None, None)
        return _ping_result(target, int(m.group(1)), int(m.group(2)), *figures)

    def running_config(self) -> str:
        return self.run("display current-configuration")

    def save_command_ok(self, output: str) -> bool:
        return "successfully" in output.lower() and "Error" not in output

    def structured(self, blocks: Blocks) -> dict[str, Any]:
        return _structured(blocks, hostname="sysname ", route="ip route-static ", dns="dns server ",
                           ntp="ntp-service unicast-server ")

    def desired_lines(self, desired: Mapping[str, Any], current: dict[str, Any]) -> list[str]:
        return _desired_lines(desired, current, hostname="sysname", negate="undo", leave="quit",
                              route=lambda r: f"ip route-static {_net_mask(r['prefix'])} {r['next_hop']}",
                              dns="dns server", ntp="ntp-service unicast-server",
                              no_address="undo ip address", no_shutdown="undo shutdown")


# -- helpers --------------------------------------------------------------------------------------
def _ping_result(target: str, sent: int, received: int, rtt_min: int | None, rtt_avg: int | None,
                 rtt_max: int | None) -> dict[str, Any]:
    return {"target": target, "sent": sent, "received": received,
            "loss": round(1 - received / sent, 4) if sent else 1.0,
            "rtt_ms": rtt_avg, "rtt_min_ms": rtt_min, "rtt_max_ms": rtt_max}


def _cidr(address: str, mask: str, *, network: bool = False) -> str | None:
    try:
        iface = ipaddress.IPv4Interface(f"{address}/{mask}")
    except ValueError:
        return None
    return str(iface.network) if network else str(iface)


def _net_mask(prefix: str) -> str:
    net = ipaddress.IPv4Network(prefix, strict=False)
    return f"{net.network_address} {net.netmask}"


def _matches(want: Any, got: Any) -> bool:
    """Whether the device has what we asked for: a mapping names only what it cares about
    (some interfaces, some of their fields); lists are exact sets; the rest compares equal."""
    if isinstance(want, Mapping):
        return isinstance(got, Mapping) and all(_matches(v, got.get(k)) for k, v in want.items())
    return _norm(want) == _norm(got)


def _norm(value: Any) -> Any:
    """Order-insensitive comparison of lists of routes/servers."""
    if isinstance(value, list):
        return sorted(repr(_norm(v)) for v in value)
    if isinstance(value, dict):
        return {k: _norm(v) for k, v in value.items()}
    return value


def _desired_lines(desired: Mapping[str, Any], current: dict[str, Any], *, hostname: str, negate: str,
                   leave: str, route: Any, dns: str, ntp: str, no_address: str,
                   no_shutdown: str) -> list[str]:
    lines: list[str] = []
    if desired.get("hostname") and desired["hostname"] != current.get("hostname"):
        lines.append(f"{hostname} {desired['hostname']}")
    for name, want in dict(desired.get("interfaces") or {}).items():
        have = current.get("interfaces", {}).get(name, {})
        body: list[str] = []
        if "address" in want and want["address"] != have.get("address"):
            if want["address"]:
                iface = ipaddress.IPv4Interface(want["address"])
                body.append(f"ip address {iface.ip} {iface.netmask}")
            else:
                body.append(no_address)
        if "description" in want and want["description"] != have.get("description", ""):
            body.append(f"description {want['description']}" if want["description"]
                        else f"{negate} description")
        if "enabled" in want and bool(want["enabled"]) != have.get("enabled", True):
            body.append(no_shutdown if want["enabled"] else "shutdown")
        if body:
            lines += [f"interface {name}", *body, leave]
    if "routes" in desired:
        want_routes = {route(r) for r in desired["routes"]}
        have_routes = {route(r) for r in current.get("routes", [])}
        lines += [f"{negate} {x}" for x in sorted(have_routes - want_routes)]
        lines += sorted(want_routes - have_routes)
    for key, verb in (("dns", dns), ("ntp", ntp)):
        if key in desired:
            want, have = set(desired[key]), set(current.get(key, []))
            lines += [f"{negate} {verb} {x}" for x in sorted(have - want)]
            lines += [f"{verb} {x}" for x in sorted(want - have)]
    lines += [str(x) for x in desired.get("lines") or [] if str(x) not in current.get("lines", [])]
    return lines


def _first_line(exc: BaseException) -> str:
    return next((x.strip() for x in str(exc).splitlines() if x.strip()), type(exc).__name__)


def _last_error(text: str) -> str:
    errors = [x.strip() for x in text.splitlines() if x.strip().startswith(("%", "Error"))]
    return errors[-1] if errors else text.strip().splitlines()[-1] if text.strip() else ""


def _rejected(message: str, device: str) -> CommandRejected:
    """netmiko's ConfigInvalidException text -> CommandRejected with the device's own words."""
    m = re.search(r"at command: (.*), matched error: (.*)", message)
    command, error = (m.group(1), m.group(2).strip()) if m else (None, message)
    code = "Error" if error.startswith("Error") else "%"
    return CommandRejected(code, error, device=device, command=command)


def _structured(blocks: Blocks, *, hostname: str, route: str, dns: str, ntp: str) -> dict[str, Any]:
    """The running configuration as data; the keywords are the dialect's (IOS or VRP), the
    interface and address syntax is the same in both."""
    glob = blocks.get("", [])
    interfaces: dict[str, Any] = {}
    for header, lines in blocks.items():
        if not header:
            continue
        addr = next((x.split() for x in lines if x.startswith("ip address ")), None)
        interfaces[header.split(None, 1)[1]] = {
            "address": _cidr(addr[2], addr[3]) if addr and len(addr) >= 4 else None,
            "description": next((x[len("description "):] for x in lines if x.startswith("description ")), ""),
            "enabled": "shutdown" not in lines,
        }
    routes = []
    for x in glob:
        w = x.split()
        if x.startswith(route) and len(w) >= 5:
            routes.append({"prefix": _cidr(w[2], w[3], network=True), "next_hop": w[4]})
    return {"hostname": next((x.split(None, 1)[1] for x in glob if x.startswith(hostname)), ""),
            "interfaces": interfaces, "routes": routes,
            "dns": [x.split()[2] for x in glob if x.startswith(dns)],
            "ntp": [x.split()[2] for x in glob if x.startswith(ntp)],
            "lines": glob}
