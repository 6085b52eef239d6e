"""What a simulator needs to stand in for a profiled device, as plain data (``SimSpec.options``).

agent/ may not import simulators/, so this builds the options dict and ``roomops sim`` wraps it
in a ``SimSpec``. Option names follow the simulators' ``from_spec``; on top of the model's and
device's ``options`` (which win, being explicit), by role:

- every device: ``site`` (site id), ``roles``, ``host_key_path`` (SSH: a stable key file under
  ``.roomops/sim-keys/`` so pinned host keys survive a restart; HTTPS: its ``.pem`` sibling
  holds the certificate, so a pinned fingerprint survives too).
- codec: ``system_name``, ``sip_uri``, ``sip_proxy``, ``sip_username``, ``max_rate`` (kbps),
  ``multisite``, ``presets``, ``network`` {mask, gateway, dns (the first server)}.
- camera: ``serve`` ("serial" | "udp"), ``max_presets``.
- switcher: ``inputs``, ``outputs``, ``presets``.
- display: ``name``.
- recorder: ``recordings_dir`` (absolute), ``inputs``, ``storage_gb``.
- router: ``hostname``, ``interfaces`` {name: {address "a.b.c.d/len", description}} (the
  model's first interface is the uplink, given an address in 100.64.<site octet>.2/30; the
  second carries the device address as the room's gateway), ``uplink`` (interface name),
  ``uplink_mbps`` (what the simulated uplink offers: twice the site's minimum).
- power (PDU): ``outlet_count``, ``outlets`` {n: full device id}, ``names`` {n: device name},
  ``transports`` [transport].
"""

from __future__ import annotations

from typing import Any

from agent.profiles.resolved import ResolvedDevice, ResolvedSite


def sim_options(device: ResolvedDevice, site: ResolvedSite) -> dict[str, Any]:
    caps = device.model.capabilities
    roles = device.roles
    opts: dict[str, Any] = {"site": site.id, "roles": sorted(roles)}
    if device.transport in ("ssh", "https"):   # https: the certificate lives next to it (.pem)
        opts["host_key_path"] = str(site.root / ".roomops" / "sim-keys" / f"{device.id}.key")
    if "codec" in roles:
        sip = device.desired.get("sip", {})
        network = device.desired.get("network", {})
        opts.update(system_name=site.name_en, sip_uri=sip.get("uri", ""), sip_proxy=sip.get("registrar", ""),
                    sip_username=sip.get("username", ""), network=_codec_network(network))
        for key, cap in (("max_rate", "max_call_rate_kbps"), ("multisite", "multisite"),
                         ("presets", "presets")):
            if cap in caps:
                opts[key] = caps[cap]
    if "camera" in roles:
        opts["serve"] = "udp" if device.transport == "udp" else "serial"
        if "presets" in caps:
            opts["max_presets"] = caps["presets"]
    if "switcher" in roles:
        opts.update({k: caps[k] for k in ("inputs", "outputs", "presets") if k in caps})
    if "display" in roles:
        opts["name"] = device.name
    if "recorder" in roles:
        opts["recordings_dir"] = str(site.root / ".roomops" / "recordings" / site.id)
        opts.update({k: caps[k] for k in ("inputs", "storage_gb") if k in caps})
    if "router" in roles:
        opts["hostname"] = f"{site.id}-{device.local_id}"
        names = list(caps.get("interfaces", []))
        octet = device.host.split(".")[2] if device.host.count(".") == 3 else "0"
        if names:
            interfaces = {names[0]: {"address": f"100.64.{octet}.2/30", "description": "uplink"}}
            if len(names) > 1:
                interfaces[names[1]] = {"address": f"{device.host}/24", "description": "room LAN"}
            opts["interfaces"] = interfaces
            opts["uplink"] = names[0]
        opts["uplink_mbps"] = 2 * site.uplink_min_mbps if site.uplink_min_mbps else 100.0
    if "power" in roles:
        fed = [d for d in site.devices if d.outlet is not None and d.outlet.pdu == device.id]
        opts["outlets"] = {d.outlet.outlet: d.id for d in fed if d.outlet is not None}
        opts["names"] = {d.outlet.outlet: d.name for d in fed if d.outlet is not None}
        opts["transports"] = [device.transport]
        if "outlets" in caps:
            opts["outlet_count"] = caps["outlets"]
    opts.update(device.options)
    return opts


def _codec_network(network: dict[str, Any]) -> dict[str, str]:
    """The profile's network settings in the codec simulators' option names (one DNS server)."""
    out: dict[str, str] = {}
    if network.get("netmask"):
        out["mask"] = str(network["netmask"])
    if network.get("gateway"):
        out["gateway"] = str(network["gateway"])
    dns = network.get("dns")
    if dns:
        out["dns"] = str(dns[0] if isinstance(dns, list | tuple) else dns)
    return out


def sim_identity(device: ResolvedDevice) -> dict[str, str]:
    """What the simulator reports from identify(): the profile's expected identity."""
    ident = {"vendor": device.model.vendor, "model": device.model.name}
    ident.update({k: str(v) for k, v in device.identity.items()})
    return ident
