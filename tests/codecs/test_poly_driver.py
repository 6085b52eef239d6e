"""Poly Group Series driver against its simulator over real Telnet."""

from __future__ import annotations

from drivers.poly_group import PolyGroupDriver
from drivers.roles import Verdict
from simulators.poly_group import PolyGroupSimulator


def test_identify(poly: PolyGroupDriver) -> None:
    ident = poly.identify()
    assert ident.vendor == "Poly"
    assert ident.model == "RealPresence Group 500"
    assert ident.serial == "8213460ABCDE"
    assert ident.firmware == "6.2.2"
    assert ident.extra["system_name"] == "Lhasa Room"


def test_health_ok_then_unregistered(poly: PolyGroupDriver, poly_sim: PolyGroupSimulator) -> None:
    health = poly.health()
    assert health.verdict == Verdict.OK, health
    assert health.details["sip"] == "Registered"
    poly_sim.set_fault("unregistered")
    health = poly.health()
    assert health.verdict == Verdict.DEGRADED
    assert health.details["sip"] == "Unregistered"
    assert any("not registered" in r for r in health.reasons)


def test_room_controls(poly: PolyGroupDriver, poly_sim: PolyGroupSimulator) -> None:
    poly.standby(True)
    assert poly_sim.standby is True
    poly.standby(False)
    assert poly_sim.standby is False
    poly.mute(True)
    assert poly_sim.mic_mute is True
    poly.mute(False)
    assert poly_sim.mic_mute is False
    poly.set_volume(60)
    assert poly_sim.volume == 30
    poly.set_main_source(2)
    assert poly_sim.main_source == 2
    poly.presentation(True, 3)
    assert poly_sim.presentation_source == 3
    poly.presentation(False)
    assert poly_sim.presentation_source is None
    poly_sim.camera_position = 42
    poly.preset_store(5)
    poly_sim.camera_position = 0
    poly.preset_activate(5)
    assert poly_sim.camera_position == 42
