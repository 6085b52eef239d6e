"""The self-test's identity check: what each unit reports (model, serial, firmware, as far as its
protocol gives them) against its profile, over real TCP to simulated units."""

from __future__ import annotations

from dataclasses import replace

from agent.selftest import SelftestRunner
from agent.site_checks import identity_check, identity_differences
from drivers.roles import Identity
from tests.agent.conftest import SITE, SimSite


def checks_of(report, name: str = "identity") -> dict[str, object]:
    return {r.device.split(".")[-1]: r for r in report.checks if r.name == name}


async def test_wrong_model_at_the_address_fails_and_the_right_ones_pass(sim_site: SimSite) -> None:
    camera = sim_site.spec.device(f"{SITE}.camera")
    # the profile says EVI-D70 with serial CAM-1; the unit at the address reports model "line-1"
    spec = sim_site.spec.replace_device(replace(camera, identity={"serial": "CAM-1", "model": "EVI-D70"}))
    codec = spec.device(f"{SITE}.codec")
    spec = spec.replace_device(
        replace(codec, identity={"serial": "COD-1", "model": "Line 1", "firmware": "1.0"})
    )
    sessions = sim_site.open_sessions()
    report = await SelftestRunner(spec, sessions, site_checks=[identity_check()]).run()
    found = checks_of(report)
    wrong = found["camera"]
    assert wrong.status == "fail"
    assert wrong.reason.startswith(
        f"wrong device at {camera.address()}: expected model 'EVI-D70', found 'line-1'"
    )
    assert wrong.measured["model"] == {"expected": "EVI-D70", "found": "line-1"}
    assert found["codec"].status == "pass"  # "Line 1" and "line-1" are the same model
    assert found["switcher"].status == "pass"  # serial only: it matches
    assert report.verdict == "degraded"  # the camera is not critical


async def test_identity_check_skips_an_unreachable_device(sim_site: SimSite) -> None:
    sim_site.sim("display").set_fault("refuse")
    report = await SelftestRunner(
        sim_site.spec, sim_site.open_sessions(), site_checks=[identity_check()]
    ).run()
    display = checks_of(report)["display"]
    assert display.status == "skip" and display.reason.startswith("device not reachable")


def test_identity_differences() -> None:
    unit = Identity(vendor="Sony", model="SRG-300H", serial="", firmware="0100")
    assert identity_differences({"model": "EVI-D70", "serial": "EVI706075"}, unit) == [
        "expected model 'EVI-D70', found 'SRG-300H'"
    ]  # VISCA reports no serial: not compared
    assert identity_differences({"model": "Room Kit"}, Identity("Cisco", "Webex Room Kit", "X", "ce11")) == []
    assert identity_differences({"model": "EVI-D70"}, Identity("Sony", "0x040E", "", "1")) == []
    assert identity_differences({"serial": "A1", "firmware": "2.1"}, Identity("v", "m", "a1", "3.0.1")) == [
        "expected firmware '2.1', found '3.0.1'"
    ]
