"""Rules that span keys or files: ids, addresses, models, wiring, venues. Each adds located issues."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from pathlib import Path

from agent.profiles.errors import IssueList
from agent.profiles.resolved import ResolvedModel, ResolvedSite
from agent.profiles.schema import IP_TRANSPORTS, ModelProfile, SiteProfile, VenueProfile
from drivers.registry import DRIVERS

#: desired-state keys and the roles that may have them
_DESIRED_ROLES: dict[str, frozenset[str]] = {
    "sip": frozenset({"codec"}),
    "routes": frozenset({"switcher"}),
    "presets": frozenset({"camera", "codec", "switcher"}),
    "input": frozenset({"display"}),
    "power": frozenset({"display", "camera"}),
    "main_source": frozenset({"codec"}),
    "volume": frozenset({"codec"}),
}


def check_model(model: ModelProfile, file: Path, issues: IssueList) -> None:
    if model.id != file.stem:
        issues.add(("id",), f"model id '{model.id}' does not match the file name '{file.name}'")
    if model.driver not in DRIVERS:
        issues.add(("driver",), f"unknown driver '{model.driver}' (known: {', '.join(sorted(DRIVERS))})")


def check_site(site: SiteProfile, file: Path, models: Mapping[str, ResolvedModel | None],
               models_dir: Path, issues: IssueList) -> None:
    """``models`` maps every model name the site uses to its profile, or None when there is no
    valid profile of that name."""
    if site.id != file.stem:
        issues.add(("id",), f"site id '{site.id}' does not match the file name '{file.name}'")
    by_id: dict[str, int] = {}
    by_address: dict[str, int] = {}
    by_line: dict[str, int] = {}
    for i, dev in enumerate(site.devices):
        at = ("devices", i)
        if dev.id in by_id:
            issues.add((*at, "id"), f"duplicate device id '{dev.id}' (also devices[{by_id[dev.id]}])")
        else:
            by_id[dev.id] = i
        if dev.address is not None:
            if dev.address in by_address:
                issues.add((*at, "address"),
                           f"duplicate address {dev.address} (also devices[{by_address[dev.address]}])")
            else:
                by_address[dev.address] = i
        if dev.serial_device is not None:
            if dev.serial_device in by_line:
                other = by_line[dev.serial_device]
                issues.add((*at, "serial_device"), f"duplicate serial device (also devices[{other}])")
            else:
                by_line[dev.serial_device] = i
        model = models.get(dev.model)
        if model is None:
            if not (models_dir / f"{dev.model}.yaml").exists():
                issues.add((*at, "model"),
                           f"unknown model '{dev.model}' (no {dev.model}.yaml in {models_dir})")
            continue  # an invalid model file reports its own issues
        _check_device_against_model(site, i, model, issues)
    _check_outlets(site, models, issues)
    for i, dev in enumerate(site.devices):
        if dev.via is not None and dev.via not in by_id:
            issues.add(("devices", i, "via"), f"controlled through a missing device '{dev.via}'")


def _check_device_against_model(site: SiteProfile, i: int, model: ResolvedModel, issues: IssueList) -> None:
    dev = site.devices[i]
    at = ("devices", i)
    transport = dev.transport or model.transports[0]
    if transport not in model.transports:
        issues.add((*at, "transport"),
                   f"model {model.id} offers {', '.join(model.transports)}, not {transport}")
    if transport in IP_TRANSPORTS and dev.address is None:
        issues.add((*at, "address"), f"missing required key: transport {transport} needs an address")
    if transport == "serial" and dev.serial_device is None:
        issues.add((*at, "serial_device"), "missing required key: transport serial needs a serial_device")
    caps = model.profile.capabilities
    for key in dev.desired.model_fields_set:
        if getattr(dev.desired, key) is None:
            continue
        allowed = _DESIRED_ROLES.get(key)
        if allowed is not None and not (allowed & model.roles):
            issues.add((*at, "desired", key),
                       f"not applicable: model {model.id} is a {'/'.join(sorted(model.roles))}")
    if dev.desired.routes and (caps.inputs is not None or caps.outputs is not None):
        for out, inp in dev.desired.routes.items():
            if caps.outputs is not None and not 1 <= out <= caps.outputs:
                issues.add((*at, "desired", "routes", out), f"output {out} out of range 1..{caps.outputs}")
            if caps.inputs is not None and not 0 <= inp <= caps.inputs:
                issues.add((*at, "desired", "routes", out), f"input {inp} out of range 0..{caps.inputs}")
    if dev.desired.presets and caps.presets is not None:
        for n in dev.desired.presets:
            if not 0 <= n <= caps.presets:
                issues.add((*at, "desired", "presets", n), f"preset {n} out of range 0..{caps.presets}")


def _check_outlets(site: SiteProfile, models: Mapping[str, ResolvedModel | None], issues: IssueList) -> None:
    devices = {d.id: d for d in site.devices}
    for i, dev in enumerate(site.devices):
        if dev.outlet is None:
            continue
        at = ("devices", i, "outlet")
        pdu = devices.get(dev.outlet.pdu)
        if pdu is None:
            issues.add((*at, "pdu"), f"outlet wired to a missing device '{dev.outlet.pdu}'")
            continue
        pdu_model = models.get(pdu.model)
        if pdu_model is None:
            continue
        if "power" not in pdu_model.roles:
            issues.add((*at, "pdu"), f"'{pdu.id}' is not a PDU (model {pdu_model.id})")
            continue
        count = pdu_model.profile.capabilities.outlets
        if count is not None and dev.outlet.outlet > count:
            issues.add((*at, "outlet"),
                       f"outlet {dev.outlet.outlet} out of range: {pdu_model.id} has {count}")
        if dev.outlet.pdu == dev.id:
            issues.add((*at, "pdu"), "a PDU cannot feed itself")


def check_venue(venue: VenueProfile, file: Path, site: ResolvedSite, issues: IssueList) -> None:
    if venue.id != file.stem:
        issues.add(("id",), f"venue id '{venue.id}' does not match the file name '{file.name}'")
    if venue.site != site.id:
        issues.add(("site",), f"venue for another site: this venue is for '{venue.site}', not '{site.id}'")
        return  # the rest would only repeat the mismatch device by device
    subnet = ipaddress.IPv4Network(venue.network.subnet)
    if ipaddress.IPv4Address(venue.network.gateway) not in subnet:
        issues.add(("network", "gateway"), f"gateway {venue.network.gateway} is not in {subnet}")
    devices = {d.local_id: d for d in site.devices}
    seen: dict[str, str] = {}
    for local_id, address in venue.addresses.items():
        at = ("addresses", local_id)
        dev = devices.get(local_id)
        if dev is None:
            issues.add(at, f"site {site.id} has no device '{local_id}'")
            continue
        if not dev.is_network:
            issues.add(at, f"'{local_id}' is a {dev.transport} device and has no address")
        if ipaddress.IPv4Address(address) not in subnet:
            issues.add(at, f"{address} is not in the venue subnet {subnet}")
        if address in seen:
            issues.add(at, f"duplicate address {address} (also {seen[address]})")
        seen[address] = local_id
    missing = [d.local_id for d in site.devices if d.is_network and d.local_id not in venue.addresses]
    if missing:
        issues.add(("addresses",), f"no address at this venue for: {', '.join(missing)}")
    for local_id, wiring in venue.wiring.items():
        at = ("wiring", local_id)
        dev = devices.get(local_id)
        if dev is None:
            issues.add(at, f"site {site.id} has no device '{local_id}'")
            continue
        if "switcher" not in dev.roles:
            issues.add(at, f"'{local_id}' is not a switcher")
            continue
        caps = dev.model.profile.capabilities
        for out, inp in wiring.routes.items():
            if caps.outputs is not None and not 1 <= out <= caps.outputs:
                issues.add((*at, "routes", out), f"output {out} out of range 1..{caps.outputs}")
            if caps.inputs is not None and not 0 <= inp <= caps.inputs:
                issues.add((*at, "routes", out), f"input {inp} out of range 0..{caps.inputs}")
