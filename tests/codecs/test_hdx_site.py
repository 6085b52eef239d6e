"""The Xining demo room runs a Polycom HDX 8000: its profile, its simulator and its driver agree
on identity, and its calls are standard definition, so the reports' HD share counts them as SD."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from agent.profiles import load_site
from drivers.registry import driver_class
from roomops.sim_cli import to_sim_specs
from simulators.fabric import Bridge, CallFabric
from simulators.registry import simulator_class

SHIPPED = Path(__file__).resolve().parents[2] / "profiles"


def test_xining_codec_is_an_sd_hdx(loopback: str) -> None:
    site = load_site(SHIPPED / "sites" / "xining.yaml")
    device = site.device("codec")
    assert device.driver == "polycom-hdx" and device.model.id == "polycom-hdx8000"
    [spec] = [s for s in to_sim_specs(site) if s.device_id == device.id]
    spec = replace(spec, host=loopback, port=0, boot_time=0.5)

    class Site:   # what from_spec reads of a site simulation: its call fabric
        fabric = CallFabric()

    bridge = Bridge(Site.fabric, "bridge@mcu.roomops.example")
    sim = simulator_class(spec.driver).from_spec(spec, Site())
    with sim:
        endpoint = replace(device.endpoint(), host=loopback, port=sim.servers[0].port,
                           options={**device.endpoint().options, "pacing_ms": 5})
        driver = driver_class(device.driver)(endpoint, name=device.id)
        with driver:
            ident = driver.identify()
            assert ident.serial == device.identity["serial"]    # the profile's serial is the unit's
            assert (ident.vendor, ident.model) == ("Polycom", "HDX 8000")
            call_id = driver.dial("bridge@mcu.roomops.example", "sip", 1920)
            info = driver.wait_for_call(call_id, ("connected",), 10.0)
            assert info is not None and info.state == "connected"
            assert info.resolution == "704x576" and not info.is_hd
            assert [lk.resolution for lk in Site.fabric.links()] == ["704x576"]
            driver.hangup(call_id)
    bridge.close()
    assert not sim.errors, sim.errors
