"""What both codec drivers share: configuration keys, resolution from rate, pacing, the
reboot-and-reconnect loop, apply-config bookkeeping and the self-test checks.

Configuration keys (``read_config`` returns them, ``apply_config`` takes them; the agent and the
relocation code rely on exactly these names, whatever the brand):

    network.assignment     "Static" | "DHCP"
    network.ipv4.address   "10.1.2.3"
    network.ipv4.mask      "255.255.255.0"
    network.ipv4.gateway   "10.1.2.1"
    network.dns            "10.1.0.53"   (first DNS server)
    sip.uri                "room@example.org"
    sip.proxy              "sip.example.org" (proxy / registrar)
    sip.username           "room"
    sip.password           write-only: never read back in clear (read_config leaves it out)
    h323.gatekeeper        "gk.example.org"
    h323.alias             "room"
    system.name            "Urumqi Room 1"

Self-test expectations (``selftest_checks(expect)``): ``serial`` (str), ``registered`` (bool),
``test_uri`` (str), ``hd_rate`` (kbps that counts as HD, default 1472), ``preset`` (int),
``rate`` (kbps to dial the test call at, default ``hd_rate``).
"""

from __future__ import annotations

import threading
import time
from abc import abstractmethod
from collections.abc import Mapping
from typing import Any

from drivers.errors import ConnectError, DeviceError, DeviceTimeout, Disconnected
from drivers.roles import (
    ApplyReport,
    CallInfo,
    CheckOutcome,
    ConfigChange,
    DeviceCheck,
    Driver,
    Health,
    Identity,
    Verdict,
)
from drivers.transports.base import Transport
from drivers.transports.tcp import TcpTransport
from drivers.transports.telnet import TelnetTransport

CONFIG_KEYS: tuple[str, ...] = (
    "network.assignment", "network.ipv4.address", "network.ipv4.mask", "network.ipv4.gateway",
    "network.dns", "sip.uri", "sip.proxy", "sip.username", "sip.password", "h323.gatekeeper",
    "h323.alias", "system.name",
)
WRITE_ONLY_KEYS = frozenset({"sip.password"})
SECRET_MASK = "********"

#: (minimum kbps, resolution), best first. Used where the codec does not report the negotiated
#: resolution (Poly ``callinfo``): an estimate from H.264 rate figures at 30 fps, documented as such.
RATE_RESOLUTIONS: tuple[tuple[int, str], ...] = (
    (1472, "1920x1080"),
    (768, "1280x720"),
    (384, "704x576"),
    (128, "352x288"),
    (0, "176x144"),
)
DEFAULT_HD_RATE = 1472


def resolution_for_rate(rate_kbps: int, max_resolution: str = "1920x1080") -> str:
    cap = _lines(max_resolution)
    for minimum, resolution in RATE_RESOLUTIONS:
        if rate_kbps >= minimum and _lines(resolution) <= cap:
            return resolution
    return RATE_RESOLUTIONS[-1][1]


def _lines(resolution: str) -> int:
    try:
        return int(resolution.lower().split("x")[1])
    except (IndexError, ValueError):
        return 1080


class RateLimiter:
    """Keeps at least ``interval`` seconds between commands. It does not sleep: ``remaining``
    says how long to go, and the driver spends that time reading what the device sends
    (notifications), so pacing costs nothing and loses nothing."""

    def __init__(self, interval: float) -> None:
        self.interval = max(interval, 0.0)
        self._last = float("-inf")

    def remaining(self) -> float:
        return max(0.0, self._last + self.interval - time.monotonic())

    def mark(self) -> None:
        self._last = time.monotonic()


def opt(options: Mapping[str, Any], key: str, default: Any) -> Any:
    value = options.get(key, default)
    return default if value is None else value


def verdict_of(reasons_down: list[str], reasons_degraded: list[str]) -> Verdict:
    if reasons_down:
        return Verdict.DOWN
    return Verdict.DEGRADED if reasons_degraded else Verdict.OK


class CodecDriverBase(Driver):
    """Brand-neutral codec behaviour on top of a few vendor primitives."""

    roles = frozenset({"codec"})

    #: The API's transport when the profile says neither "ssh" nor "tcp" (Cisco: telnet; Poly: telnet 24).
    default_stream = "telnet"
    #: The address we reach the unit at now (changes when apply_config moves it).
    host: str = ""
    port: int = 0
    _transport: Transport | None = None

    @property
    def connected(self) -> bool:
        return self._transport is not None and self._transport.is_open

    def connect(self) -> None:
        if not self.connected:
            self._connect_once(self.endpoint.timeout)

    def close(self) -> None:
        transport, self._transport = self._transport, None
        close_quietly(transport)

    def _io(self) -> Transport:
        """The open stream to the unit; framers read lines and frames off its one buffer."""
        if self._transport is None or not self._transport.is_open:
            raise Disconnected("not connected", device=self.name)
        return self._transport

    def _make_transport(self, connect_timeout: float) -> Transport:
        """SSH (host key pinned), Telnet, raw TCP or RS-232 to the codec's API, as the endpoint says."""
        ep = self.endpoint
        common: dict[str, Any] = {"name": self.name, "transcript": self.transcript,
                                  "connect_timeout": connect_timeout}
        if ep.transport == "serial":
            from drivers.transports.serial_line import SerialTransport

            return SerialTransport(ep.serial_url, baudrate=ep.baudrate, **common)
        if ep.transport == "ssh":
            from drivers.transports.ssh import SshTransport

            return SshTransport(self.host, self.port, username=ep.username or "admin", password=ep.password,
                                known_hosts=ep.known_hosts or None,
                                trust_on_first_use=ep.trust_on_first_use, **common)
        kind = ep.transport if ep.transport in ("telnet", "tcp") else self.default_stream
        if kind == "tcp":
            return TcpTransport(self.host, self.port, **common)
        return TelnetTransport(self.host, self.port, **common)

    # vendor primitives ---------------------------------------------------------------------------
    @abstractmethod
    def _send_reboot(self) -> None:
        """Send the restart command (the session is expected to drop)."""

    @abstractmethod
    def _write_setting(self, key: str, value: Any) -> None: ...

    @abstractmethod
    def _after_apply(self, changed: list[str]) -> None:
        """Make written settings take effect (a restart on some models) and reconnect."""

    def _read_until_dropped(self, deadline: float) -> bool:
        """Read (and discard) until the session drops; False if it is still up at ``deadline``.
        An RS-232 line never drops: there the unit is restarting once it stops answering."""
        if self.endpoint.transport == "serial":
            pause = threading.Event()   # waiting between probes is not waiting for a reply
            while time.monotonic() < deadline:
                try:
                    self.identify()
                except (DeviceTimeout, Disconnected):
                    return True
                pause.wait(max(min(0.2, deadline - time.monotonic()), 0.0))
            return False
        try:
            link = self._io()
            while time.monotonic() < deadline:
                link.fill(deadline)
                link.pending.clear()
        except Disconnected:
            return True
        return False

    @abstractmethod
    def wait_for_call(self, call_id: str, states: tuple[str, ...], timeout: float) -> CallInfo | None:
        """Follow call notifications until the call is in one of ``states`` (None: it ended)."""

    @abstractmethod
    def identify(self) -> Identity: ...

    @abstractmethod
    def health(self) -> Health: ...

    @abstractmethod
    def calls(self) -> list[CallInfo]: ...

    @abstractmethod
    def dial(self, uri: str, protocol: str = "sip", rate: int = 1920) -> str: ...

    @abstractmethod
    def hangup(self, call_id: str | None = None) -> None: ...

    @abstractmethod
    def preset_activate(self, preset: int) -> None: ...

    # reboot ----------------------------------------------------------------------------------
    def reboot(self, wait: bool = True, timeout: float | None = None) -> float | None:
        """Restart; with ``wait`` reconnect and return the seconds the unit was away.

        Raises ``DeviceTimeout`` if the session does not drop (the unit ignored the command:
        the caller may power-cycle it) or it is not back within ``timeout`` (default: the
        endpoint's boot time plus a margin)."""
        budget = timeout if timeout is not None else self.endpoint.boot_time + 30.0
        started = time.monotonic()
        self._send_reboot()
        drop_within = float(opt(self.endpoint.options, "reboot_drop_timeout", 10.0))
        if not self._read_until_dropped(started + min(drop_within, budget)):
            raise DeviceTimeout("the unit did not restart after the reboot command", device=self.name)
        self.close()
        self.transcript.note("reboot: session dropped")
        if not wait:
            return None
        self.reconnect_until(started + budget)
        return time.monotonic() - started

    def reconnect_until(self, deadline: float) -> None:
        """Connect attempts with short timeouts until one succeeds or ``deadline`` passes."""
        pause = threading.Event()   # waiting between attempts is not waiting for a reply
        last: DeviceError | None = None
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DeviceTimeout(f"the unit was not back within the deadline ({last})", device=self.name)
            try:
                self._connect_once(min(2.0, max(remaining, 0.1)))
                return
            except (ConnectError, DeviceTimeout, Disconnected) as exc:
                last = exc
                self.close()
            pause.wait(min(0.1, max(deadline - time.monotonic(), 0)))

    @abstractmethod
    def _connect_once(self, connect_timeout: float) -> None:
        """One fresh connect + login + session setup with the given connect timeout (vendor-specific)."""

    # configuration ---------------------------------------------------------------------------
    def apply_config(self, desired: Mapping[str, Any]) -> ApplyReport:
        """Write what differs (address last), make it take effect, read back and verify."""
        unknown = set(desired) - set(CONFIG_KEYS)
        if unknown:
            from drivers.errors import Unsupported

            raise Unsupported(f"unknown configuration keys: {', '.join(sorted(unknown))}", device=self.name)
        current = self.read_config()
        report = ApplyReport()
        order = sorted(desired, key=lambda k: (k == "network.ipv4.address", k == "network.assignment", k))
        for key in order:
            value = desired[key]
            if key in WRITE_ONLY_KEYS:
                if not self._password_needs_writing(current, desired):
                    continue
                self.transcript.add_secret(str(value))
                self._write_setting(key, value)
                report.changes.append(ConfigChange(key, SECRET_MASK, SECRET_MASK))
                continue
            if _same(current.get(key), value):
                continue
            self._write_setting(key, value)
            report.changes.append(ConfigChange(key, current.get(key), value))
        if report.changes:
            self._after_apply([c.key for c in report.changes])
        after = self.read_config()
        for key, value in desired.items():
            if key in WRITE_ONLY_KEYS:
                continue
            if not _same(after.get(key), value):
                report.mismatches[key] = (value, after.get(key))
        report.verified = not report.mismatches
        return report

    def _password_needs_writing(self, current: Mapping[str, Any], desired: Mapping[str, Any]) -> bool:
        """A password cannot be compared: write it when other SIP credentials change or the
        unit is not registered (then the stored one is evidently not working)."""
        for key in ("sip.uri", "sip.proxy", "sip.username"):
            if key in desired and not _same(current.get(key), desired[key]):
                return True
        return not self.sip_registered()

    def sip_registered(self) -> bool:
        return str(self.health().details.get("sip", "")).lower() == "registered"

    # self-test ---------------------------------------------------------------------------------
    def selftest_checks(self, expect: Mapping[str, Any]) -> list[DeviceCheck]:
        checks = [DeviceCheck("codec.reachable", "reachable and logged in", self._check_reachable, 10.0)]
        if expect.get("serial"):
            checks.append(DeviceCheck("codec.identity", "identity matches the profile",
                                      lambda: self._check_identity(str(expect["serial"])), 10.0,
                                      ("codec.reachable",)))
        if "registered" in expect:
            checks.append(DeviceCheck("codec.registered", "registered to SIP / gatekeeper as expected",
                                      lambda: self._check_registered(bool(expect["registered"])), 10.0,
                                      ("codec.reachable",)))
        checks.append(DeviceCheck("codec.idle", "not in an unexpected call", self._check_idle, 10.0,
                                  ("codec.reachable",)))
        checks.append(DeviceCheck("codec.diagnostics", "diagnostics clean", self._check_diagnostics, 10.0,
                                  ("codec.reachable",)))
        if "preset" in expect:
            checks.append(DeviceCheck("codec.preset", "camera preset recall works",
                                      lambda: self._check_preset(int(expect["preset"])), 15.0,
                                      ("codec.reachable",)))
        if expect.get("test_uri"):
            hd_rate = int(expect.get("hd_rate", DEFAULT_HD_RATE))
            rate = int(expect.get("rate", hd_rate))
            checks.append(DeviceCheck("codec.test_call", "test call connects at the expected rate",
                                      lambda: self._check_test_call(str(expect["test_uri"]), rate, hd_rate),
                                      45.0, ("codec.reachable", "codec.idle")))
        return checks

    def _ensure_connected(self) -> None:
        if not self.connected:
            self.connect()

    def _check_reachable(self) -> CheckOutcome:
        self._ensure_connected()
        ident = self.identify()
        return CheckOutcome.passed(f"{ident.model} {ident.firmware}", model=ident.model)

    def _check_identity(self, serial: str) -> CheckOutcome:
        ident = self.identify()
        if ident.serial.strip().lower() != serial.strip().lower():
            return CheckOutcome.failed(f"serial {ident.serial!r}, profile expects {serial!r}",
                                       serial=ident.serial)
        return CheckOutcome.passed(f"serial {ident.serial}", serial=ident.serial)

    def _check_registered(self, expected: bool) -> CheckOutcome:
        details = self.health().details
        sip = str(details.get("sip", "")).lower()
        gk = str(details.get("h323", "")).lower()
        registered = sip == "registered" or gk == "registered"
        measured = {"sip": details.get("sip"), "h323": details.get("h323")}
        if registered == expected:
            return CheckOutcome.passed("registered" if registered else "not registered, as expected",
                                       **measured)
        return CheckOutcome.failed(f"SIP {details.get('sip')}, H.323 {details.get('h323')}", **measured)

    def _check_idle(self) -> CheckOutcome:
        active = self.calls()
        if active:
            return CheckOutcome.failed(f"in {len(active)} call(s): " +
                                       ", ".join(c.remote_uri for c in active), calls=len(active))
        return CheckOutcome.passed("no call in progress", calls=0)

    def _check_diagnostics(self) -> CheckOutcome:
        health = self.health()
        messages = list(health.details.get("diagnostics", []))
        if messages:
            return CheckOutcome.failed("; ".join(messages), messages=messages)
        return CheckOutcome.passed("no active diagnostics", messages=[])

    def _check_preset(self, preset: int) -> CheckOutcome:
        self.preset_activate(preset)
        return CheckOutcome.passed(f"preset {preset} recalled", preset=preset)

    def _check_test_call(self, uri: str, rate: int, hd_rate: int) -> CheckOutcome:
        call_id = self.dial(uri, "sip", rate)
        try:
            info = self.wait_for_call(call_id, ("connected",), timeout=20.0)
            if info is None:
                return CheckOutcome.failed(f"test call to {uri} ended before it connected")
            if info.state != "connected":
                return CheckOutcome.failed(f"test call to {uri} did not connect ({info.state})")
            measured = {"rate_kbps": info.rate_kbps, "resolution": info.resolution, "hd": info.is_hd}
            if info.rate_kbps < hd_rate:
                return CheckOutcome.failed(f"connected at {info.rate_kbps} kbps, expected {hd_rate}",
                                           **measured)
            return CheckOutcome.passed(f"connected at {info.rate_kbps} kbps {info.resolution}", **measured)
        finally:
            self.hangup(call_id)


def _same(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is b
    return str(a).strip().lower() == str(b).strip().lower()


def call_state(text: str) -> str:
    """Vendor call states onto the neutral CallInfo states."""
    low = text.strip().lower()
    mapping: dict[str, str] = {
        "dialling": "dialing", "dialing": "dialing", "opened": "dialing", "allocated": "dialing",
        "ringing": "ringing", "alerting": "ringing", "earlymedia": "ringing",
        "connecting": "connecting", "connected": "connected", "onhold": "connected",
        "remotehold": "connected", "complete": "connected",
        "disconnecting": "disconnecting", "disconnected": "idle", "idle": "idle", "inactive": "idle",
    }
    return mapping.get(low, low)


def close_quietly(transport: Transport | None) -> None:
    """Close a link that may already be dead; closing must never raise (Driver.close)."""
    if transport is None:
        return
    try:
        transport.close()
    except (OSError, EOFError) as exc:
        transport.transcript.note(f"close: link already gone ({type(exc).__name__})")
