"""Extron SIS: matrix switchers (``Switcher``) and SMP 351-kind recorders (``Recorder``), over
Telnet (``Endpoint.transport == "telnet"``, port 23) or RS-232 (``"serial"``, 9600 8N1).

Session, login, verbose mode and error mapping live in ``drivers.extron_sis_session``.

Endpoint options (defaults):
- ``verbose_mode`` 3 (verbose + tagged: unsolicited messages arrive and are kept as events);
- ``password_prompt_wait`` 1.0 s: how long to wait for ``Password:`` after the banner when a
  password is configured (a unit without a password never prompts);
- ``banner_wait`` 1.5 s / ``verbose_wait`` 1.0 s: how long the copyright banner and the ``Vrbn``
  reply are awaited before going on without them (noted once);
- ``boot_time``: ``Endpoint.boot_time`` — how long ``reboot(wait=True)`` tries to reconnect;
- ``reconnect_interval`` 0.2 s between reconnect attempts after a reboot;
- recorder: ``recording_extension`` ".m4v" (which files in the ``Esc LF`` listing are
  recordings) **[unverified: that the newest listed recording is the one being written]**.

- ``network_commands``: {"address": "CI", "mask": "CS", "gateway": "CG"} — the SIS letters of
  the IP settings (``Esc <value><letters> CR`` sets, ``Esc <letters> CR`` views); any of them
  can be overridden per model;
- ``readdress_timeout`` 15.0 s: how long to try to reconnect at a new address after setting it
  **[unverified: how long a unit takes to come up on its new address]**.

Unverified SIS facts relied on: the tie view ``Y%``/``Y$`` answers the input number (tagged
``OutY InX Vid`` accepted too); a host-issued preset recall answers ``Rprnn`` and a save
``Sprnn``; the recorder's pause of a stopped recording is refused with an ``Exx``; the subnet
mask and gateway letters ``CS`` / ``CG`` and the tags of their answers (``Ips`` / ``Ipg``: any
``Ipx`` tag, or none, is accepted); a model without a setting answers ``E10``.

``read_config()`` / ``apply_config()`` keys: switcher ``routes`` ({output: input}, tied on all
planes) and ``name`` (device name, ``Esc <name>CN``); recorder ``name``; both
``network.ipv4.address``, ``network.ipv4.mask`` and ``network.ipv4.gateway``. The address is
written last; over Telnet the unit then answers at the new address only, so the driver
reconnects there (``host`` follows it), reads every network key back and verifies it.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from drivers.errors import (
    CommandRejected,
    ConnectError,
    DeviceError,
    DeviceTimeout,
    Disconnected,
    ProtocolError,
)
from drivers.extron_sis_session import SisSession
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
from drivers.transports import SerialTransport, TelnetTransport

TELNET_PORT = 23
PLANES = {"all": "!", "video": "%", "rgb": "&", "audio": "$"}
PLANE_TAGS = {"!": "All", "%": "Vid", "&": "RGB", "$": "Aud"}
RECORD_STATES = {"0": "stopped", "1": "recording", "2": "paused"}
_LISTING_DATE = r"\w{3}, \d{1,2} \w{3} \d{4} \d{2}:\d{2}:\d{2} \w+"

ADDRESS_KEY = "network.ipv4.address"
#: driver config key -> short name in the ``network_commands`` option -> default SIS letters
#: (``CI`` from the protocol notes; ``CS`` and ``CG`` are **[unverified]** SIS conventions)
NETWORK_KEYS = {ADDRESS_KEY: "address", "network.ipv4.mask": "mask", "network.ipv4.gateway": "gateway"}
DEFAULT_NETWORK_COMMANDS = {"address": "CI", "mask": "CS", "gateway": "CG"}
_IPV4 = r"\d{1,3}(?:\.\d{1,3}){3}"
#: a set or a view of an IP setting: ``Ipi 10.0.0.5`` (tagged) or the bare value
_IP_REPLY = rf"(?:Ip\w )?({_IPV4})"


class ExtronSisDriver(Driver):
    """What every SIS unit shares: session, identity, name, reboot."""

    def __init__(self, endpoint: Endpoint, **kw: Any) -> None:
        super().__init__(endpoint, **kw)
        o = endpoint.options
        self.verbose_mode = int(o.get("verbose_mode", 3))
        self.prompt_wait = float(o.get("password_prompt_wait", 1.0))
        self.banner_wait = float(o.get("banner_wait", 1.5))
        self.verbose_wait = float(o.get("verbose_wait", 1.0))
        self.reconnect_interval = float(o.get("reconnect_interval", 0.2))
        self.readdress_timeout = float(o.get("readdress_timeout", 15.0))
        letters = {**DEFAULT_NETWORK_COMMANDS, **dict(o.get("network_commands", {}))}
        self.network_commands = {key: str(letters[short]) for key, short in NETWORK_KEYS.items()}
        if endpoint.transport not in ("telnet", "tcp", "serial"):
            raise ConnectError(f"Extron SIS runs over telnet or serial, not {endpoint.transport!r}",
                               device=self.name)
        #: The address we reach the unit at now (changes when apply_config moves it).
        self.host = endpoint.host
        self._session: SisSession | None = None

    # -- session -------------------------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self._session is not None and self._session.is_open

    @property
    def session(self) -> SisSession:
        self.connect()
        assert self._session is not None
        return self._session

    @property
    def events(self) -> list[str]:
        """Unsolicited messages seen so far (front-panel changes, other controllers)."""
        return list(self._session.events) if self._session else []

    def connect(self) -> None:
        if self.connected:
            return
        ep = self.endpoint
        serial = ep.transport == "serial"
        transport: SerialTransport | TelnetTransport
        if serial:
            transport = SerialTransport(ep.serial_url, baudrate=ep.baudrate, name=self.name,
                                        transcript=self.transcript, connect_timeout=ep.timeout)
        else:
            transport = TelnetTransport(self.host, ep.port or TELNET_PORT, name=self.name,
                                        transcript=self.transcript, connect_timeout=ep.timeout)
        session = SisSession(transport, name=self.name, password=ep.password,
                             verbose_mode=self.verbose_mode, timeout=ep.timeout, telnet=not serial,
                             prompt_wait=self.prompt_wait, banner_wait=self.banner_wait,
                             verbose_wait=self.verbose_wait)
        session.open()
        self._session = session

    def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            session.close()

    def command(self, text: str, expect: str, timeout: float | None = None) -> Any:
        return self.session.command(text, expect, timeout)

    # -- common ----------------------------------------------------------------------------------------
    def part_number(self) -> str:
        return self.command("N", r"(?:Pno)?(60-\d+-\d+)").group(1)

    def firmware(self) -> str:
        return self.command("*Q", r"(?:Ver\d*\*)?([\d.]+)").group(1)

    def device_name(self) -> str:
        return self.command("\x1bCN\r", r"(?:Ipn )?(\S.*)").group(1)

    def set_device_name(self, name: str) -> None:
        self.command(f"\x1b{name}CN\r", r"Ipn (.*)")

    # -- network settings --------------------------------------------------------------------------
    def network_setting(self, key: str) -> str:
        """One IP setting (``network.ipv4.address`` / ``.mask`` / ``.gateway``) as the unit has it."""
        return self.command(f"\x1b{self.network_commands[key]}\r", _IP_REPLY).group(1)

    def set_network_setting(self, key: str, value: str) -> None:
        if not re.fullmatch(_IPV4, value):
            raise ValueError(f"{key} must be a dotted IPv4 address, not {value!r}")
        self.command(f"\x1b{value}{self.network_commands[key]}\r", _IP_REPLY)

    def network_config(self) -> dict[str, str]:
        """Every IP setting the unit knows; one it answers ``E10`` (invalid command) for is left
        out: that model has no such setting, or needs other letters (``network_commands``)."""
        out: dict[str, str] = {}
        for key in NETWORK_KEYS:
            try:
                out[key] = self.network_setting(key)
            except CommandRejected as exc:
                if exc.code != "E10":
                    raise
                self.transcript.note(f"{key}: the unit does not know {self.network_commands[key]} (E10)")
        return out

    def _apply_network(self, desired: Mapping[str, Any], report: ApplyReport) -> None:
        """Mask and gateway first, the address last (the session ends with it); then follow the
        unit to its new address, read every key back and verify."""
        wanted = {key: str(desired[key]) for key in NETWORK_KEYS if key in desired}
        if not wanted:
            return
        current = self.network_config()
        for key in sorted(wanted, key=lambda k: k == ADDRESS_KEY):
            if current.get(key) == wanted[key]:
                continue
            if key == ADDRESS_KEY:
                self._readdress(wanted[key])
            else:
                self.set_network_setting(key, wanted[key])
            report.changes.append(ConfigChange(key, current.get(key), wanted[key]))
        after = self.network_config() if report.changes else current
        for key, value in wanted.items():
            if after.get(key) != value:
                report.verified = False
                report.mismatches[key] = (value, after.get(key))

    def _readdress(self, address: str) -> None:
        try:
            self.set_network_setting(ADDRESS_KEY, address)
        except (Disconnected, DeviceTimeout) as exc:
            # The unit may move before its answer reaches us: the read-back at the new address decides.
            self.transcript.note(f"no answer to the address change ({exc.reason}): following it anyway")
        if self.endpoint.transport == "serial":
            return   # the serial line does not move with the IP address
        old, self.host = self.host, address
        self.transcript.note(f"address {old} -> {address}: reconnecting there")
        self.close()
        self._reconnect_until(time.monotonic() + self.readdress_timeout, "at its new address")

    def _reconnect_until(self, deadline: float, where: str) -> None:
        pause = threading.Event()
        while True:
            try:
                self.connect()
                return
            except (ConnectError, DeviceTimeout, Disconnected) as exc:
                if time.monotonic() >= deadline:
                    raise DeviceTimeout(f"unit not answering {where}: {exc}", device=self.name) from exc
            # Pacing between connect attempts to a unit that is not listening yet, not a wait for a reply.
            pause.wait(min(self.reconnect_interval, max(0.0, deadline - time.monotonic())))

    def identify(self) -> Identity:
        session = self.session
        part = self.part_number()
        firmware = self.firmware()
        model = session.banner.model or str(self.endpoint.options.get("model", ""))
        return Identity(vendor="Extron", model=model, serial=self.serial_number(),
                        firmware=firmware, extra={"part": part, "login": session.login_level})

    def serial_number(self) -> str:
        """From the unit where its model reports one (option ``serial_query``: the Escape-command
        body, e.g. ``"99I"`` [unverified, per model]; reply pattern ``serial_reply``), else ""."""
        query = str(self.endpoint.options.get("serial_query", ""))
        if not query:
            return str(self.endpoint.options.get("serial", ""))
        reply = str(self.endpoint.options.get("serial_reply", r"(?:\w+ )?([0-9A-Za-z-]+)"))
        return str(self.command(f"\x1b{query}\r", reply).group(1))

    def reboot(self, wait: bool = True, timeout: float | None = None) -> float | None:
        started = time.monotonic()
        self.command("\x1b1BOOT\r", r"Boot1")
        limit = self.endpoint.boot_time if timeout is None else timeout
        deadline = started + limit
        if wait:
            self._await_drop(deadline)  # reconnecting before the unit went down would find the old one
        self.close()
        if not wait:
            return None
        self._reconnect_until(deadline, f"{limit:.0f} s after reboot")
        return time.monotonic() - started

    def _await_drop(self, deadline: float) -> None:
        """Read until the rebooting unit closes the session (a serial line never closes)."""
        transport = self.session.transport
        if self.endpoint.transport == "serial":
            return
        try:
            while time.monotonic() < deadline:
                transport.read_some(max(0.0, deadline - time.monotonic()))
        except Disconnected:
            return

    def _check_alive(self) -> CheckOutcome:
        firmware = self.firmware()
        return CheckOutcome.passed(f"firmware {firmware}", firmware=firmware)

    def _apply_name(self, desired: Mapping[str, Any], report: ApplyReport) -> None:
        if "name" not in desired:
            return
        wanted = str(desired["name"])
        old = self.device_name()
        if old != wanted:
            self.set_device_name(wanted)
            report.changes.append(ConfigChange("name", old, wanted))
        got = self.device_name()
        if got != wanted:
            report.verified = False
            report.mismatches["name"] = (wanted, got)


class ExtronSwitcherDriver(ExtronSisDriver):
    roles = frozenset({"switcher"})

    def __init__(self, endpoint: Endpoint, **kw: Any) -> None:
        super().__init__(endpoint, **kw)
        self._size: tuple[int, int] | None = None

    def size(self) -> tuple[int, int]:
        """(inputs, outputs) from ``I`` (``V8X8 A8X8``)."""
        if self._size is None:
            m = self.command("I", r"V(\d+)X(\d+)(?: A(\d+)X(\d+))?.*")
            self._size = (int(m.group(1)), int(m.group(2)))
        return self._size

    # -- Switcher role ---------------------------------------------------------------------------------
    def route(self, input: int, output: int, plane: str = "all") -> None:
        suffix = _plane(plane)
        self.command(f"{input}*{output}{suffix}", rf"Out0*{output} In0*{input} {PLANE_TAGS[suffix]}")

    def route_to_all(self, input: int, plane: str = "all") -> None:
        suffix = _plane(plane)
        self.command(f"{input}*{suffix}", rf"In0*{input} {PLANE_TAGS[suffix]}")

    def quick_ties(self, ties: Mapping[int, int], plane: str = "all") -> None:
        """Several ties at once (``Esc +Q 1*2!1*3! CR`` -> ``Qik``)."""
        suffix = _plane(plane)
        body = "".join(f"{inp}*{out}{suffix}" for out, inp in sorted(ties.items()))
        self.command(f"\x1b+Q{body}\r", r"Qik")

    def tie_view(self, output: int, plane: str = "video") -> int:
        suffix = _plane(plane)
        m = self.command(f"{output}{suffix}", rf"(?:Out0*{output} In)?0*(\d+)(?: \w+)?")
        return int(m.group(1))

    def routes(self) -> dict[int, int]:
        return {out: self.tie_view(out, "video") for out in range(1, self.size()[1] + 1)}

    def audio_routes(self) -> dict[int, int]:
        return {out: self.tie_view(out, "audio") for out in range(1, self.size()[1] + 1)}

    def preset_recall(self, preset: int) -> None:
        self.command(f"{preset}.", rf"Rpr0*{preset}")

    def preset_save(self, preset: int) -> None:
        self.command(f"{preset},", rf"Spr0*{preset}")

    def video_mute(self, output: int, on: bool) -> None:
        self.command(f"{output}*{int(on)}B", rf"Vmt0*{output}\*{int(on)}")

    def audio_mute(self, output: int, on: bool) -> None:
        self.command(f"{output}*{int(on)}Z", rf"Amt0*{output}\*{int(on)}")

    def video_muted(self, output: int) -> bool:
        return self.command(f"{output}*B", r"(?:Vmt0*\d+\*)?([01])").group(1) == "1"

    # -- common ----------------------------------------------------------------------------------------
    def health(self) -> Health:
        inputs, outputs = self.size()
        status = self.command("S", r"(.*)").group(1)
        return Health(Verdict.OK, (), {"inputs": inputs, "outputs": outputs, "status": status,
                                       "firmware": self.firmware()})

    def selftest_checks(self, expect: Mapping[str, Any]) -> list[DeviceCheck]:
        checks = [DeviceCheck("switcher.alive", "switcher answers SIS queries", self._check_alive)]
        if "routes" in expect:
            wanted = {int(k): int(v) for k, v in dict(expect["routes"]).items()}
            checks.append(DeviceCheck("switcher.routes", "video ties as the room needs",
                                      lambda: self._check_routes(wanted), needs=("switcher.alive",)))
        return checks

    def _check_routes(self, wanted: Mapping[int, int]) -> CheckOutcome:
        actual = {out: self.tie_view(out, "video") for out in wanted}
        wrong = {out: (inp, actual[out]) for out, inp in wanted.items() if actual[out] != inp}
        if wrong:
            text = ", ".join(f"out {o}: in {got} (want {want})" for o, (want, got) in sorted(wrong.items()))
            return CheckOutcome.failed(text, routes=actual)
        return CheckOutcome.passed(f"{len(wanted)} ties as expected", routes=actual)

    def read_config(self) -> dict[str, Any]:
        return {"routes": self.routes(), "name": self.device_name(), **self.network_config()}

    def apply_config(self, desired: Mapping[str, Any]) -> ApplyReport:
        report = ApplyReport()
        if "routes" in desired:
            wanted = {int(k): int(v) for k, v in dict(desired["routes"]).items()}
            current = {out: self.tie_view(out, "video") for out in wanted}
            changed = {out: inp for out, inp in wanted.items() if current[out] != inp}
            if changed:
                self.quick_ties(changed)
                report.changes.extend(ConfigChange(f"routes.{o}", current[o], i) for o, i in changed.items())
            back = {out: self.tie_view(out, "video") for out in wanted}
            for out, inp in wanted.items():
                if back[out] != inp:
                    report.verified = False
                    report.mismatches[f"routes.{out}"] = (inp, back[out])
        self._apply_name(desired, report)
        self._apply_network(desired, report)
        return report


class ExtronRecorderDriver(ExtronSisDriver):
    """SMP 351 kind: ``Esc Y1RCDR`` start, ``Y0`` stop, ``Y2`` pause (replies ``RcdrYn``),
    ``Esc YRCDR`` state, ``35I`` elapsed time, ``I`` recording status, ``Esc LF`` file list."""

    roles = frozenset({"recorder"})

    def __init__(self, endpoint: Endpoint, **kw: Any) -> None:
        super().__init__(endpoint, **kw)
        self.extension = str(endpoint.options.get("recording_extension", ".m4v"))

    def record_start(self) -> None:
        self.command("\x1bY1RCDR\r", r"RcdrY1")

    def record_stop(self) -> None:
        self.command("\x1bY0RCDR\r", r"RcdrY0")

    def record_pause(self) -> None:
        self.command("\x1bY2RCDR\r", r"RcdrY2")

    def record_state(self) -> str:
        return RECORD_STATES[self.command("\x1bYRCDR\r", r"(?:RcdrY)?([012])").group(1)]

    def elapsed(self) -> int:
        m = self.command("35I", r"(?:Inf35\*)?(\d+):(\d\d):(\d\d)")
        return int(m.group(1)) * 3600 + int(m.group(2)) * 60 + int(m.group(3))

    def status_line(self) -> dict[str, str]:
        """``I``: <ChA1*ChB3>*<state>*<destination>*<free KB>*<elapsed>*<remaining>."""
        line = self.command("I", r"<.*>").group(0)
        parts = line[1:-1].split(">*<")
        if len(parts) < 6:
            raise ProtocolError(f"recording status {line!r}", device=self.name, data=line)
        return {"channels": parts[0], "state": parts[1], "destination": parts[2], "free_kb": parts[3],
                "elapsed": parts[4], "remaining": parts[5]}

    def recordings(self) -> list[tuple[str, datetime, int]]:
        """Files from ``Esc LF``: (path, date, bytes), recordings only, oldest first."""
        pattern = re.compile(rf"(?P<file>.+) (?P<date>{_LISTING_DATE}) (?P<size>\d+)")
        rows = self.session.block("\x1bLF\r", r"\d+ Bytes Left", row=pattern.pattern)
        out = []
        for row in rows[:-1]:
            m = pattern.fullmatch(row)
            if m is None:
                raise ProtocolError(f"file list row {row!r}", device=self.name, data=row)
            if m.group("file").endswith(self.extension):
                when = datetime.strptime(m.group("date").rsplit(" ", 1)[0], "%a, %d %b %Y %H:%M:%S")
                out.append((m.group("file"), when, int(m.group("size"))))
        return sorted(out, key=lambda r: (r[1], r[0]))

    def record_status(self) -> dict[str, Any]:
        state = self.record_state()
        files = self.recordings()
        status: dict[str, Any] = {"state": state, "elapsed": self.elapsed() if state != "stopped" else 0,
                                  "file": files[-1][0] if files and state != "stopped" else "",
                                  "last_file": files[-1][0] if files else ""}
        try:
            status["free_kb"] = int(self.status_line()["free_kb"].split("*")[0])
        except ValueError:
            status["free_kb"] = None
        return status

    # -- common ----------------------------------------------------------------------------------------
    def identify(self) -> Identity:
        ident = super().identify()
        model = self.command("1I", r"(?:Inf01\*)?(.+)").group(1)
        return Identity(vendor=ident.vendor, model=model, serial=ident.serial, firmware=ident.firmware,
                        extra=ident.extra)

    def health(self) -> Health:
        status = self.record_status()
        reasons: tuple[str, ...] = ()
        verdict = Verdict.OK
        if status.get("free_kb") is not None and status["free_kb"] < 1_000_000:
            verdict, reasons = Verdict.DEGRADED, (f"storage nearly full: {status['free_kb']} KB free",)
        return Health(verdict, reasons, status)

    def selftest_checks(self, expect: Mapping[str, Any]) -> list[DeviceCheck]:
        minimum = int(expect.get("min_free_kb", 1_000_000))
        return [DeviceCheck("recorder.ready", "recorder answers and has room to record",
                            lambda: self._check_ready(minimum))]

    def _check_ready(self, minimum_kb: int) -> CheckOutcome:
        try:
            status = self.record_status()
        except DeviceError as exc:
            return CheckOutcome.failed(f"status unreadable: {exc}")
        free = status.get("free_kb")
        if free is not None and free < minimum_kb:
            return CheckOutcome.failed(f"only {free} KB free", **status)
        return CheckOutcome.passed(f"{status['state']}, {free} KB free", **status)

    def read_config(self) -> dict[str, Any]:
        return {"name": self.device_name(), **self.network_config()}

    def apply_config(self, desired: Mapping[str, Any]) -> ApplyReport:
        report = ApplyReport()
        self._apply_name(desired, report)
        self._apply_network(desired, report)
        return report


def _plane(plane: str) -> str:
    try:
        return PLANES[plane]
    except KeyError:
        raise ValueError(f"plane must be one of {', '.join(PLANES)}, not {plane!r}") from None
