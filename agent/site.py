"""The agent's view of a site: plain, frozen data the runtime works from.

The profiles package resolves YAML into its own objects (``agent.profiles.load_site``); the agent
core only needs the few attributes below, so it runs against ``SiteSpec`` and ``from_resolved``
adapts a resolved profile (read by attribute name, tolerant of fields the profile lacks). Tests
build ``SiteSpec`` by hand.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from agent.driver_config import SecretResolver, driver_config, driver_expect
from drivers.roles import Endpoint


@dataclass(frozen=True)
class OutletRef:
    """Which PDU outlet feeds a device: the PDU's device id and the outlet number."""

    pdu: str
    outlet: int


@dataclass(frozen=True)
class DeviceSpec:
    id: str                                        # "urumqi.codec"
    driver: str                                    # registry name, or "module:Class"
    endpoint: Endpoint
    roles: frozenset[str] = frozenset()
    model: str = ""
    identity: Mapping[str, str] = field(default_factory=dict)   # expected serial, vendor, model
    outlet: OutletRef | None = None
    desired: Mapping[str, Any] = field(default_factory=dict)    # driver config keys (agent.driver_config)
    expect: Mapping[str, Any] = field(default_factory=dict)     # self-test expectations
    via: str | None = None                         # device it is controlled through (camera via codec)
    #: remote restart methods of its model ("command"); a wired outlet adds a power cycle. None:
    #: the model profile does not say, so whether its driver has a restart command decides
    reboot_methods: tuple[str, ...] | None = None
    #: resolves secret references left in ``desired`` (SIP password), only to write them
    secrets: SecretResolver | None = field(default=None, repr=False, compare=False)

    def at(self, host: str, port: int | None = None) -> DeviceSpec:
        """The same device reached at another address."""
        ep = replace(self.endpoint, host=host, port=self.endpoint.port if port is None else port)
        return replace(self, endpoint=ep)

    def address(self) -> str:
        return self.endpoint.describe()


@dataclass(frozen=True)
class RoomState:
    """What "prepared for a meeting" means in this room (from the site profile)."""

    routes: Mapping[int, int] = field(default_factory=dict)        # switcher output -> input
    camera_preset: int | None = None
    display_input: str | None = None
    codec_main_source: int | None = None
    volume: int | None = None


@dataclass(frozen=True)
class SiteSpec:
    id: str
    devices: tuple[DeviceSpec, ...]
    name: str = ""
    timezone: str = "Asia/Shanghai"
    central_url: str = ""
    room: RoomState = field(default_factory=RoomState)
    uplink_min_mbps: float = 0.0                   # 0: no uplink expectation
    ntp_server: str = ""                           # "host[:port]" for the time-in-sync check
    max_clock_offset: float = 2.0                  # seconds
    min_recording_free_percent: float = 10.0
    bridge_uri: str = ""
    critical_roles: frozenset[str] = frozenset({"codec", "display", "switcher"})

    def device(self, device_id: str) -> DeviceSpec:
        for dev in self.devices:
            if dev.id == device_id or dev.id.split(".", 1)[-1] == device_id:
                return dev
        raise KeyError(f"site {self.id} has no device {device_id!r}")

    def with_role(self, role: str) -> list[DeviceSpec]:
        return [d for d in self.devices if role in d.roles]

    def replace_device(self, dev: DeviceSpec) -> SiteSpec:
        return replace(self, devices=tuple(dev if d.id == dev.id else d for d in self.devices))


# -- adapter from a resolved profile -------------------------------------------------------------------
def _get(obj: Any, name: str, default: Any = None) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(name, default)
    return getattr(obj, name, default)


def _outlet(raw: Any) -> OutletRef | None:
    if raw is None:
        return None
    if isinstance(raw, OutletRef):
        return raw
    pdu = _get(raw, "pdu") or _get(raw, "device")
    number = _get(raw, "outlet") or _get(raw, "number")
    if pdu is None or number is None:
        return None
    return OutletRef(str(pdu), int(number))


def _device_from(raw: Any, site_id: str) -> DeviceSpec:
    endpoint = raw.endpoint() if callable(_get(raw, "endpoint")) else _get(raw, "endpoint")
    dev_id = str(_get(raw, "id"))
    if "." not in dev_id:
        dev_id = f"{site_id}.{dev_id}"
    identity = _get(raw, "identity") or {}
    if not isinstance(identity, Mapping):
        identity = {k: v for k, v in vars(identity).items() if v is not None}
    model_name = _get(_get(raw, "model"), "name")
    if isinstance(model_name, str) and model_name and "model" not in identity:
        # the model profile's name: what the self-test's identity check expects the unit to report
        identity = {**identity, "model": model_name}
    via = _get(raw, "via")
    if via and "." not in via:
        via = f"{site_id}.{via}"
    roles = frozenset(_get(raw, "roles") or ())
    desired = dict(_get(raw, "desired") or {})
    return DeviceSpec(
        id=dev_id, driver=str(_get(raw, "driver")), endpoint=endpoint,
        roles=roles, model=_model_id(_get(raw, "model", "")),
        identity={str(k): str(v) for k, v in identity.items()}, outlet=_outlet(_get(raw, "outlet")),
        desired=driver_config(roles, desired, endpoint.host),
        expect=driver_expect(roles, dict(_get(raw, "expect") or {}), desired), via=via,
        secrets=_resolver(_get(raw, "store")), reboot_methods=_reboot_methods(_get(raw, "model")),
    )


def _reboot_methods(model: Any) -> tuple[str, ...] | None:
    """The model profile's ``reboot_methods``, None when it does not say."""
    methods = _get(_get(model, "profile"), "reboot_methods")
    return None if methods is None else tuple(str(m) for m in methods)


def _driver_restarts(driver: str) -> bool:
    """Whether the driver implements a restart command (the base class refuses one)."""
    from agent.session import resolve_driver_class
    from drivers.roles import Driver

    try:
        cls = resolve_driver_class(driver)
    except (KeyError, ImportError, AttributeError, ValueError):
        return False
    return getattr(cls, "reboot", None) is not Driver.reboot


def reboot_plan(dev: DeviceSpec) -> list[str]:
    """What a reboot of ``dev`` does, in order: its restart command, then a power cut when an
    outlet feeds it; [] when neither is possible."""
    methods = dev.reboot_methods
    if methods is None:
        methods = ("command",) if _driver_restarts(dev.driver) else ()
    plan = [m for m in methods if m == "command"]
    if dev.outlet is not None:
        plan.append("power_cycle")
    return plan


def _model_id(model: Any) -> str:
    """The model profile's id ("sony-evi-d70"), whether given as text or as the resolved model."""
    if isinstance(model, str) or model is None:
        return model or ""
    return str(_get(model, "id", "") or _get(_get(model, "profile"), "id", "") or "")


def _resolver(store: Any) -> SecretResolver | None:
    """``secret:...`` references resolved through the profile's secret store (memory only)."""
    if store is None or not callable(getattr(store, "resolve", None)):
        return None
    from agent.profiles.secrets import SecretRef

    return lambda ref: str(store.resolve(SecretRef.parse(ref)).value)


def _room_from(raw: Any) -> RoomState:
    if raw is None:
        return RoomState()
    routes = _get(raw, "routes") or {}
    return RoomState(
        routes={int(k): int(v) for k, v in dict(routes).items()},
        camera_preset=_get(raw, "camera_preset"), display_input=_get(raw, "display_input"),
        codec_main_source=_get(raw, "codec_main_source"), volume=_get(raw, "volume"),
    )


def from_resolved(resolved: Any) -> SiteSpec:
    """A ``SiteSpec`` from ``agent.profiles.load_site(...)`` (or any object with those names)."""
    if isinstance(resolved, SiteSpec):
        return resolved
    site_id = str(_get(resolved, "id"))
    devices: Iterable[Any] = _get(resolved, "devices") or ()
    expect = _get(resolved, "expect") or {}
    uplink_min = _get(resolved, "uplink_min_mbps") or _get(expect, "uplink_min_mbps") or 0.0
    return SiteSpec(
        id=site_id, devices=tuple(_device_from(d, site_id) for d in devices),
        name=str(_get(resolved, "name", "") or ""),
        timezone=str(_get(resolved, "timezone", "Asia/Shanghai") or "Asia/Shanghai"),
        central_url=str(_get(resolved, "central_url", "") or ""),
        room=_room_from(_get(resolved, "room") or _get(resolved, "desired")),
        uplink_min_mbps=float(uplink_min),
        ntp_server=str(_get(resolved, "ntp_server", "") or _get(expect, "ntp_server", "") or ""),
        bridge_uri=str(_get(resolved, "bridge_uri", "") or ""),
    )
