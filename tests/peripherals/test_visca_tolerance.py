"""VISCA: tolerant about form, strict about meaning. Each tolerance against a simulator quirk knob
(the simulator is faithful without it); the power-on socket rule; the four picture inquiries."""

from __future__ import annotations

import pytest

from drivers.errors import ProtocolError
from drivers.visca_link import split_packets
from tests.peripherals.test_visca import RawUdp, serial_cam, serial_driver, udp_cam, udp_driver


def test_if_clear_is_sent_as_a_command_over_ip(loopback: str) -> None:
    sim = udp_cam(loopback)
    seen: list[bytes] = []
    original = sim.handle_datagram

    def spy(data: bytes, reply):  # type: ignore[no-untyped-def]
        seen.append(data)
        original(data, reply)

    sim.handle_datagram = spy  # type: ignore[method-assign]
    with sim:
        with udp_driver(sim) as cam:
            cam.identify()
    if_clear = [d for d in seen if d[8:] == b"\x81\x01\x00\x01\xff"]
    assert if_clear and all(d[:2] == b"\x01\x00" for d in if_clear)   # 0x0100: a VISCA command


@pytest.mark.parametrize("serve", ["udp", "serial"])
def test_if_clear_error_is_not_fatal(serve: str, loopback: str) -> None:
    sim = udp_cam(loopback) if serve == "udp" else serial_cam()
    with sim:
        sim.set_fault("if-clear-error")
        make = udp_driver if serve == "udp" else serial_driver
        with make(sim) as cam:
            if serve == "serial":
                cam.link.if_clear()                   # serial connect uses the broadcast form
            assert cam.identify().model
            assert any("IF_Clear answered 90 60 02" in e.text for e in cam.transcript.entries())


def test_coalesced_ack_and_completion_are_accepted(loopback: str) -> None:
    sim = udp_cam(loopback)
    with sim:
        raw = RawUdp(sim)
        try:
            raw.ask("02 00 00 01 00 00 00 00 01")          # RESET
            sim.set_fault("coalesce")
            # the quirk itself: one datagram with both packets
            [reply] = raw.ask("01 00 00 06 00 00 00 01 81 01 04 38 02 ff")
            assert reply == "01 11 00 06 00 00 00 01 90 41 FF 90 51 FF"
        finally:
            raw.close()
        with udp_driver(sim) as cam:
            cam.focus_auto(False)                         # ACK + completion in one datagram
            assert sim.focus_auto is False
            cam.focus_auto(True)
            assert cam.power_status() == "on"             # and the link is still in step
        sim.clear_faults()
        with udp_driver(sim) as cam:                      # faithful by default: separate datagrams
            cam.focus_auto(False)
            assert sim.focus_auto is False


def test_split_packets_is_strict_about_meaning() -> None:
    assert split_packets(bytes.fromhex("90 41 ff 90 51 ff")) == [b"\x90\x41\xff", b"\x90\x51\xff"]
    assert split_packets(bytes.fromhex("90 41 ff 90")) == []


def test_garbage_in_a_coalesced_datagram_is_a_protocol_error(loopback: str) -> None:
    sim = udp_cam(loopback)
    with sim:
        with udp_driver(sim) as cam:
            sim.set_fault("garbage")
            with pytest.raises(ProtocolError):
                cam.power_status()


def test_repeated_power_on_never_fills_the_buffer(loopback: str) -> None:
    """A client that resends power-on while the camera powers up (visca-over-ip does) gets
    ``61 41``, never ``60 03``; power-on of a camera that is on completes at once."""
    sim = udp_cam(loopback, power_on_time=1.0)
    with sim:
        raw = RawUdp(sim)
        try:
            raw.ask("02 00 00 01 00 00 00 00 01")
            assert raw.ask("01 00 00 06 00 00 00 01 81 01 04 00 02 ff", 2) == [
                "01 11 00 03 00 00 00 01 90 41 FF", "01 11 00 03 00 00 00 01 90 51 FF"]   # already on
            sim.camera_on = False
            [ack] = raw.ask("01 00 00 06 00 00 00 02 81 01 04 00 02 ff")
            assert ack == "01 11 00 03 00 00 00 02 90 41 FF"
            for seq in (3, 4, 5):
                [reply] = raw.ask(f"01 00 00 06 00 00 00 0{seq} 81 01 04 00 02 ff")
                assert reply.endswith("90 61 41 FF"), reply
            assert raw.sock.recv(100).hex(" ").upper() == "01 11 00 03 00 00 00 02 90 51 FF"
            assert sim.camera_on
        finally:
            raw.close()


@pytest.mark.parametrize("serve", ["udp", "serial"])
def test_picture_inquiries(serve: str, loopback: str) -> None:
    sim = udp_cam(loopback) if serve == "udp" else serial_cam()
    with sim:
        sim.focus_position, sim.exposure_mode, sim.white_balance, sim.backlight = 0x2A5C, 0x0B, 0x03, True
        make = udp_driver if serve == "udp" else serial_driver
        with make(sim) as cam:
            assert cam.picture() == {"focus_position": 0x2A5C, "exposure": "iris-priority",
                                     "white_balance": "one-push", "backlight": True}
            sim.backlight = False
            assert cam.backlight() is False
            [check] = [c for c in cam.selftest_checks({}) if c.name == "camera.picture"]
            outcome = check.run()
            assert outcome.status == "pass", outcome
