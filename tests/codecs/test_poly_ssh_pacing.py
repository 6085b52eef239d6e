"""Poly over SSH (Group Series), the pacing between commands, and the diagnostics fault."""

from __future__ import annotations

from pathlib import Path

from drivers.poly_group import PolyGroupDriver
from drivers.roles import Endpoint, Verdict
from simulators.fabric import CallFabric
from simulators.poly_group import PolyGroupSimulator
from tests.codecs.conftest import POLY_PASSWORD, poly_endpoint, poly_options


def test_poly_over_ssh(loopback: str, fabric: CallFabric, tmp_path: Path) -> None:
    sim = PolyGroupSimulator(name="gz", host=loopback, password=POLY_PASSWORD, fabric=fabric, ssh=True,
                             options=poly_options("gz@roomops.test"))
    with sim:
        ssh_server = sim.servers[1]
        known = tmp_path / "known_hosts"
        ssh_server.write_known_hosts(str(known))  # type: ignore[attr-defined]
        ep = Endpoint("ssh", host=sim.host, port=ssh_server.port, username="admin",  # type: ignore[attr-defined]
                      password=POLY_PASSWORD, known_hosts=str(known), timeout=2.0, options={"pacing_ms": 5})
        with PolyGroupDriver(ep, name="gz") as driver:
            assert driver.identify().serial == "8213460ABCDE"
            assert driver.health().verdict == Verdict.OK
            driver.mute(True)
            assert sim.mic_mute is True
            assert POLY_PASSWORD not in driver.transcript.render()


def test_commands_are_paced(poly_sim: PolyGroupSimulator) -> None:
    driver = PolyGroupDriver(poly_endpoint(poly_sim, pacing_ms=120), name="paced")
    with driver:
        start = len(poly_sim.command_times)
        for level in (10, 20, 30, 40):
            driver.set_volume(level)
        driver.mute(True)
        times = poly_sim.command_times[start:]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert len(gaps) == 4
    assert min(gaps) >= 0.115, gaps   # the unit never sees two commands closer than the pacing


def test_diagnostics_fault_degrades(poly: PolyGroupDriver, poly_sim: PolyGroupSimulator) -> None:
    poly_sim.set_fault("diagnostics")
    health = poly.health()
    assert health.verdict == Verdict.DEGRADED
    assert health.details["diagnostics"] == ["microphones offline"]
    checks = {c.name: c for c in poly.selftest_checks({"serial": "8213460ABCDE", "registered": True})}
    assert checks["codec.diagnostics"].run().status == "fail"
    assert checks["codec.identity"].run().status == "pass"
