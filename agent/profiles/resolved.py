"""Profiles after layering and checks: what the agent, ``roomops sim`` and the demo use.

Plain data plus ``ResolvedDevice.endpoint()``, the one place where secrets are resolved (in
memory, for a connection). ``as_dict(masked=True)`` is the safe form for printing.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from agent.profiles.layering import Choice
from agent.profiles.schema import IP_TRANSPORTS, ModelProfile
from agent.profiles.secrets import MASK, SecretRef, SecretStore
from drivers.roles import Endpoint


@dataclass(frozen=True)
class ResolvedModel:
    id: str
    file: str
    profile: ModelProfile = field(repr=False)
    lines: dict = field(default_factory=dict, repr=False, compare=False)   # key path -> line

    def __str__(self) -> str:
        return self.id

    @property
    def driver(self) -> str:
        return self.profile.driver

    @property
    def roles(self) -> frozenset[str]:
        return frozenset(self.profile.roles)

    @property
    def vendor(self) -> str:
        return self.profile.vendor

    @property
    def name(self) -> str:
        return self.profile.name

    @property
    def capabilities(self) -> dict[str, Any]:
        return self.profile.capabilities.model_dump(exclude_none=True)

    @property
    def boot_time(self) -> float:
        return float(self.profile.boot_time)

    @property
    def transports(self) -> list[str]:
        return list(self.profile.transports)


@dataclass(frozen=True)
class OutletRef:
    pdu: str            # full id of the PDU device, "urumqi.pdu"
    pdu_local: str      # "pdu"
    outlet: int


@dataclass(frozen=True)
class ResolvedDevice:
    site_id: str
    local_id: str
    model: ResolvedModel
    name: str
    transport: str
    host: str
    port: int
    serial_device: str              # absolute path or pyserial URL ("" for network devices)
    baudrate: int
    username: str
    password_ref: SecretRef | None
    timeout: float
    boot_time: float
    known_hosts: str
    trust_on_first_use: bool
    options: dict[str, Any]
    identity: dict[str, str]
    outlet: OutletRef | None
    desired: dict[str, Any]         # plain data; secrets stay references (strings)
    expect: dict[str, Any]          # what selftest_checks(expect) receives
    via: str | None = None          # full id of the device it is controlled through
    choices: dict[str, Choice] = field(default_factory=dict, repr=False, compare=False)
    store: SecretStore | None = field(default=None, repr=False, compare=False)

    @property
    def id(self) -> str:
        return f"{self.site_id}.{self.local_id}"

    @property
    def driver(self) -> str:
        return self.model.driver

    @property
    def roles(self) -> frozenset[str]:
        return self.model.roles

    @property
    def is_network(self) -> bool:
        return self.transport in IP_TRANSPORTS

    def url(self, *, with_user: bool = True) -> str:
        """Where a client connects, without secrets: ssh://admin@127.0.20.10:2222, serial:///path."""
        if self.transport == "serial":
            return f"serial://{self.serial_device}"
        user = f"{self.username}@" if with_user and self.username and self.transport == "ssh" else ""
        return f"{self.transport}://{user}{self.host}:{self.port}"

    def password(self) -> str:
        """The resolved password (memory only; empty when the device has none)."""
        if self.password_ref is None or self.store is None:
            return ""
        return self.store.resolve(self.password_ref).value

    def endpoint(self) -> Endpoint:
        """A ``drivers.roles.Endpoint`` with secrets resolved; raises ``SecretError`` if one is missing."""
        return Endpoint(
            transport=self.transport, host=self.host, port=self.port, serial_url=self.serial_device,
            baudrate=self.baudrate, username=self.username, password=self.password(),
            known_hosts=self.known_hosts, trust_on_first_use=self.trust_on_first_use,
            timeout=self.timeout, boot_time=self.boot_time, options=dict(self.options))

    def resolved_desired(self) -> dict[str, Any]:
        """``desired`` with secret references (SIP password) replaced by their values, for apply_config."""
        out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in self.desired.items()}
        sip = out.get("sip")
        if sip and sip.get("password") and self.store is not None:
            sip["password"] = self.store.resolve(SecretRef.parse(sip["password"])).value
        return out

    def as_dict(self) -> dict[str, Any]:
        """Printable form: secrets appear as their reference, never as a value."""
        return {
            "id": self.id, "model": self.model.id, "driver": self.driver, "roles": sorted(self.roles),
            "name": self.name, "url": self.url(), "transport": self.transport, "host": self.host,
            "port": self.port, "serial_device": self.serial_device, "baudrate": self.baudrate,
            "username": self.username,
            "password": f"{MASK} ({self.password_ref})" if self.password_ref else "",
            "timeout": self.timeout, "boot_time": self.boot_time, "known_hosts": self.known_hosts,
            "trust_on_first_use": self.trust_on_first_use, "options": self.options,
            "identity": self.identity,
            "outlet": {"pdu": self.outlet.pdu, "outlet": self.outlet.outlet} if self.outlet else None,
            "desired": self.desired, "expect": self.expect, "via": self.via,
        }


@dataclass(frozen=True)
class DesiredState:
    """The room as it should be, gathered from the devices' ``desired`` entries (full ids)."""

    camera_preset: int | None = None
    volume: int | None = None
    microphones_muted: bool = False
    routes: dict[str, dict[int, int]] = field(default_factory=dict)       # switcher -> {out: in}
    presets: dict[str, dict[int, str]] = field(default_factory=dict)      # device -> {n: name}
    display_inputs: dict[str, str] = field(default_factory=dict)          # display -> input
    display_power: dict[str, bool] = field(default_factory=dict)
    codec_network: dict[str, dict[str, Any]] = field(default_factory=dict)  # codec -> address...
    codec_sip: dict[str, dict[str, Any]] = field(default_factory=dict)      # secrets as references
    devices: dict[str, dict[str, Any]] = field(default_factory=dict)        # every device's desired


@dataclass(frozen=True)
class ResolvedSite:
    id: str
    name_zh: str
    name_en: str
    timezone: str
    central_url: str
    demo: bool
    file: str
    root: Path
    devices: list[ResolvedDevice]
    desired_state: DesiredState
    expectations: dict[str, Any]
    central_token_ref: SecretRef | None = None
    bridge_uri: str = ""
    store: SecretStore | None = field(default=None, repr=False, compare=False)

    @property
    def names(self) -> dict[str, str]:
        return {"zh": self.name_zh, "en": self.name_en}

    @property
    def name(self) -> str:
        return self.name_en

    @property
    def uplink_min_mbps(self) -> float:
        return float(self.expectations.get("min_uplink_mbps", 0.0))

    @property
    def ntp_server(self) -> str:
        return str(self.expectations.get("ntp_server", ""))

    @property
    def room(self) -> dict[str, Any]:
        """The room in one flat mapping (first switcher, display and codec), as ``agent.site``
        reads it: routes, camera_preset, display_input, codec_main_source, volume."""
        ds = self.desired_state
        codecs = [d for d in self.devices if "codec" in d.roles]
        return {
            "routes": next(iter(ds.routes.values()), {}),
            "camera_preset": ds.camera_preset,
            "display_input": next(iter(ds.display_inputs.values()), None),
            "codec_main_source": codecs[0].desired.get("main_source") if codecs else None,
            "volume": ds.volume,
        }

    def device(self, device_id: str) -> ResolvedDevice:
        """By local ("codec") or full ("urumqi.codec") id; ``KeyError`` if absent."""
        for d in self.devices:
            if device_id in (d.local_id, d.id):
                return d
        raise KeyError(device_id)

    def devices_with_role(self, role: str) -> list[ResolvedDevice]:
        return [d for d in self.devices if role in d.roles]

    def central_token(self) -> str:
        if self.central_token_ref is None or self.store is None:
            return ""
        return self.store.resolve(self.central_token_ref).value

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "name": self.names, "timezone": self.timezone, "central_url": self.central_url,
            "central_token": f"{MASK} ({self.central_token_ref})" if self.central_token_ref else "",
            "demo": self.demo, "bridge_uri": self.bridge_uri, "expect": self.expectations,
            "room": {"camera_preset": self.desired_state.camera_preset, "volume": self.desired_state.volume,
                     "microphones_muted": self.desired_state.microphones_muted},
            "devices": [d.as_dict() for d in self.devices],
        }


@dataclass(frozen=True)
class ResolvedVenue:
    id: str
    site_id: str
    name_zh: str
    name_en: str
    file: str
    location: str
    subnet: str
    gateway: str
    dns: list[str]
    sip_registrar: str | None
    addresses: dict[str, str]                 # full device id -> new address
    routes: dict[str, dict[int, int]]         # full switcher id -> {out: in}

    def relocate(self, site: ResolvedSite) -> ResolvedSite:
        """The site as it should be at this venue: new addresses, network and SIP settings, wiring."""
        netmask = str(ipaddress.IPv4Network(self.subnet).netmask)
        devices = []
        for d in site.devices:
            desired = {k: (dict(v) if isinstance(v, dict) else v) for k, v in d.desired.items()}
            host = self.addresses.get(d.id, d.host)
            if "network" in desired:
                desired["network"] = {**desired["network"], "address": host, "netmask": netmask,
                                      "gateway": self.gateway, "dns": list(self.dns)}
            if "sip" in desired and self.sip_registrar:
                desired["sip"] = {**desired["sip"], "registrar": self.sip_registrar}
            if d.id in self.routes:
                desired["routes"] = dict(self.routes[d.id])
            devices.append(replace(d, host=host, desired=desired))
        return replace(site, devices=devices, desired_state=desired_state_of(site, devices))


def desired_state_of(site: ResolvedSite | None, devices: list[ResolvedDevice], *,
                     room: dict[str, Any] | None = None) -> DesiredState:
    room = room if room is not None else {
        "camera_preset": site.desired_state.camera_preset if site else None,
        "volume": site.desired_state.volume if site else None,
        "microphones_muted": site.desired_state.microphones_muted if site else False,
    }
    state = DesiredState(**room)
    for d in devices:
        want = d.desired
        state.devices[d.id] = want
        if "routes" in want:
            state.routes[d.id] = want["routes"]
        if "presets" in want:
            state.presets[d.id] = want["presets"]
        if "input" in want:
            state.display_inputs[d.id] = want["input"]
        if "power" in want and "display" in d.roles:
            state.display_power[d.id] = want["power"]
        if "codec" in d.roles and "network" in want:
            state.codec_network[d.id] = want["network"]
        if "sip" in want:
            state.codec_sip[d.id] = want["sip"]
    return state
