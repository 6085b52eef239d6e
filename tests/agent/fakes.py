"""A small line protocol device for agent tests: a simulator (on the real simulator harness, over
real TCP) and a driver for it (a real ``Driver`` over ``TcpTransport``).

The agent is brand-agnostic, so its tests use one simple protocol that can play every role
(codec, camera, switcher, display, recorder, power). Protocol, one line each way, CRLF:

    on connect     device: ``READY`` (or ``Password:`` -> client sends it -> ``OK``/``DENIED``)
    ID             ``ID vendor|model|serial|firmware``
    HEALTH         ``HEALTH ok`` | ``HEALTH degraded <reason>``
    GET k          ``VAL k v`` | ``ERR 404 unknown k``
    SET k v        ``OK`` (``net.address`` moves the device after replying)
    DUMP           ``VAL k v`` lines, then ``END``
    REBOOT         ``OK`` then the device restarts (unless the ``ignore-reboot`` fault is on)
    OUTLET n on|off|cycle   (PDU) ``OK``; switches the simulators wired to outlet n

Protocol fault knobs: ``ignore-reboot``, ``stuck=<key>`` (SET says OK, value does not change),
``degraded=<reason>``, ``unregistered``.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from agent.site import DeviceSpec, OutletRef
from drivers.errors import AuthError, CommandRejected, ConnectError, DeviceError, ProtocolError
from drivers.roles import (
    ApplyReport,
    CallInfo,
    CheckOutcome,
    ConfigChange,
    DeviceCheck,
    Driver,
    Endpoint,
    Health,
    Identity,
    Verdict,
)
from drivers.transports.tcp import TcpTransport
from simulators.harness import DeviceSimulator, SimConnection, TcpServer

DRIVER = "tests.agent.fakes:LineDriver"


# -- simulator ---------------------------------------------------------------------------------------
class LineSimulator(DeviceSimulator):
    default_boot_time = 0.3

    def __init__(self, *, serial: str, model: str = "line-1", firmware: str = "1.0",
                 settings: Mapping[str, str] | None = None, **kw: Any) -> None:
        super().__init__(**kw)
        self.serial = serial
        self.model = model
        self.firmware = firmware
        self.settings: dict[str, str] = {"sip.status": "Registered", "rec.free_percent": "80",
                                         "net.address": self.host}
        self.settings.update(settings or {})
        self.outlets: dict[int, list[DeviceSimulator]] = {}
        self.outlet_state: dict[int, bool] = {}
        self.reboots_requested = 0

    def build_servers(self) -> list[TcpServer]:
        return [TcpServer(self, self.host, self.port)]

    @property
    def port_bound(self) -> int:
        return self.servers[0].port  # type: ignore[attr-defined]

    def set_protocol_fault(self, knob: str, value: str) -> None:
        self.faults.extra[knob] = value

    def wire(self, outlet: int, sim: DeviceSimulator) -> None:
        self.outlets.setdefault(outlet, []).append(sim)
        self.outlet_state[outlet] = True

    def handle_connection(self, conn: SimConnection) -> None:
        if self.password:
            conn.send_raw(b"Password:")
            given = conn.read_until(b"\r\n", timeout=5).strip().decode()
            if given != self.password or self.faults.reject_password:
                conn.send_raw(b"DENIED\r\n")
                return
            conn.send_raw(b"OK\r\n")
        else:
            conn.send_raw(b"READY\r\n")
        while True:
            line = conn.read_until(b"\r\n", timeout=None).decode("latin-1").strip()
            if line:
                self._answer(conn, line)

    def _answer(self, conn: SimConnection, line: str) -> None:
        verb, _, rest = line.partition(" ")
        extra = self.faults.extra
        if verb == "ID":
            conn.send(f"ID Fake|{self.model}|{self.serial}|{self.firmware}\r\n")
        elif verb == "HEALTH":
            reason = extra.get("degraded")
            conn.send("HEALTH ok\r\n" if reason is None else f"HEALTH degraded {reason or 'fault'}\r\n")
        elif verb == "GET":
            value = self._value(rest)
            conn.send(f"VAL {rest} {value}\r\n" if value is not None else f"ERR 404 unknown {rest}\r\n")
        elif verb == "DUMP":
            for key in sorted(self.settings):
                conn.send(f"VAL {key} {self._value(key)}\r\n")
            conn.send("END\r\n")
        elif verb == "SET":
            key, _, value = rest.partition(" ")
            conn.send("OK\r\n")
            if extra.get("stuck") == key:
                return
            self.settings[key] = value
            if key == "net.address":
                threading.Timer(0.05, self.move_to, args=(value,)).start()
        elif verb == "REBOOT":
            self.reboots_requested += 1
            conn.send("OK\r\n")
            if "ignore-reboot" not in extra:
                threading.Timer(0.05, self.reboot).start()
        elif verb == "OUTLET":
            number, _, action = rest.partition(" ")
            self._outlet(int(number), action)
            conn.send("OK\r\n")
        else:
            conn.send(f"ERR 400 unknown command {verb}\r\n")

    def _value(self, key: str) -> str | None:
        if key == "sip.status" and "unregistered" in self.faults.extra:
            return "Failed"
        return self.settings.get(key)

    def _outlet(self, number: int, action: str) -> None:
        targets = self.outlets.get(number, [])
        if action in ("off", "cycle"):
            for sim in targets:
                sim.power_off()
            self.outlet_state[number] = False
        if action in ("on", "cycle"):
            for sim in targets:
                sim.power_on()
            self.outlet_state[number] = True

    def move_to(self, host: str) -> None:
        self.settings["net.address"] = host
        super().move_to(host)


# -- driver ------------------------------------------------------------------------------------------
class LineDriver(Driver):
    roles = frozenset({"codec", "camera", "switcher", "display", "recorder", "power"})

    def __init__(self, endpoint: Endpoint, *, name: str = "", **kw: Any) -> None:
        super().__init__(endpoint, name=name, **kw)
        self.roles = frozenset(endpoint.options.get("roles", self.roles))
        self._t: TcpTransport | None = None

    # session
    def connect(self) -> None:
        if self.connected:
            return
        t = TcpTransport(self.endpoint.host, self.endpoint.port, name=self.name, transcript=self.transcript,
                         connect_timeout=self.endpoint.timeout)
        t.open()
        try:
            banner = t.read_until(b":", self.endpoint.timeout) if self.endpoint.password else b""
            if self.endpoint.password:
                t.write(self.endpoint.password.encode() + b"\r\n")
                if b"DENIED" in t.read_until(b"\r\n", self.endpoint.timeout):
                    raise AuthError("password refused", device=self.name)
            else:
                banner = t.read_until(b"\r\n", self.endpoint.timeout)
                if b"READY" not in banner:
                    raise ProtocolError(f"unexpected banner {banner!r}", device=self.name, data=banner)
        except DeviceError:
            t.close()
            raise
        self._t = t

    def close(self) -> None:
        t, self._t = self._t, None
        if t is not None:
            t.close()

    @property
    def connected(self) -> bool:
        return self._t is not None and self._t.is_open

    def _ask(self, line: str) -> str:
        if self._t is None or not self._t.is_open:
            raise ConnectError("not connected", device=self.name)
        self._t.write(line.encode() + b"\r\n")
        reply = self._t.read_until(b"\r\n", self.endpoint.timeout).decode("latin-1").strip()
        if reply.startswith("ERR "):
            _, code, text = (reply.split(" ", 2) + [""])[:3]
            raise CommandRejected(code, text, device=self.name, command=line)
        return reply

    def _get(self, key: str) -> str:
        reply = self._ask(f"GET {key}")
        prefix = f"VAL {key} "
        if not reply.startswith(prefix):
            raise ProtocolError(f"bad reply {reply!r}", device=self.name, data=reply)
        return reply[len(prefix):]

    def _set(self, key: str, value: object) -> None:
        if self._ask(f"SET {key} {value}") != "OK":
            raise ProtocolError("SET not acknowledged", device=self.name)

    # common
    def identify(self) -> Identity:
        reply = self._ask("ID")
        parts = reply[3:].split("|") if reply.startswith("ID ") else []
        if len(parts) != 4:
            raise ProtocolError(f"bad identity {reply!r}", device=self.name, data=reply)
        return Identity(*parts)

    def health(self) -> Health:
        reply = self._ask("HEALTH")
        if reply == "HEALTH ok":
            return Health(Verdict.OK)
        if reply.startswith("HEALTH degraded"):
            return Health(Verdict.DEGRADED, (reply[16:] or "degraded",))
        raise ProtocolError(f"bad health {reply!r}", device=self.name, data=reply)

    def selftest_checks(self, expect: Mapping[str, Any]) -> list[DeviceCheck]:
        checks = [DeviceCheck("health", "device reports itself healthy", self._check_health, timeout=2.0)]
        if "codec" in self.roles and expect.get("registered"):
            checks.append(DeviceCheck("codec.registered", "SIP registered", self._check_registered,
                                      timeout=2.0, needs=("health",)))
        if "camera" in self.roles and "preset" in expect:
            preset = int(expect["preset"])
            checks.append(DeviceCheck("camera.preset", "camera recalls the meeting preset",
                                      lambda: self._check_preset(preset), timeout=2.0))
        return checks

    def _check_health(self) -> CheckOutcome:
        h = self.health()
        if h.verdict is Verdict.OK:
            return CheckOutcome.passed()
        return CheckOutcome.warned("; ".join(h.reasons))

    def _check_registered(self) -> CheckOutcome:
        status = self._get("sip.status")
        if status == "Registered":
            return CheckOutcome.passed(sip=status)
        return CheckOutcome.failed(f"SIP registration is {status}", sip=status)

    def _check_preset(self, preset: int) -> CheckOutcome:
        self.preset_recall(preset)
        return CheckOutcome.passed(preset=preset)

    def reboot(self, wait: bool = True, timeout: float | None = None) -> float | None:
        self._ask("REBOOT")
        self.close()
        return None

    def read_config(self) -> dict[str, Any]:
        if self._t is None:
            raise ConnectError("not connected", device=self.name)
        self._t.write(b"DUMP\r\n")
        out: dict[str, Any] = {}
        while True:
            line = self._t.read_until(b"\r\n", self.endpoint.timeout).decode("latin-1").strip()
            if line == "END":
                return out
            _, key, value = (line.split(" ", 2) + ["", ""])[:3]
            out[key] = value

    def apply_config(self, desired: Mapping[str, Any]) -> ApplyReport:
        report = ApplyReport()
        for key, value in desired.items():
            try:
                old = self._get(key)
            except CommandRejected:
                old = None
            if old == str(value):
                continue
            self._set(key, value)
            report.changes.append(ConfigChange(key, old, str(value)))
            if key == "net.address":
                self.close()   # the device is moving: read back from the new address
                continue
            now = self._get(key)
            if now != str(value):
                report.verified = False
                report.mismatches[key] = (str(value), now)
        return report

    # roles (settings-backed)
    def dial(self, uri: str, protocol: str = "sip", rate: int = 1920) -> str:
        self._set("call", uri)
        return "1"

    def hangup(self, call_id: str | None = None) -> None:
        self._set("call", "-")

    def calls(self) -> list[CallInfo]:
        try:
            uri = self._get("call")
        except CommandRejected:
            return []
        return [] if uri == "-" else [CallInfo("1", "outgoing", uri, "connected", 1920, "1920x1080", "sip")]

    def standby(self, on: bool) -> None:
        self._set("standby", "on" if on else "off")

    def mute(self, on: bool) -> None:
        self._set("mute", "on" if on else "off")

    def set_volume(self, level: int) -> None:
        self._set("volume", level)

    def preset_activate(self, preset: int) -> None:
        self._set("preset", preset)

    def preset_recall(self, preset: int) -> None:
        self._set("preset", preset)

    def set_main_source(self, source: int) -> None:
        self._set("main_source", source)

    def route(self, input: int, output: int, plane: str = "all") -> None:
        self._set(f"route.{output}", input)

    def routes(self) -> dict[int, int]:
        cfg = self.read_config()
        return {int(k[6:]): int(v) for k, v in cfg.items() if k.startswith("route.")}

    def power(self, on: bool) -> None:
        self._set("power", "on" if on else "off")

    def power_state(self) -> str:
        try:
            return "on" if self._get("power") == "on" else "standby"
        except CommandRejected:
            return "standby"

    def select_input(self, source: str) -> None:
        self._set("input", source)

    def current_input(self) -> str:
        return self._get("input")

    def record_start(self) -> None:
        self._set("record", "on")

    def record_stop(self) -> None:
        self._set("record", "off")

    def record_status(self) -> dict[str, Any]:
        cfg = self.read_config()
        return {"state": "recording" if cfg.get("record") == "on" else "stopped",
                "free_percent": float(cfg.get("rec.free_percent", 0))}

    def outlet_status(self, outlet: int | None = None) -> dict[int, bool]:
        return {}

    def outlet_on(self, outlet: int) -> None:
        self._ask(f"OUTLET {outlet} on")

    def outlet_off(self, outlet: int) -> None:
        self._ask(f"OUTLET {outlet} off")

    def outlet_cycle(self, outlet: int, off_seconds: float = 5.0) -> None:
        self._ask(f"OUTLET {outlet} cycle")


# -- building a simulated site -------------------------------------------------------------------------
def device_spec(site: str, name: str, sim: LineSimulator, roles: set[str], *, password: str = "",
                outlet: OutletRef | None = None, expect: Mapping[str, Any] | None = None,
                via: str | None = None, desired: Mapping[str, Any] | None = None,
                timeout: float = 0.5, boot_time: float = 3.0) -> DeviceSpec:
    ep = Endpoint("tcp", host=sim.host, port=sim.port_bound, password=password, timeout=timeout,
                  boot_time=boot_time, options={"roles": sorted(roles)})
    return DeviceSpec(id=f"{site}.{name}", driver=DRIVER, endpoint=ep, roles=frozenset(roles),
                      model=sim.model, identity={"serial": sim.serial}, outlet=outlet,
                      expect=dict(expect or {}), via=via, desired=dict(desired or {}))


def wait_until(condition: Any, timeout: float = 5.0, interval: float = 0.02) -> bool:
    """Test helper: poll ``condition()`` until true or ``timeout``; returns the last value."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def refuses(sim: LineSimulator) -> bool:
    """True once the simulator's TCP port refuses connections."""
    import socket

    try:
        with socket.create_connection((sim.host, sim.port_bound), timeout=0.5):
            return False
    except OSError:
        return True
