"""Cisco RoomOS driver against its simulator: SSH with JSON, SSH in terminal mode, and a TC
unit over TCP (login prompts, terminal mode, TC configuration paths)."""

from __future__ import annotations

import pytest

from drivers.cisco_roomos import CiscoRoomOSDriver
from drivers.errors import CommandRejected
from drivers.roles import Verdict
from simulators.cisco_roomos import CiscoRoomOSSimulator


def test_session_setup(cisco: CiscoRoomOSDriver, cisco_flavour: str) -> None:
    modes = {"ssh-json": "json", "serial": "json", "https": "xml", "http": "xml"}
    expected = modes.get(cisco_flavour, "terminal")
    assert cisco.mode == expected
    assert cisco.is_tc == (cisco_flavour == "tcp-tc")


def test_identify(cisco: CiscoRoomOSDriver, cisco_sim: CiscoRoomOSSimulator) -> None:
    ident = cisco.identify()
    assert (ident.vendor, ident.model, ident.serial) == ("Cisco", "Cisco Room Kit", "FOC2145N0AB")
    assert ident.firmware == cisco_sim.opts.firmware


def test_health(cisco: CiscoRoomOSDriver, cisco_sim: CiscoRoomOSSimulator) -> None:
    health = cisco.health()
    assert health.verdict == Verdict.OK, health
    assert health.details["sip"] == "Registered"
    assert health.details["standby"] == "Off"
    cisco_sim.set_fault("diagnostics", "Camera 1 disconnected")
    cisco_sim.set_fault("unregistered")
    health = cisco.health()
    assert health.verdict != Verdict.OK
    assert health.details["sip"] == "Failed"
    assert any("Camera 1 disconnected" in m for m in health.details["diagnostics"])
    checks = {c.name: c for c in cisco.selftest_checks({"registered": True})}
    assert checks["codec.registered"].run().status == "fail"
    assert checks["codec.diagnostics"].run().status == "fail"


def test_room_controls(cisco: CiscoRoomOSDriver, cisco_sim: CiscoRoomOSSimulator) -> None:
    cisco.standby(True)
    assert cisco_sim.standby is True
    assert cisco.health().details["standby"] == "Standby"
    cisco.standby(False)
    cisco.mute(True)
    assert cisco_sim.mic_mute is True
    cisco.mute(False)
    assert cisco_sim.mic_mute is False
    cisco.set_volume(70)
    assert cisco_sim.volume == 70
    cisco.set_main_source(3)
    assert cisco_sim.main_source == 3
    cisco.presentation(True, 2)
    assert cisco_sim.presentation_source == 2
    cisco.presentation(False)
    assert cisco_sim.presentation_source is None
    cisco_sim.camera_position = 17
    cisco.preset_store(4)
    cisco_sim.camera_position = 0
    cisco.preset_activate(4)
    assert cisco_sim.camera_position == 17


def test_rejections_carry_the_device_reason(cisco: CiscoRoomOSDriver) -> None:
    with pytest.raises(CommandRejected) as err:
        cisco.preset_activate(9)
    assert err.value.code == "Error" and "Preset not found" in err.value.text
    with pytest.raises(CommandRejected) as err:
        cisco._exchange("xCommand Video Input SetMainVideoSource ConnectorId: 1 SourceId: 2")
    assert "but not both" in err.value.text
    with pytest.raises(CommandRejected) as err:
        cisco._exchange("xFrobnicate")
    assert "Command not recognized." in err.value.text
    with pytest.raises(CommandRejected) as err:
        cisco._exchange("xStatus Foo")
    assert "No match on address expression." in err.value.text
    # The session is still in step after the errors.
    assert cisco.identify().serial == "FOC2145N0AB"


def test_role_calls_are_typed_and_checked(loopback: str, tmp_path) -> None:
    """``DeviceSession.call_role(Codec, ...)``: the op sees a Codec; a driver without the role
    gets ``Unsupported`` before anything reaches the device thread."""
    import asyncio

    from agent.session import DeviceSession
    from agent.site import DeviceSpec
    from drivers.errors import Unsupported
    from drivers.roles import Codec, Recorder
    from simulators.fabric import CallFabric
    from tests.codecs.conftest import cisco_endpoint, make_cisco_sim

    cisco_sim = make_cisco_sim(loopback, CallFabric(), "ssh").start()
    spec = DeviceSpec(id="urumqi.codec", driver="cisco-roomos", endpoint=cisco_endpoint(cisco_sim, tmp_path),
                      roles=frozenset({"codec"}))

    async def run() -> None:
        session = DeviceSession(spec)
        try:
            assert await session.call_role(Codec, lambda c: c.calls(), 5.0) == []
            with pytest.raises(Unsupported, match="Recorder"):
                await session.call_role(Recorder, lambda r: r.record_status(), 5.0)
        finally:
            await session.aclose()

    try:
        asyncio.run(run())
    finally:
        cisco_sim.stop()
