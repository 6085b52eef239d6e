"""PJLink class 1 displays and projectors on TCP 4352 (class 2 queries where cheap).

Session: the device greets ``PJLINK 0`` (open) or ``PJLINK 1 <random>`` (authentication); the
first command then carries ``md5_hex(random + password)`` in front of it. ``PJLINK ERRA`` means
the password was wrong (``AuthError``). One command is outstanding at a time; each reply is
``%<class><CMD>=<result>`` and ``ERR1``..``ERR4`` become ``CommandRejected``. Any other complete
line (ending in CR), the greeting included, is a ``ProtocolError`` carrying the bytes.

Units close an idle connection (about 30 s **[unverified]**, option ``idle_timeout``); the driver
reopens the session before a command when it has been idle that long, and once more if the
device had already closed it (every PJLink command we send is idempotent).

Endpoint options (defaults): ``idle_timeout`` 25.0 s (reopen before the unit's idle close),
``warmup_timeout`` 90.0 s (how long ``display.power`` waits for warm-up), ``poll_interval``
0.5 s (power-state polling while waiting), ``digest_every_command`` false (send the
authentication digest before every command, for units that check it on each one).

``read_config()`` / ``apply_config()`` keys: ``input`` (PJLink input code, e.g. ``"31"``).
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections.abc import Mapping
from typing import Any

from drivers.errors import AuthError, CommandRejected, DeviceError, Disconnected, ProtocolError
from drivers.roles import (
    ApplyReport,
    CheckOutcome,
    ConfigChange,
    DeviceCheck,
    Driver,
    Health,
    Identity,
    Verdict,
)
from drivers.transports import TcpTransport

PJLINK_PORT = 4352

PJLINK_ERRORS = {
    "ERR1": "undefined command",
    "ERR2": "out of parameter",
    "ERR3": "unavailable time (warming up, cooling down or in standby)",
    "ERR4": "projector/display failure",
}
POWER_STATES = {"0": "standby", "1": "on", "2": "cooling", "3": "warming"}
ERROR_FIELDS = ("fan", "lamp", "temperature", "cover", "filter", "other")
ERROR_LEVELS = {"0": "ok", "1": "warning", "2": "error"}
INPUT_TYPES = {"1": "RGB", "2": "VIDEO", "3": "DIGITAL", "4": "STORAGE", "5": "NETWORK", "6": "INTERNAL"}

_GREETING = re.compile(rb"PJLINK (0|1 ([0-9A-Za-z]{8})|ERRA)\r")
#: Any complete line is the greeting or garbage: nothing else is said before the first command.
_LINE_END = b"\r"
_REPLY = re.compile(r"^%([12])([A-Z0-9]{4})=(.*)$")


class PJLinkDisplayDriver(Driver):
    roles = frozenset({"display"})

    def __init__(self, endpoint: Any, **kw: Any) -> None:
        super().__init__(endpoint, **kw)
        self._transport: TcpTransport | None = None
        self._pending_digest = ""
        self._last_io = 0.0
        self._class: int | None = None
        options = endpoint.options
        self.idle_timeout = float(options.get("idle_timeout", 25.0))
        self.warmup_timeout = float(options.get("warmup_timeout", 90.0))
        self.poll_interval = float(options.get("poll_interval", 0.5))
        # Send the digest before every command, not only the first (units and controllers
        # that check it on each command exist; the spec asks for it once).
        self.digest_every_command = bool(options.get("digest_every_command", False))
        self._digest = ""

    # -- session -----------------------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self._transport is not None and self._transport.is_open

    def connect(self) -> None:
        if self.connected:
            return
        ep = self.endpoint
        transport = TcpTransport(ep.host, ep.port or PJLINK_PORT, name=self.name, transcript=self.transcript,
                                 connect_timeout=ep.timeout)
        transport.open()
        try:
            greeting = transport.read_until(_LINE_END, ep.timeout)
        except DeviceError:
            transport.close()
            raise
        # A stray LF left over from a CR LF unit is not garbage; anything else before it is.
        m = _GREETING.fullmatch(greeting.lstrip(b"\n"))
        if m is None:
            transport.close()
            raise ProtocolError(f"not a PJLink greeting: {greeting[:80]!r}", device=self.name, data=greeting)
        if m.group(1) == b"ERRA":
            transport.close()
            raise AuthError("display refused the session (PJLINK ERRA)", device=self.name)
        self._pending_digest = ""
        if m.group(2):
            if not ep.password:
                transport.close()
                raise AuthError("display asks for a PJLink password and none is configured", device=self.name)
            digest = hashlib.md5(m.group(2) + ep.password.encode()).hexdigest()
            self.transcript.add_secret(digest)  # before it is ever written
            self._pending_digest = digest
        self._digest = self._pending_digest
        self._transport = transport
        self._last_io = time.monotonic()
        if self._pending_digest:
            # Prove the password now, so a wrong one fails connect() rather than a later command.
            self._class = self._class_from(self._exchange("1", "CLSS", "?"))

    def close(self) -> None:
        transport, self._transport = self._transport, None
        if transport is not None:
            transport.close()

    def _exchange(self, cls: str, cmd: str, param: str) -> str:
        """Send one command, return the result after ``=``; reopen once if the unit hung up."""
        if self.connected and time.monotonic() - self._last_io > self.idle_timeout:
            self.transcript.note("session idle: reopening before the unit closes it")
            self.close()
        for attempt in (1, 2):
            self.connect()
            try:
                return self._send_once(cls, cmd, param)
            except Disconnected:
                self.close()
                if attempt == 2:
                    raise
                self.transcript.note("display had closed the session: reopening once")
        raise AssertionError("unreachable")

    def _send_once(self, cls: str, cmd: str, param: str) -> str:
        transport = self._transport
        assert transport is not None
        line = f"%{cls}{cmd} {param}\r"
        digest = self._digest if self.digest_every_command else self._pending_digest
        transport.write(digest.encode() + line.encode())
        self._pending_digest = ""
        raw = transport.read_until(b"\r", self.endpoint.timeout)
        self._last_io = time.monotonic()
        text = raw[:-1].decode("latin-1").lstrip("\n")
        if text.startswith("PJLINK ERRA"):
            self.close()
            raise AuthError("wrong PJLink password (PJLINK ERRA)", device=self.name)
        m = _REPLY.match(text)
        if m is None or m.group(2) != cmd:
            raise ProtocolError(f"unexpected reply to {cmd}: {text!r}", device=self.name, data=raw)
        result = m.group(3)
        if result in PJLINK_ERRORS:
            raise CommandRejected(result, PJLINK_ERRORS[result], device=self.name, command=f"{cmd} {param}")
        return result

    def query(self, cmd: str, cls: str = "1") -> str:
        return self._exchange(cls, cmd, "?")

    def _class_from(self, text: str) -> int:
        if text not in ("1", "2"):
            raise ProtocolError(f"CLSS answered {text!r}", device=self.name, data=text)
        return int(text)

    def pjlink_class(self) -> int:
        if self._class is None:
            self._class = self._class_from(self.query("CLSS"))
        return self._class

    # -- Display role --------------------------------------------------------------------------------
    def power(self, on: bool) -> None:
        self._exchange("1", "POWR", "1" if on else "0")

    def power_state(self) -> str:
        code = self.query("POWR")
        try:
            return POWER_STATES[code]
        except KeyError:
            raise ProtocolError(f"POWR answered {code!r}", device=self.name, data=code) from None

    def wait_power(self, target: str, timeout: float) -> str:
        """Poll until the power state is ``target`` ("on" / "standby"); returns the last state."""
        deadline = time.monotonic() + timeout
        pause = threading.Event()
        while True:
            state = self.power_state()
            if state == target or time.monotonic() >= deadline:
                return state
            # Pacing between polls of a warming lamp, not a wait for a reply.
            pause.wait(min(self.poll_interval, max(0.0, deadline - time.monotonic())))

    def select_input(self, source: str) -> None:
        self._exchange("1", "INPT", source)

    def current_input(self) -> str:
        return self.query("INPT")

    def av_mute(self, on: bool, what: str = "3") -> None:
        """``what``: 1 video, 2 audio, 3 both."""
        self._exchange("1", "AVMT", f"{what}{1 if on else 0}")

    def errors(self) -> dict[str, str]:
        code = self.query("ERST")
        if len(code) != 6 or any(c not in ERROR_LEVELS for c in code):
            raise ProtocolError(f"ERST answered {code!r}", device=self.name, data=code)
        return {field: ERROR_LEVELS[c] for field, c in zip(ERROR_FIELDS, code, strict=True)}

    def lamp_hours(self) -> list[int]:
        text = self.query("LAMP")
        parts = text.split()
        # [0-9]+, not str.isdigit(): that accepts Latin-1 digits such as '\xb2' which int() refuses.
        if not parts or len(parts) % 2 or not all(re.fullmatch(r"[0-9]+", p) for p in parts):
            raise ProtocolError(f"LAMP answered {text!r}", device=self.name, data=text)
        return [int(h) for h in parts[0::2]]

    # -- common ----------------------------------------------------------------------------------------
    def identify(self) -> Identity:
        extra = {"name": self.query("NAME"), "class": str(self.pjlink_class())}
        serial = firmware = ""
        if self.pjlink_class() >= 2:
            serial = self.query("SNUM", cls="2")
            firmware = self.query("SVER", cls="2")
        return Identity(vendor=self.query("INF1"), model=self.query("INF2"), serial=serial,
                        firmware=firmware, extra=extra)

    def health(self) -> Health:
        state = self.power_state()
        errs = self.errors()
        details: dict[str, Any] = {"power": state, "errors": errs}
        try:
            details["lamp_hours"] = self.lamp_hours()
        except CommandRejected as exc:  # LED/laser displays answer ERR1: no lamp to count
            details["lamp_hours"] = f"n/a ({exc.code})"
        failing = [f"{k} {v}" for k, v in errs.items() if v == "error"]
        warnings = [f"{k} {v}" for k, v in errs.items() if v == "warning"]
        if failing:
            return Health(Verdict.DEGRADED, tuple(failing + warnings), details)
        return Health(Verdict.OK, tuple(warnings), details)

    def selftest_checks(self, expect: Mapping[str, Any]) -> list[DeviceCheck]:
        checks = [
            DeviceCheck("display.power", "display powered on (waits through warm-up)", self._check_power,
                        timeout=self.warmup_timeout + 5),
            DeviceCheck("display.errors", "no fan/lamp/temperature/cover/filter error", self._check_errors),
        ]
        if "input" in expect:
            wanted = str(expect["input"])
            checks.append(DeviceCheck("display.input", f"input {wanted} selected",
                                      lambda: self._check_input(wanted), needs=("display.power",)))
        if "lamp_hours_max" in expect:
            limit = int(expect["lamp_hours_max"])
            checks.append(DeviceCheck("display.lamp", f"lamp hours below {limit}",
                                      lambda: self._check_lamp(limit)))
        return checks

    def _check_power(self) -> CheckOutcome:
        if self.power_state() == "cooling":
            self.wait_power("standby", self.warmup_timeout)
        self.power(True)
        state = self.wait_power("on", self.warmup_timeout)
        if state != "on":
            return CheckOutcome.failed(f"display still {state} after {self.warmup_timeout:.0f} s",
                                       power=state)
        return CheckOutcome.passed("display on", power=state)

    def _check_errors(self) -> CheckOutcome:
        errs = self.errors()
        bad = {k: v for k, v in errs.items() if v != "ok"}
        if any(v == "error" for v in bad.values()):
            return CheckOutcome.failed(", ".join(f"{k} {v}" for k, v in bad.items()), **errs)
        if bad:
            return CheckOutcome.warned(", ".join(f"{k} {v}" for k, v in bad.items()), **errs)
        return CheckOutcome.passed("no errors", **errs)

    def _check_input(self, wanted: str) -> CheckOutcome:
        if self.current_input() != wanted:
            self.select_input(wanted)
        got = self.current_input()
        if got != wanted:
            return CheckOutcome.failed(f"input is {got}, wanted {wanted}", input=got)
        return CheckOutcome.passed(f"input {got}", input=got)

    def _check_lamp(self, limit: int) -> CheckOutcome:
        hours = self.lamp_hours()
        if max(hours, default=0) >= limit:
            return CheckOutcome.warned(f"lamp hours {hours} reached {limit}", lamp_hours=hours)
        return CheckOutcome.passed(f"lamp hours {hours}", lamp_hours=hours)

    def read_config(self) -> dict[str, Any]:
        return {"input": self.current_input()}

    def apply_config(self, desired: Mapping[str, Any]) -> ApplyReport:
        report = ApplyReport()
        if "input" in desired:
            wanted = str(desired["input"])
            old = self.current_input()
            if old != wanted:
                self.select_input(wanted)
                report.changes.append(ConfigChange("input", old, wanted))
            got = self.current_input()
            if got != wanted:
                report.verified = False
                report.mismatches["input"] = (wanted, got)
        return report
