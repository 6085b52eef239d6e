"""The demo profiles' codecs: what each simulator reports as identity (serial, model, firmware
through the driver, over the transport the profile names) is what the profile expects, so the
self-test's identity check passes on the demo and fails on a swapped unit."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.profiles import load_site
from agent.profiles.simoptions import sim_identity, sim_options
from drivers.registry import driver_class
from drivers.roles import CheckStatus, Endpoint
from simulators.fabric import CallFabric
from simulators.registry import simulator_class
from simulators.spec import SimSpec
from tests.profiles.helpers import SHIPPED

SITES = sorted(p.stem for p in (SHIPPED / "sites").glob("*.yaml"))


@pytest.mark.parametrize("site_id", SITES)
def test_demo_codec_reports_the_profiled_identity(site_id: str, loopback: str, tmp_path: Path) -> None:
    site = load_site(SHIPPED / "sites" / f"{site_id}.yaml")
    device = next(d for d in site.devices if "codec" in d.roles)
    options = {k: v for k, v in sim_options(device, site).items() if k != "host_key_path"}  # no files
    spec = SimSpec(device_id=device.id, driver=device.driver, model=device.model.id,
                   transport=device.transport, host=loopback, port=0, username=device.username,
                   password="pw", boot_time=0.5,
                   identity=sim_identity(device), options=options)

    class Site:
        fabric = CallFabric()

    with simulator_class(device.driver).from_spec(spec, Site()) as sim:
        server = sim.servers[0]
        ep_options = dict(device.options)
        known = ""
        if device.transport == "https":
            ep_options["tls_fingerprint"] = server.fingerprint  # type: ignore[attr-defined]
        if device.transport == "ssh":
            known = str(tmp_path / "known_hosts")
            server.write_known_hosts(known)  # type: ignore[attr-defined]
        ep = Endpoint(device.transport, host=sim.host, port=server.port, username=device.username,  # type: ignore[attr-defined]
                      password="pw", known_hosts=known, timeout=3.0, options=ep_options)
        with driver_class(device.driver)(ep, name=device.id) as drv:
            ident = drv.identify()
            assert ident.serial == device.identity["serial"]
            assert ident.model and ident.firmware
            for key in ("model", "firmware"):
                if key in device.identity:
                    assert getattr(ident, key) == device.identity[key]
            (check,) = [c for c in drv.selftest_checks({"serial": device.identity["serial"]})
                        if c.name == "codec.identity"]
            assert check.run().status == CheckStatus.PASS
            (swapped,) = [c for c in drv.selftest_checks({"serial": "SWAPPED1"})
                          if c.name == "codec.identity"]
            assert swapped.run().status == CheckStatus.FAIL
