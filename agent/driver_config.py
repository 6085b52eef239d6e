"""The profile's desired state in each driver's own configuration keys.

A site profile says what a room should be in brand-neutral, nested terms (``network:
{address, netmask, gateway, dns}``, ``sip: {uri, registrar, username, password}``,
``main_source``, ``volume``, a camera's ``power`` and ``presets``, a display's ``power`` and
``input``, a switcher's ``routes``). Relocation, drift and ``apply_config`` work on what a driver
reads back and accepts, so this module translates once, when the agent builds its ``SiteSpec``:

- codecs (``drivers/codec_common.py`` documents the keys): ``network.*``, ``sip.*``;
- switchers: ``routes`` {output: input} (the venue's wiring); recorders: ``name``;
- switchers and recorders on a network transport (the Extron SIS family, ``drivers/extron_sis.py``):
  ``network.ipv4.address`` is the device's profile address, so a venue's address plan re-addresses
  the unit; ``network.ipv4.mask`` / ``.gateway`` come along when the profile gives the device a
  ``network`` block (a venue then fills in its own). Codecs take their address only with a
  ``network`` block, as before.

Room state the agent sets before every meeting (``main_source``, ``volume``, power, display
input, camera presets: see ``agent.actions.prepare_steps``) is not configuration and is left
out, as is anything a driver has no key for: a display in standby cannot even report its input.
The display input becomes a self-test expectation instead (``driver_expect``).

Secrets stay references (``secret:...``): ``DeviceSpec`` carries a resolver and only the value
written to the device is ever resolved.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from drivers.codec_common import WRITE_ONLY_KEYS as CODEC_WRITE_ONLY
from drivers.errors import DeviceError

SecretResolver = Callable[[str], str]

#: driver keys that carry the management address and its network; relocation applies them last
ADDRESS_KEYS: tuple[str, ...] = (
    "network.assignment", "network.ipv4.address", "network.ipv4.mask", "network.ipv4.gateway",
    "network.dns",
)
#: keys a device accepts but never reads back (compared and verified by nobody)
WRITE_ONLY_KEYS: frozenset[str] = frozenset(CODEC_WRITE_ONLY)

SECRET_PREFIX = "secret:"


def is_secret_ref(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(SECRET_PREFIX)


def driver_config(roles: frozenset[str], desired: Mapping[str, Any], host: str = "") -> dict[str, Any]:
    """``desired`` (profile form) as the driver keys of a device playing ``roles`` at ``host``.
    Keys already in a driver's dotted form (``sip.uri``) pass through unchanged."""
    out = {k: v for k, v in desired.items() if "." in str(k)}
    if "codec" in roles:
        return {**_codec(desired, host), **out}
    if "switcher" in roles and desired.get("routes"):
        out["routes"] = {int(k): int(v) for k, v in dict(desired["routes"]).items()}
    if "recorder" in roles and desired.get("name"):
        out["name"] = str(desired["name"])
    if roles & READDRESSABLE_PERIPHERALS and host:
        network = desired.get("network")
        return {**_ipv4(network if isinstance(network, Mapping) else {}, host), **out}
    return out


#: roles whose drivers (Extron SIS) set their own IP address; displays, cameras, routers and
#: PDUs are addressed by the installer and found by identity (see ``agent.relocation``)
READDRESSABLE_PERIPHERALS = frozenset({"switcher", "recorder"})


def _ipv4(network: Mapping[str, Any], host: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    address = network.get("address") or host
    if address:
        out["network.ipv4.address"] = str(address)
    for src, key in (("netmask", "network.ipv4.mask"), ("gateway", "network.ipv4.gateway")):
        if network.get(src):
            out[key] = str(network[src])
    return out


def _codec(desired: Mapping[str, Any], host: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    network = desired.get("network")
    if isinstance(network, Mapping):
        out.update(_ipv4(network, host))
        dns = network.get("dns")
        if dns:
            # codecs keep a list of servers; the driver keys name the first one
            out["network.dns"] = str(dns[0] if isinstance(dns, list | tuple) else dns)
    sip = desired.get("sip")
    if isinstance(sip, Mapping):
        for src, key in (("uri", "sip.uri"), ("registrar", "sip.proxy"), ("username", "sip.username"),
                         ("password", "sip.password")):
            if sip.get(src):
                out[key] = str(sip[src])
    return out


def driver_expect(roles: frozenset[str], expect: Mapping[str, Any], desired: Mapping[str, Any]
                  ) -> dict[str, Any]:
    """Self-test expectations in the names the drivers' ``selftest_checks`` read."""
    out = dict(expect)
    if "router" in roles and out.get("ping_target") and "ping_targets" not in out:
        # the site names one target; router drivers check a labelled set
        out["ping_targets"] = {"target": str(out["ping_target"])}
    if "display" in roles and desired.get("input") is not None and "input" not in out:
        out["input"] = str(desired["input"])     # the check selects it when it is not
    return out


def resolve_values(values: Mapping[str, Any], resolver: SecretResolver | None) -> dict[str, Any]:
    """``values`` with secret references replaced by their values, for ``apply_config`` only.
    A reference that cannot be resolved is a ``DeviceError`` naming the key (never the value)."""
    out = dict(values)
    for key, value in values.items():
        if not is_secret_ref(value):
            continue
        if resolver is None:
            raise DeviceError(f"{key} names {value} but no secret store is available")
        try:
            out[key] = resolver(value)
        except Exception as exc:  # noqa: BLE001 - SecretError and store faults: one failure with a reason
            raise DeviceError(f"{key}: {value} cannot be resolved: {exc}") from exc
    return out


def comparable(values: Mapping[str, Any]) -> dict[str, Any]:
    """The keys a read-back can confirm (write-only keys left out)."""
    return {k: v for k, v in values.items() if k not in WRITE_ONLY_KEYS}
