"""A PJLink class 1 (and cheap class 2 queries) display or projector on TCP 4352.

Written from the protocol notes (``protocols.md`` section 6), not from the driver:

- greeting ``PJLINK 0\\r`` (no authentication) or ``PJLINK 1 <8 hex>\\r``; with authentication the
  first command must carry ``md5_hex(random + password)`` in front; a wrong digest gets
  ``PJLINK ERRA\\r`` and the connection is closed;
- commands ``%<class><CMD> <param>\\r`` answered ``%<class><CMD>=<result>\\r``; ``OK`` for a set,
  ``ERR1`` undefined command, ``ERR2`` out of parameter, ``ERR3`` unavailable time (warming,
  cooling, standby), ``ERR4`` display failure;
- power states ``0`` standby, ``1`` on, ``2`` cooling, ``3`` warming, with real warm-up and
  cool-down times; an idle connection is closed after ``idle_timeout`` seconds
  (about 30 s on real units **[unverified]**).

Options (``SimSpec.options``), with defaults: ``auth`` (on when a password is set),
``warmup`` 1.0 s, ``cooldown`` 1.0 s, ``lamp_hours`` 1200, ``inputs`` ["11", "31", "32"],
``input`` "31", ``pjlink_class`` 1, ``name`` (the PJLink NAME) "Projector", ``manufacturer`` "EPSON",
``idle_timeout`` 30.0 s, ``powered_on`` False.

Fault knobs (``set_protocol_fault``): ``fan-error``, ``lamp-error``, ``temp-error``,
``cover-open``, ``filter-error`` (value ``1`` warning or ``2`` error, default ``2``; filter
defaults to ``1``) and ``display-failure`` (every set and power command answers ``ERR4``).

Digest: the first command must carry it; the same digest in front of later commands (as some
controllers send it) is accepted and checked. The quirk ``digest-every-command`` makes the unit
demand it before every command (off by default).
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from typing import Any, Self

from simulators.harness import DeviceSimulator, SimConnection, TcpServer
from simulators.spec import SimSpec

PJLINK_PORT = 4352

POWER_STANDBY, POWER_ON, POWER_COOLING, POWER_WARMING = "0", "1", "2", "3"

#: ERST digit positions.
ERROR_FIELDS = ("fan", "lamp", "temp", "cover", "filter", "other")
_KNOB_FIELDS = {"fan-error": "fan", "lamp-error": "lamp", "temp-error": "temp", "cover-open": "cover",
                "filter-error": "filter"}

_COMMAND = re.compile(rb"^%([12])([A-Z0-9]{4}) (.{0,128})$")
_DIGEST = re.compile(rb"^[0-9a-f]{32}")
_CLASS1 = {"POWR", "INPT", "AVMT", "ERST", "LAMP", "INST", "NAME", "INF1", "INF2", "INFO", "CLSS"}
_CLASS2 = {"SNUM", "SVER", "INNM", "FILT", "INPT", "CLSS", "POWR", "ERST", "LAMP", "NAME", "INF1", "INF2",
           "INFO", "AVMT", "INST"}


class PJLinkSimulator(DeviceSimulator):
    default_boot_time = 1.0

    def __init__(self, *, host: str = "127.0.0.1", port: int = PJLINK_PORT, password: str = "",
                 auth: bool | None = None, warmup: float = 1.0, cooldown: float = 1.0,
                 lamp_hours: int = 1200, inputs: list[str] | None = None, input: str = "31",
                 pjlink_class: int = 1, display_name: str = "Projector", manufacturer: str = "EPSON",
                 product: str = "EB-L1000", serial: str = "PJ0001", firmware: str = "1.00",
                 idle_timeout: float = 30.0, powered_on: bool = False, **kw: Any) -> None:
        super().__init__(host=host, port=port, password=password, **kw)
        self.auth = bool(password) if auth is None else auth
        self.warmup = warmup
        self.cooldown = cooldown
        self.lamp_hours = lamp_hours
        self.inputs = list(inputs or ["11", "31", "32"])
        self.input = input
        self.pjlink_class = pjlink_class
        self.display_name = display_name
        self.manufacturer = manufacturer
        self.product = product
        self.serial = serial
        self.firmware = firmware
        self.idle_timeout = idle_timeout
        self.av_mute = "30"
        self.error_status = dict.fromkeys(ERROR_FIELDS, "0")
        self.display_failure = False
        self._state_lock = threading.Lock()
        # Power is a target state plus when the transition ends: states are computed on read.
        self._power_target = POWER_ON if powered_on else POWER_STANDBY
        self._transition_ends = 0.0
        self._lamp_on_since: float | None = time.monotonic() if powered_on else None

    @classmethod
    def from_spec(cls, spec: SimSpec, site: object | None = None) -> Self:
        o = spec.options
        return cls(
            name=spec.device_id, host=spec.host, port=spec.port, password=spec.password,
            boot_time=spec.boot_time, auth=o.get("auth"), warmup=float(o.get("warmup", 1.0)),
            cooldown=float(o.get("cooldown", 1.0)), lamp_hours=int(o.get("lamp_hours", 1200)),
            inputs=o.get("inputs"), input=str(o.get("input", "31")),
            pjlink_class=int(o.get("pjlink_class", 1)),
            manufacturer=spec.identity.get("vendor", o.get("manufacturer", "EPSON")),
            product=spec.identity.get("model", "EB-L1000"), serial=spec.identity.get("serial", "PJ0001"),
            firmware=spec.identity.get("firmware", "1.00"),
            idle_timeout=float(o.get("idle_timeout", 30.0)), powered_on=bool(o.get("powered_on", False)),
            display_name=str(o.get("name", "Projector")),
        )

    def build_servers(self) -> list:
        return [TcpServer(self, self.host, self.port)]

    # -- state -------------------------------------------------------------------------------------
    def power_state(self) -> str:
        with self._state_lock:
            now = time.monotonic()
            if now < self._transition_ends:
                return POWER_WARMING if self._power_target == POWER_ON else POWER_COOLING
            return self._power_target

    def _set_power(self, on: bool) -> str:
        """Start a transition; returns the reply code (OK or ERRn)."""
        state = self.power_state()
        with self._state_lock:
            now = time.monotonic()
            if on:
                if state == POWER_COOLING:
                    return "ERR3"
                if state in (POWER_ON, POWER_WARMING):
                    return "OK"
                self._power_target = POWER_ON
                self._transition_ends = now + self.warmup
                self._lamp_on_since = now
            else:
                if state == POWER_WARMING:
                    return "ERR3"
                if state in (POWER_STANDBY, POWER_COOLING):
                    return "OK"
                self._power_target = POWER_STANDBY
                self._transition_ends = now + self.cooldown
                self._bank_lamp_time(now)
            return "OK"

    def _bank_lamp_time(self, now: float) -> None:
        if self._lamp_on_since is not None:
            self.lamp_hours += int((now - self._lamp_on_since) // 3600)
            self._lamp_on_since = None

    def on_shutdown(self) -> None:
        with self._state_lock:
            self._bank_lamp_time(time.monotonic())
            self._power_target = POWER_STANDBY
            self._transition_ends = 0.0

    def set_protocol_fault(self, knob: str, value: str) -> None:
        if knob in _KNOB_FIELDS:
            level = value or ("1" if knob == "filter-error" else "2")
            if level not in ("0", "1", "2"):
                raise ValueError(f"{knob} level must be 0, 1 or 2, not {value!r}")
            self.error_status[_KNOB_FIELDS[knob]] = level
        elif knob == "display-failure":
            self.display_failure = value not in ("0", "off", "false")
        elif knob == "digest-every-command":
            self.faults.extra[knob] = "1"
        else:
            super().set_protocol_fault(knob, value)

    def clear_faults(self) -> None:
        super().clear_faults()
        self.error_status = dict.fromkeys(ERROR_FIELDS, "0")
        self.display_failure = False

    # -- protocol ------------------------------------------------------------------------------------
    def handle_connection(self, conn: SimConnection) -> None:
        challenge = ""
        if self.auth:
            challenge = "".join(f"{self.rng.randrange(16):x}" for _ in range(8))
            conn.send(f"PJLINK 1 {challenge}\r")
        else:
            conn.send("PJLINK 0\r")
        authenticated = not self.auth
        while True:
            try:
                line = conn.read_until(b"\r", timeout=self.idle_timeout)
            except TimeoutError:
                return  # idle disconnect, as real units do
            line = line[:-1]
            if self.auth:
                # The digest must come with the first command; a client that sends it before
                # every command is accepted too (the same digest, checked each time). With the
                # ``digest-every-command`` quirk the unit demands it on every command.
                digest = _DIGEST.match(line)
                expected = hashlib.md5((challenge + self.password).encode()).hexdigest()
                needed = not authenticated or "digest-every-command" in self.faults.extra
                if digest is None and needed or digest is not None and (
                        digest.group(0).decode() != expected or self.faults.reject_password):
                    conn.send_raw("PJLINK ERRA\r")
                    return
                authenticated = True
                if digest is not None:
                    line = line[32:]
            conn.send(self.answer(line) + "\r")

    def answer(self, line: bytes) -> str:
        m = _COMMAND.match(line)
        if m is None:
            head = line[:6].decode("latin-1", "replace")
            if len(head) == 6 and head[0] == "%":
                return f"{head}=ERR1"
            return "%1ERR1=ERR1" if not head else f"{head.ljust(6, '?')[:6]}=ERR1"
        cls, cmd, param = m.group(1).decode(), m.group(2).decode(), m.group(3).decode("latin-1")
        prefix = f"%{cls}{cmd}="
        allowed = _CLASS1 if cls == "1" else _CLASS2
        if cls == "2" and self.pjlink_class < 2 or cmd not in allowed:
            return prefix + "ERR1"
        return prefix + self._execute(cmd, param)

    def _execute(self, cmd: str, param: str) -> str:
        query = param == "?"
        state = self.power_state()
        if cmd == "POWR":
            if query:
                return state
            if param not in ("0", "1"):
                return "ERR2"
            if self.display_failure or (param == "1" and self.error_status["lamp"] == "2"):
                return "ERR4"
            return self._set_power(param == "1")
        if cmd == "INPT":
            if param not in self.inputs and not query:
                return "ERR2"
            if state != POWER_ON:
                return "ERR3"
            if query:
                return self.input
            if self.display_failure:
                return "ERR4"
            self.input = param
            return "OK"
        if cmd == "AVMT":
            if query:
                return self.av_mute if state == POWER_ON else "ERR3"
            if param not in ("10", "11", "20", "21", "30", "31"):
                return "ERR2"
            if state != POWER_ON:
                return "ERR3"
            self.av_mute = param
            return "OK"
        if not query:
            return "ERR2"
        return self._info(cmd, state)

    def _info(self, cmd: str, state: str) -> str:
        if cmd == "ERST":
            return "".join(self.error_status[f] for f in ERROR_FIELDS)
        if cmd == "LAMP":
            hours = self.lamp_hours
            if self._lamp_on_since is not None:
                hours += int((time.monotonic() - self._lamp_on_since) // 3600)
            return f"{hours} {1 if state in (POWER_ON, POWER_WARMING) else 0}"
        if cmd == "INST":
            return " ".join(self.inputs)
        table = {
            "NAME": self.display_name, "INF1": self.manufacturer, "INF2": self.product,
            "INFO": f"{self.product} fw {self.firmware}", "CLSS": str(self.pjlink_class),
            "SNUM": self.serial, "SVER": self.firmware, "FILT": "0", "INNM": "",
        }
        return table.get(cmd, "ERR1")
