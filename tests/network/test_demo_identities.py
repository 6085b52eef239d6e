"""The demo profiles' identities are what the devices report: for every shipped site, each
network device other than the codec (dev-codecs checks those) is served by its simulator and
identified by its driver over the profile's transport; the serial, where the protocol reports
one, is the profile's."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from agent.profiles import load_site
from drivers.registry import driver_class
from roomops.sim_cli import to_sim_specs
from simulators.registry import simulator_class

SHIPPED = Path(__file__).resolve().parents[2] / "profiles"
SITES = sorted(p.stem for p in (SHIPPED / "sites").glob("*.yaml"))
#: roles whose protocol reports a serial number (VISCA cannot; Extron SIS on these models does not)
SERIAL_REPORTED = {"display", "router", "power"}


@pytest.mark.parametrize("site_id", SITES)
def test_profile_identities_match_the_devices(site_id: str, loopback_factory: Callable[[], str],
                                              tmp_path: Path) -> None:
    site = load_site(SHIPPED / "sites" / f"{site_id}.yaml")
    specs = {s.device_id: s for s in to_sim_specs(site)}
    checked = 0
    for device in site.devices:
        if "codec" in device.roles or not device.is_network or device.transport == "udp":
            continue
        host = loopback_factory()
        key_file = str(tmp_path / f"{device.id}.key")
        spec = replace(specs[device.id], host=host, port=0, boot_time=0.5,
                       options={**specs[device.id].options, "host_key_path": key_file})
        sim = simulator_class(spec.driver).from_spec(spec, None)
        with sim:
            port = int(sim.urls()[0].rsplit(":", 1)[1])
            ep = replace(device.endpoint(), host=host, port=port, trust_on_first_use=True,
                         known_hosts=str(tmp_path / "known_hosts"))
            with driver_class(device.driver)(ep, name=device.id) as driver:
                ident = driver.identify()
        wanted = device.identity.get("serial", "")
        if device.roles & SERIAL_REPORTED:
            assert ident.serial == wanted, (device.id, ident, wanted)
        assert ident.model, (device.id, ident)
        checked += 1
    assert checked >= 3
