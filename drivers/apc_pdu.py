"""APC switched rack PDU (AP79xx, NMC AOS command line) over Telnet or SSH: role PowerOutlet.

Protocol facts (protocol notes, section 7): prompt ``apc>``; ``olStatus <n|all>``, ``olOn``,
``olOff``, ``olReboot``; every reply starts with a code line ``E000: Success``. E000, E001
(successfully issued) and E002 (reboot required) are success; every other code is the device
saying no and becomes ``CommandRejected(code, text)``.

[unverified] and therefore ``Endpoint.options``:
- ``prompt`` (default ``apc>``), ``username_prompt`` (regex, default ``User Name\\s*:``),
  ``password_prompt`` (regex, default ``Password\\s*:``): the login and prompt texts;
- ``success_codes`` (default E000, E001, E002);
- ``line_ending`` (default CR LF);
- the layout of ``olStatus`` data lines (`` 3: Codec: On``) and of ``about``
  (``Model Number:``, ``Serial Number:``, ``Version:``), parsed leniently.

A reply that arrives but never reaches the prompt and carries no code line is garbage
(``ProtocolError``); no reply at all is a ``DeviceTimeout``.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from typing import Any

from drivers.errors import AuthError, CommandRejected, DeviceError, DeviceTimeout, ProtocolError
from drivers.roles import (
    CheckOutcome,
    DeviceCheck,
    Driver,
    Endpoint,
    Health,
    Identity,
    Verdict,
)
from drivers.transcript import Transcript
from drivers.transports.base import Transport
from drivers.transports.telnet import TelnetTransport

_CODE_LINE = re.compile(r"^\s*(E\d{3}):\s*(.*?)\s*$", re.M)
_STATUS_LINE = re.compile(r"^\s*(\d+):\s*(.*?):\s*(On|Off)\b", re.M | re.I)
_ABOUT_FIELD = re.compile(r"^\s*(Model Number|Serial Number|Version|Name)\s*:\s*(.*?)\s*$", re.M)
DEFAULT_SUCCESS = ("E000", "E001", "E002")


class ApcPduDriver(Driver):
    roles = frozenset({"power"})

    def __init__(self, endpoint: Endpoint, *, name: str = "", transcript: Transcript | None = None) -> None:
        super().__init__(endpoint, name=name, transcript=transcript)
        opts = endpoint.options
        self.prompt = str(opts.get("prompt", "apc>"))
        self._prompt_re = re.compile(rb"\r?\n?" + re.escape(self.prompt.encode()) + rb" ?$")
        self._user_re = re.compile(str(opts.get("username_prompt", r"User Name\s*:")).encode(), re.I)
        self._password_re = re.compile(str(opts.get("password_prompt", r"Password\s*:")).encode(), re.I)
        self.success_codes = tuple(opts.get("success_codes", DEFAULT_SUCCESS))
        self.eol = str(opts.get("line_ending", "\r\n")).encode()
        self._transport: Transport | None = None
        self._dwell = threading.Event()   # set by close() to cut an outlet_cycle dwell short

    # session -------------------------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self._transport is not None and self._transport.is_open

    def connect(self) -> None:
        if self.connected:
            return
        ep = self.endpoint
        transport = self._make_transport()
        transport.open()
        self._transport = transport
        self._dwell.clear()
        try:
            if ep.transport == "telnet":
                self._telnet_login(transport)
            else:
                transport.read_until(self._prompt_re, ep.timeout)
        except BaseException:
            self.close()
            raise

    def _make_transport(self) -> Transport:
        ep = self.endpoint
        if ep.transport == "telnet":
            return TelnetTransport(ep.host, ep.port or 23, name=self.name, transcript=self.transcript,
                                   connect_timeout=ep.timeout)
        if ep.transport == "ssh":
            from drivers.transports.ssh import SshTransport

            return SshTransport(ep.host, ep.port or 22, username=ep.username, password=ep.password,
                                known_hosts=ep.known_hosts or None,
                                trust_on_first_use=ep.trust_on_first_use, name=self.name,
                                transcript=self.transcript, connect_timeout=ep.timeout)
        raise DeviceError(f"APC PDU speaks telnet or ssh, not {ep.transport!r}", device=self.name)

    def _telnet_login(self, transport: Transport) -> None:
        timeout = self.endpoint.timeout
        transport.read_until(self._user_re, timeout)
        transport.write(self.endpoint.username.encode() + self.eol)
        transport.read_until(self._password_re, timeout)
        transport.write(self.endpoint.password.encode() + self.eol)
        # A refused login asks for the user name again (or says so and hangs up).
        either = re.compile(self._prompt_re.pattern + rb"|" + self._user_re.pattern + rb"|Login failed",
                            re.I | re.M)
        reply = transport.read_until(either, timeout)
        if not self._prompt_re.search(reply):
            raise AuthError("APC PDU refused the login", device=self.name)

    def close(self) -> None:
        self._dwell.set()
        transport, self._transport = self._transport, None
        if transport is None:
            return
        try:
            if transport.is_open:
                transport.write(b"exit" + self.eol)
        except DeviceError:
            pass  # the link is already gone: closing is all that is left to do
        finally:
            transport.close()

    # one command ---------------------------------------------------------------------------------
    def command(self, line: str, timeout: float | None = None) -> list[str]:
        """Send one CLI line; return the data lines after a success code.

        Raises ``CommandRejected`` for any other code, ``ProtocolError`` for a reply without a
        code, ``DeviceTimeout`` when nothing complete came back in time."""
        if self._transport is None:
            self.connect()
        transport = self._transport
        assert transport is not None
        transport.write(line.encode() + self.eol)
        try:
            raw = transport.read_until(self._prompt_re, timeout or self.endpoint.timeout)
        except DeviceTimeout as exc:
            # The terminal echoes what we typed; only what comes after it is the device's reply.
            partial = exc.partial.decode("latin-1", "replace").replace(line, "", 1)
            if partial.strip() and not _CODE_LINE.search(partial):
                raise ProtocolError(f"unparseable reply to {line!r}", device=self.name,
                                    data=exc.partial) from exc
            raise
        text = raw.decode("latin-1", "replace")
        match = _CODE_LINE.search(text)
        if match is None:
            raise ProtocolError(f"no reply code in answer to {line!r}", device=self.name, data=raw)
        code, message = match.group(1), match.group(2)
        if code not in self.success_codes:
            raise CommandRejected(code, message, device=self.name, command=line)
        body = text[match.end():]
        return [row for row in (r.rstrip() for r in body.splitlines()) if row.strip()
                and not row.rstrip().endswith(self.prompt)]

    # PowerOutlet ---------------------------------------------------------------------------------
    def outlet_status(self, outlet: int | None = None) -> dict[int, bool]:
        rows = self.command(f"olStatus {'all' if outlet is None else int(outlet)}")
        status: dict[int, bool] = {}
        for row in rows:
            m = _STATUS_LINE.match(row)
            if m:
                status[int(m.group(1))] = m.group(3).lower() == "on"
        if not status or (outlet is not None and outlet not in status):
            raise ProtocolError(f"no outlet state in olStatus reply: {rows!r}", device=self.name)
        return status

    def outlet_on(self, outlet: int) -> None:
        self.command(f"olOn {int(outlet)}")

    def outlet_off(self, outlet: int) -> None:
        self.command(f"olOff {int(outlet)}")

    def outlet_reboot(self, outlet: int) -> None:
        """The PDU's own off/on cycle (its configured reboot duration)."""
        self.command(f"olReboot {int(outlet)}")

    def outlet_cycle(self, outlet: int, off_seconds: float = 5.0) -> None:
        """Hard power cycle: off, stay off for ``off_seconds`` (capacitors drain, the unit
        really resets), then on. The dwell is a deliberate pause, not a wait for a reply."""
        self.outlet_off(outlet)
        if self._dwell.wait(max(off_seconds, 0.0)):
            raise DeviceError(f"outlet {outlet} cycle interrupted while off", device=self.name)
        self.outlet_on(outlet)

    def outlet_names(self) -> dict[int, str]:
        names: dict[int, str] = {}
        for row in self.command("olName all"):
            number, _, name = row.strip().partition(":")
            if number.strip().isdigit():
                names[int(number)] = name.strip()
        return names

    # Driver --------------------------------------------------------------------------------------
    def identify(self) -> Identity:
        fields: dict[str, str] = {}
        for row in self.command("about"):
            m = _ABOUT_FIELD.match(row)
            if m and m.group(1) not in fields:
                fields[m.group(1)] = m.group(2)
        if "Model Number" not in fields:
            raise ProtocolError("no model number in the about reply", device=self.name)
        return Identity(vendor="APC", model=fields["Model Number"], serial=fields.get("Serial Number", ""),
                        firmware=fields.get("Version", ""))

    def health(self) -> Health:
        status = self.outlet_status()
        return Health(Verdict.OK, details={"outlets": {str(n): on for n, on in sorted(status.items())}})

    def selftest_checks(self, expect: Mapping[str, Any]) -> list[DeviceCheck]:
        checks = [DeviceCheck("pdu.reachable", "PDU answers olStatus", self._check_reachable)]
        if expect.get("serial"):
            checks.append(DeviceCheck("pdu.identity", "PDU serial number matches the profile",
                                      lambda: self._check_serial(str(expect["serial"])),
                                      needs=("pdu.reachable",)))
        powered = expect.get("outlets_on") or []
        if powered:
            checks.append(DeviceCheck("pdu.outlets_on", "outlets feeding room devices are on",
                                      lambda: self._check_outlets_on([int(n) for n in powered]),
                                      needs=("pdu.reachable",)))
        return checks

    def _check_reachable(self) -> CheckOutcome:
        status = self.outlet_status()
        return CheckOutcome.passed(f"{len(status)} outlets", outlets=len(status))

    def _check_serial(self, wanted: str) -> CheckOutcome:
        found = self.identify().serial
        if found == wanted:
            return CheckOutcome.passed(serial=found)
        return CheckOutcome.failed(f"serial {found!r}, profile says {wanted!r}", serial=found)

    def _check_outlets_on(self, outlets: list[int]) -> CheckOutcome:
        status = self.outlet_status()
        off = [n for n in outlets if not status.get(n, False)]
        if off:
            return CheckOutcome.failed(f"outlets off: {off}", off=off)
        return CheckOutcome.passed(outlets=outlets)

    def read_config(self) -> dict[str, Any]:
        return {"outlet_names": self.outlet_names()}
