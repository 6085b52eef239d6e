"""State every simulated video codec shares, whatever its API dialect.

``CodecSimulator`` holds the device model (standby, microphones, volume, camera presets, main
source, presentation, network / SIP / H.323 settings, registration, diagnostics, calls) and
plays its part in the call fabric. The Cisco and Poly simulators add the wire protocol and turn
every call change into their own notifications through ``call_changed``.

Spec options read by ``options_from_spec`` (defaults in brackets):
``sip_uri`` [""], ``sip_proxy`` ["sip.roomops.test" when a URI is set], ``sip_username`` [""],
``h323_alias`` [""], ``h323_gatekeeper`` [""], ``max_rate`` kbps [6000], ``max_resolution``
["1920x1080"], ``multisite`` (simultaneous video calls) [1], ``auto_answer`` [True],
``system_name`` [device id], ``network`` {assignment, mask, gateway, dns} [Static,
255.0.0.0, 127.0.0.1, 127.0.0.53], ``presets`` (number of camera presets) [35].

Fault knobs beyond the harness ones: ``unregistered`` (SIP and H.323 registration fail),
``diagnostics=TEXT`` (an active diagnostics message), ``ignore-reboot`` (the unit acknowledges
its reboot command and keeps running), ``config-lock=KEY[,KEY]`` (those settings are
acknowledged but keep their value; no value: every setting).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from simulators.fabric import CallFabric, CallLink, Cause, DialFailed, default_fabric
from simulators.harness import ConnectionClosed, DeviceSimulator, SimConnection
from simulators.spec import SimSpec


@dataclass(eq=False)
class SimCall:
    call_id: int
    direction: str                  # "outgoing" | "incoming"
    remote_uri: str
    protocol: str
    rate: int
    state: str = "dialling"         # dialling | ringing | connected | ended
    remote_name: str = ""
    resolution: str = ""
    link: CallLink | None = field(default=None, repr=False)
    cause: Cause | None = None


@dataclass
class CodecOptions:
    serial: str = "SIM0001"
    model: str = "Codec"
    firmware: str = "1.0"
    system_name: str = "room"
    sip_uri: str = ""
    sip_proxy: str = ""
    sip_username: str = ""
    sip_password: str = ""
    h323_alias: str = ""
    h323_gatekeeper: str = ""
    max_rate: int = 6000
    max_resolution: str = "1920x1080"
    multisite: int = 1
    auto_answer: bool = True
    network: dict[str, Any] = field(default_factory=dict)
    presets: int = 35


def options_from_spec(spec: SimSpec, *, model: str, firmware: str) -> CodecOptions:
    o = spec.options
    ident = spec.identity
    sip_uri = str(o.get("sip_uri", ""))
    return CodecOptions(
        serial=ident.get("serial", "SIM0001"),
        model=ident.get("model", model),
        firmware=ident.get("firmware", firmware),
        system_name=str(o.get("system_name", spec.device_id)),
        sip_uri=sip_uri,
        sip_proxy=str(o.get("sip_proxy", "sip.roomops.test" if sip_uri else "")),
        sip_username=str(o.get("sip_username", "")),
        h323_alias=str(o.get("h323_alias", "")),
        h323_gatekeeper=str(o.get("h323_gatekeeper", "")),
        max_rate=int(o.get("max_rate", 6000)),
        max_resolution=str(o.get("max_resolution", "1920x1080")),
        multisite=int(o.get("multisite", 1)),
        auto_answer=bool(o.get("auto_answer", True)),
        network=dict(o.get("network", {})),
        presets=int(o.get("presets", 35)),
    )


class CodecSimulator(DeviceSimulator):
    """Codec state machine + call fabric party. Subclasses speak the protocol."""

    def __init__(self, *, options: CodecOptions | None = None, fabric: CallFabric | None = None,
                 **kw: Any) -> None:
        super().__init__(**kw)
        self.opts = options or CodecOptions()
        self.fabric = fabric if fabric is not None else default_fabric()
        self.fabric_name = self.opts.system_name
        self.max_rate = self.opts.max_rate
        self.max_resolution = self.opts.max_resolution
        self.auto_answer = self.opts.auto_answer
        self.state_lock = threading.RLock()
        self._call_ids = itertools.count(1)
        net = self.opts.network
        self.settings: dict[str, Any] = {
            "network.assignment": str(net.get("assignment", "Static")),
            "network.ipv4.address": self.host,
            "network.ipv4.mask": str(net.get("mask", "255.0.0.0")),
            "network.ipv4.gateway": str(net.get("gateway", "127.0.0.1")),
            "network.dns": str(net.get("dns", "127.0.0.53")),
            "sip.uri": self.opts.sip_uri,
            "sip.proxy": self.opts.sip_proxy,
            "sip.username": self.opts.sip_username,
            "sip.password": self.opts.sip_password,
            "h323.alias": self.opts.h323_alias,
            "h323.gatekeeper": self.opts.h323_gatekeeper,
            "system.name": self.opts.system_name,
        }
        self._registered_as: list[str] = []
        self.pending_address: str | None = None   # applied when the change takes effect
        self.presets: dict[int, int] = {}         # kept in flash: survives a reboot
        self._reset_volatile()

    def _reset_volatile(self) -> None:
        with self.state_lock:
            self.standby = False
            self.mic_mute = False
            self.volume = 50
            self.camera_position = 0
            self.main_source = 1
            self.presentation_source: int | None = None
            self.calls: dict[int, SimCall] = {}

    # lifecycle ---------------------------------------------------------------------------------
    def start(self) -> CodecSimulator:
        super().start()
        self.update_registration()
        return self

    def stop(self) -> None:
        self.fabric.drop_party(self)
        self._registered_as = []
        super().stop()

    def on_shutdown(self) -> None:
        self.fabric.drop_party(self)
        self._registered_as = []
        self._reset_volatile()

    def on_boot(self) -> None:
        if self.pending_address:
            address, self.pending_address = self.pending_address, None
            self.move_to(address)
        self.update_registration(booting=True)   # the harness marks the unit up only after on_boot

    def reboot_command(self) -> bool:
        """The reboot command arrived: reboot unless the ``ignore-reboot`` fault is on."""
        if "ignore-reboot" in self.faults.extra:
            return False
        self.reboot()
        return True

    # faults ------------------------------------------------------------------------------------
    def set_protocol_fault(self, knob: str, value: str) -> None:
        if knob not in ("unregistered", "diagnostics", "ignore-reboot", "config-lock"):
            raise ValueError(f"{type(self).__name__} has no fault knob {knob!r}")
        # config-lock=KEY[,KEY...]: those settings are acknowledged but keep their value, as on a
        # unit whose provisioning server owns them ("*" or no value: every setting)
        self.faults.extra[knob] = value or ("Video input 1 has no signal" if knob == "diagnostics" else
                                            "*" if knob == "config-lock" else "1")
        self.update_registration()

    def clear_faults(self) -> None:
        super().clear_faults()
        self.update_registration()

    def diagnostics(self) -> list[tuple[str, str, str]]:
        """Active diagnostics messages as (type, level, description)."""
        out: list[tuple[str, str, str]] = []
        text = self.faults.extra.get("diagnostics")
        if text:
            out.append(("SimulatedFault", "Warning", text))
        if self.sip_status() == "Failed":
            out.append(("SIPProfileRegistration", "Error", "SIP registration failed"))
        return out

    # registration -----------------------------------------------------------------------------
    def sip_status(self) -> str:
        if not self.settings["sip.uri"] or not self.settings["sip.proxy"]:
            return "Inactive"
        return "Failed" if "unregistered" in self.faults.extra else "Registered"

    def h323_status(self) -> str:
        if not self.settings["h323.gatekeeper"]:
            return "Inactive"
        return "Rejected" if "unregistered" in self.faults.extra else "Registered"

    def update_registration(self, *, booting: bool = False) -> None:
        """Register the URI / alias in the fabric exactly while the unit is registered
        (``booting``: from ``on_boot``, when the unit is about to be up)."""
        for address in self._registered_as:
            self.fabric.unregister(address, self)
        wanted: list[str] = []
        if (booting or not self.down) and self.started:
            if self.sip_status() == "Registered":
                wanted.append(self.settings["sip.uri"])
            if self.h323_status() == "Registered" and self.settings["h323.alias"]:
                wanted.append(self.settings["h323.alias"])
        for address in wanted:
            self.fabric.register(address, self)
        self._registered_as = wanted

    def own_uri(self, protocol: str) -> str:
        if protocol == "h323" and self.settings["h323.alias"]:
            return self.settings["h323.alias"]
        return self.settings["sip.uri"] or self.settings["h323.alias"] or self.host

    # settings ------------------------------------------------------------------------------------
    def set_setting(self, key: str, value: Any, *, address_effect: str = "now") -> None:
        """Store a setting. A new IPv4 address takes effect ``now`` (after the reply: call
        ``apply_pending_address``) or at the next ``boot``."""
        locked = self.faults.extra.get("config-lock", "")
        if locked == "*" or key in locked.split(","):
            return
        with self.state_lock:
            if key == "network.ipv4.address":
                if value != self.settings[key]:
                    self.pending_address = str(value)
                self.settings[key] = str(value)
                return
            self.settings[key] = value
        if key.startswith(("sip.", "h323.")):
            self.update_registration()
        if key == "system.name":
            self.fabric_name = str(value)

    def apply_pending_address(self) -> None:
        """Serve on the new address (closes every session, as a real unit's IP change does)."""
        if self.pending_address:
            address, self.pending_address = self.pending_address, None
            self.move_to(address)

    # calls ---------------------------------------------------------------------------------------
    def call_changed(self, call: SimCall) -> None:
        """Override: tell the sessions (feedback, notifications). Called without locks held."""

    def active_calls(self) -> list[SimCall]:
        with self.state_lock:
            return [c for c in self.calls.values() if c.state != "ended"]

    def start_call(self, uri: str, protocol: str, rate: int) -> SimCall:
        """Allocate an outgoing call (the dial reply carries its id); ``DialFailed`` with
        ``BUSY`` when every call slot is taken. ``connect_call`` then rings the far end."""
        with self.state_lock:
            if len(self.active_calls()) >= max(self.opts.multisite, 1):
                raise DialFailed(Cause.BUSY, "Maximum number of calls reached")
            call = SimCall(next(self._call_ids), "outgoing", uri, protocol, min(rate, self.max_rate))
            self.calls[call.call_id] = call
            self.standby = False
        return call

    def connect_call(self, call: SimCall) -> None:
        registered = self.sip_status() if call.protocol != "h323" else self.h323_status()
        if registered != "Registered":
            self._end(call, Cause.NETWORK)
            return
        self.call_changed(call)
        try:
            link = self.fabric.dial(self, self.own_uri(call.protocol), call.call_id, call.remote_uri,
                                    call.protocol, call.rate)
        except DialFailed as exc:
            self._end(call, exc.cause)
            return
        with self.state_lock:
            call.link = link
            call.remote_name = link.callee.fabric_name
            changed = call.state == "dialling"
            if changed:
                call.state = "ringing"
        if changed:
            self.call_changed(call)

    def _end(self, call: SimCall, cause: Cause) -> None:
        with self.state_lock:
            if call.state == "ended":
                return
            call.state = "ended"
            call.cause = cause
            self.calls.pop(call.call_id, None)
        self.call_changed(call)

    def hangup(self, call_id: int | None = None) -> list[SimCall]:
        """Hang up one call or all; returns the calls ended."""
        with self.state_lock:
            targets = list(self.calls.values()) if call_id is None else (
                [self.calls[call_id]] if call_id in self.calls else [])
        for call in targets:
            declined = call.direction == "incoming" and call.state == "ringing"
            if call.link is not None:
                self.fabric.hangup(call.link, self, Cause.REJECTED if declined else Cause.REMOTE)
            self._end(call, Cause.LOCAL)
        return targets

    def answer(self, call_id: int | None = None) -> bool:
        with self.state_lock:
            ringing = [c for c in self.calls.values() if c.direction == "incoming" and c.state == "ringing"
                       and (call_id is None or c.call_id == call_id)]
        if not ringing or ringing[0].link is None:
            return False
        self.fabric.answer(ringing[0].link)
        return True

    # fabric party --------------------------------------------------------------------------------
    def fabric_incoming(self, link: CallLink, remote_uri: str, protocol: str) -> int | None:
        if self.down:
            return None
        with self.state_lock:
            if len(self.active_calls()) >= max(self.opts.multisite, 1):
                return None
            call = SimCall(next(self._call_ids), "incoming", remote_uri, protocol, link.rate,
                           state="ringing", remote_name=link.caller.fabric_name, link=link)
            self.calls[call.call_id] = call
            self.standby = False   # an incoming call wakes the unit
        self.call_changed(call)
        return call.call_id

    def fabric_connected(self, link: CallLink) -> None:
        with self.state_lock:
            call = self.calls.get(link.call_id_of(self))
            if call is None:
                return
            call.link = link
            call.state = "connected"
            call.rate = link.rate
            call.resolution = link.resolution
        self.call_changed(call)

    def fabric_ended(self, link: CallLink, cause: Cause) -> None:
        with self.state_lock:
            call = self.calls.get(link.call_id_of(self))
        if call is not None:
            self._end(call, cause)


class SessionWriter:
    """Serialises writes on one session: replies from the session thread and notifications
    from fabric threads must not interleave mid-block."""

    def __init__(self, conn: SimConnection) -> None:
        self.conn = conn
        self.lock = threading.Lock()

    def send(self, text: str) -> None:
        """Send a whole block; ``ConnectionClosed`` when the session is gone."""
        with self.lock:
            try:
                self.conn.send(text.encode("utf-8"))
            except OSError as exc:
                raise ConnectionClosed(f"{self.conn.peer}: {exc}") from exc


def writer_of(conn: SimConnection) -> SessionWriter:
    writer = conn.state.get("writer")
    if not isinstance(writer, SessionWriter):
        writer = SessionWriter(conn)
        conn.state["writer"] = writer
    return writer


def broadcast(sim: DeviceSimulator, build: Callable[[SimConnection], str | None]) -> None:
    """Send ``build(conn)`` (if not None) to every open session."""
    for conn in sim.iter_sessions():
        text = build(conn)
        if not text:
            continue
        try:
            writer_of(conn).send(text)
        except ConnectionClosed:
            continue  # that session just ended (drop fault, reboot): the others still hear it
