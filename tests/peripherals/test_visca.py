"""Sony VISCA: the simulator against the literal exchanges of the protocol notes, and every driver
operation over a real pty (paced at 9600 baud) and over real UDP."""

from __future__ import annotations

import socket
import time

import pytest
import serial

from drivers.errors import CommandRejected, DeviceTimeout, ProtocolError
from drivers.roles import Camera, CheckStatus, Endpoint, Verdict
from drivers.sony_visca import ViscaCameraDriver
from simulators.sony_visca import ViscaCameraSimulator
from simulators.spec import SimSpec

FAST = {"preset_time": 0.2, "home_time": 0.2, "move_time": 0.1, "power_on_time": 0.2}


def serial_cam(**kw: object) -> ViscaCameraSimulator:
    return ViscaCameraSimulator(serve="serial", **{**FAST, **kw})  # type: ignore[arg-type]


def udp_cam(host: str, **kw: object) -> ViscaCameraSimulator:
    return ViscaCameraSimulator(serve="udp", host=host, port=0, **{**FAST, **kw})  # type: ignore[arg-type]


def serial_driver(sim: ViscaCameraSimulator, **options: object) -> ViscaCameraDriver:
    ep = Endpoint(transport="serial", serial_url=sim.serial_path, baudrate=9600, timeout=1.0,
                  options={"motion_timeout": 3.0, "power_on_timeout": 3.0, **options})
    return ViscaCameraDriver(ep, name="camera")


def udp_driver(sim: ViscaCameraSimulator, **options: object) -> ViscaCameraDriver:
    ep = Endpoint(transport="udp", host=sim.host, port=sim.udp_port, timeout=1.0,
                  options={"motion_timeout": 3.0, "power_on_timeout": 3.0, "udp_retry_interval": 0.1,
                           **options})
    return ViscaCameraDriver(ep, name="camera")


class RawSerial:
    def __init__(self, path: str) -> None:
        self.port = serial.Serial(path, 9600, timeout=2)

    def ask(self, data: bytes, replies: int = 1) -> list[bytes]:
        self.port.write(data)
        out = []
        for _ in range(replies):
            packet = self.port.read_until(b"\xff")
            assert packet.endswith(b"\xff"), f"timed out, got {packet.hex(' ')}"
            out.append(packet)
        return out

    def close(self) -> None:
        self.port.close()


class RawUdp:
    def __init__(self, sim: ViscaCameraSimulator) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.settimeout(2)
        self.addr = (sim.host, sim.udp_port)

    def ask(self, hexdata: str, replies: int = 1) -> list[str]:
        self.sock.sendto(bytes.fromhex(hexdata), self.addr)
        return [self.sock.recv(100).hex(" ").upper() for _ in range(replies)]

    def close(self) -> None:
        self.sock.close()


# -- golden exchanges (protocols.md §3) --------------------------------------------------------------
def test_golden_serial_exchanges(no_leaks: None) -> None:
    with serial_cam() as sim:
        raw = RawSerial(sim.serial_path)
        try:
            assert raw.ask(bytes.fromhex("88 30 01 FF")) == [bytes.fromhex("88 30 02 FF")]
            assert raw.ask(bytes.fromhex("88 01 00 01 FF")) == [bytes.fromhex("88 01 00 01 FF")]
            assert raw.ask(bytes.fromhex("81 01 00 01 FF")) == [bytes.fromhex("90 50 FF")]
            assert raw.ask(bytes.fromhex("81 01 04 38 02 FF"), 2) == [bytes.fromhex("90 41 FF"),
                                                                     bytes.fromhex("90 51 FF")]
            assert raw.ask(bytes.fromhex("81 01 04 38 FF")) == [bytes.fromhex("90 60 02 FF")]
            assert raw.ask(bytes.fromhex("81 09 04 38 FF")) == [bytes.fromhex("90 50 02 FF")]
            assert raw.ask(bytes.fromhex("81 01 04 08 02 FF")) == [bytes.fromhex("90 61 41 FF")]  # during AF
            assert raw.ask(bytes.fromhex("81 09 04 00 FF")) == [bytes.fromhex("90 50 02 FF")]
            version = bytes.fromhex("90 50 00 01 05 13 01 00 02 FF")  # Sony, SRG-300H, ROM 0100, 2 sockets
            assert raw.ask(bytes.fromhex("81 09 00 02 FF")) == [version]
            assert raw.ask(bytes.fromhex("81 21 FF")) == [bytes.fromhex("90 61 05 FF")]   # nothing to cancel
        finally:
            raw.close()


def test_golden_serial_errors_and_cancel() -> None:
    with serial_cam(preset_time=1.0) as sim:
        raw = RawSerial(sim.serial_path)
        try:
            long_packet = b"\x81\x01" + bytes(15) + b"\xff"   # 18 bytes: too long
            assert raw.ask(long_packet) == [bytes.fromhex("90 60 01 FF")]
            assert raw.ask(bytes.fromhex("81 01 04 3F 02 01 FF")) == [bytes.fromhex("90 41 FF")]
            assert raw.ask(bytes.fromhex("81 01 06 04 FF")) == [bytes.fromhex("90 42 FF")]
            assert raw.ask(bytes.fromhex("81 01 06 04 FF")) == [bytes.fromhex("90 60 03 FF")]  # buffer full
            assert raw.ask(bytes.fromhex("81 21 FF")) == [bytes.fromhex("90 61 04 FF")]        # canceled
            assert raw.ask(bytes.fromhex("81 22 FF")) == [bytes.fromhex("90 62 04 FF")]
        finally:
            raw.close()


def test_golden_ip_exchanges(loopback: str) -> None:
    with udp_cam(loopback) as sim:
        raw = RawUdp(sim)
        try:
            assert raw.ask("02 00 00 01 00 00 00 00 01") == ["02 01 00 01 00 00 00 00 01"]
            assert raw.ask("01 00 00 05 00 00 00 01 81 01 00 01 FF") == ["01 11 00 03 00 00 00 01 90 50 FF"]
            # Home: ACK then completion, both with the request's sequence number (real cameras use
            # socket 1; the PlaceOS mock in the notes shows socket 0).
            assert raw.ask("01 00 00 05 00 00 00 02 81 01 06 04 FF", 2) == [
                "01 11 00 03 00 00 00 02 90 41 FF", "01 11 00 03 00 00 00 02 90 51 FF"]
            sim.pan, sim.tilt = 0xBEEF - 0x10000, 0x1234
            assert raw.ask("01 10 00 05 00 00 00 03 81 09 06 12 FF") == [
                "01 11 00 0B 00 00 00 03 90 50 0B 0E 0E 0F 01 02 03 04 FF"]
            # A repeated sequence number gets the same answer again.
            assert raw.ask("01 10 00 05 00 00 00 03 81 09 06 12 FF") == [
                "01 11 00 0B 00 00 00 03 90 50 0B 0E 0E 0F 01 02 03 04 FF"]
            # Out of sequence: control error 0F 01; bad length: 0F 02.
            assert raw.ask("01 10 00 05 00 00 00 09 81 09 04 00 FF") == ["02 01 00 02 00 00 00 09 0F 01"]
            assert raw.ask("01 10 00 07 00 00 00 04 81 09 04 00 FF") == ["02 01 00 02 00 00 00 04 0F 02"]
            assert raw.ask("07 07 00 05 00 00 00 04 81 09 04 00 FF") == ["02 01 00 02 00 00 00 04 0F 02"]
            power_on = "01 11 00 04 00 00 00 04 90 50 02 FF"
            assert raw.ask("01 10 00 05 00 00 00 04 81 09 04 00 FF") == [power_on]
        finally:
            raw.close()


# -- the wire-time test --------------------------------------------------------------------------------
def test_preset_recall_over_9600_baud_takes_wire_time_and_meets_deadline(within, no_leaks: None) -> None:
    with serial_cam(preset_time=0.05) as sim, serial_driver(sim) as cam:
        cam.preset_store(3)
        start = time.monotonic()
        with within(2.0):
            cam.preset_recall(3)
        elapsed = time.monotonic() - start
        # 7-byte command + 3-byte ACK + 3-byte completion, 10 bits a byte at 9600 baud.
        wire_time = (7 + 3 + 3) * 10 / 9600
        assert elapsed >= wire_time + 0.05, f"{elapsed:.4f} s is less than wire + motion time"
        assert sim.commands_executed[-1] == "04 3f 02 03"


# -- driver operations ---------------------------------------------------------------------------------
def exercise_camera(cam: ViscaCameraDriver, sim: ViscaCameraSimulator) -> None:
    assert isinstance(cam, Camera)
    assert cam.is_powered()
    cam.power(False)
    assert cam.power_status() == "standby" and not sim.camera_on
    with pytest.raises(CommandRejected) as info:
        cam.home()                       # not executable in standby
    assert info.value.code == "61 41" and "not executable" in info.value.text
    cam.power(True)
    assert cam.is_powered()
    cam.move_to(0x0100, -0x0020)
    assert cam.position() == (0x0100, -0x0020)
    cam.preset_store(5)
    cam.home()
    assert cam.position() == (0, 0)
    cam.preset_recall(5)
    assert cam.position() == (0x0100, -0x0020)
    cam.preset_reset(5)
    cam.preset_recall(5)
    assert cam.position() == (0, 0)
    cam.move_to(0x10, 0x10, relative=True)
    assert cam.position() == (0x10, 0x10)
    cam.drive("right", "up")
    cam.stop()
    pan, tilt = cam.position()
    assert pan >= 0x10 and tilt >= 0x10
    cam.zoom_to(0x2000)
    assert cam.zoom_position() == 0x2000
    cam.zoom("tele")
    cam.zoom("stop")
    assert cam.zoom_position() == 0x2400
    cam.zoom("wide", speed=3)
    assert cam.zoom_position() == 0x2000
    with pytest.raises(CommandRejected) as info:
        cam.focus("far")                 # manual focus while AF is on
    assert info.value.code == "61 41"
    cam.focus_auto(False)
    cam.focus("far")
    ident = cam.identify()
    assert (ident.vendor, ident.model, ident.firmware) == ("Sony", "SRG-300H", "0100")
    assert ident.extra["max_socket"] == "2"
    health = cam.health()
    assert health.verdict == Verdict.OK and health.details["power"] == "on"
    assert cam.cancel(1) is False


def test_all_operations_over_serial(no_leaks: None) -> None:
    with serial_cam() as sim, serial_driver(sim) as cam:
        exercise_camera(cam, sim)
        assert cam.read_config() == {"address": 1}


def test_all_operations_over_udp(loopback: str, no_leaks: None) -> None:
    with udp_cam(loopback) as sim, udp_driver(sim) as cam:
        exercise_camera(cam, sim)


def test_selftest_checks(loopback: str) -> None:
    with udp_cam(loopback) as sim, udp_driver(sim) as cam:
        sim.camera_on = False
        checks = {c.name: c for c in cam.selftest_checks({"preset": 2, "model": "SRG-300H"})}
        assert list(checks) == ["camera.power", "camera.position", "camera.preset_recall", "camera.picture",
                               "camera.identity"]
        for check in checks.values():
            assert check.run().status == CheckStatus.PASS, check.name
        assert sim.camera_on
        bad = next(c for c in cam.selftest_checks({"model": "BRC-X400"}) if c.name == "camera.identity")
        assert bad.run().status == CheckStatus.FAIL


# -- faults ---------------------------------------------------------------------------------------------
def test_power_up_window_answers_41(within) -> None:
    with serial_cam() as sim, serial_driver(sim) as cam:
        sim.set_fault("power-up", "5")
        with within(1.0), pytest.raises(CommandRejected) as info:
            cam.preset_recall(1)
        assert info.value.code.endswith(" 41")
        assert cam.power_status() == "on"   # inquiries still answered
        sim.clear_faults()
        cam.preset_recall(1)


def test_power_on_completes_after_power_up_time(loopback: str) -> None:
    with udp_cam(loopback, power_on_time=0.3) as sim, udp_driver(sim) as cam:
        cam.power(False)
        start = time.monotonic()
        cam.power(True)
        assert time.monotonic() - start >= 0.3
        assert sim.camera_on


def test_buffer_full_is_rejected(within) -> None:
    with serial_cam() as sim, serial_driver(sim) as cam:
        sim.set_fault("busy")
        with within(1.0), pytest.raises(CommandRejected) as info:
            cam.home()
        assert info.value.code == "60 03" and "buffer full" in info.value.text


def test_never_more_than_two_commands_in_flight() -> None:
    with serial_cam(preset_time=0.6) as sim, serial_driver(sim, motion_timeout=0.05) as cam:
        for _ in range(2):   # two recalls whose completion we stop waiting for
            with pytest.raises(DeviceTimeout):
                cam.preset_recall(1)
        assert cam.link.in_flight == {1, 2}
        cam.motion_timeout = 3.0
        cam.home()           # waits for a socket instead of provoking 60 03
        assert len(sim.commands_executed) == 3
        assert cam.link.in_flight == set()


def test_udp_losses_are_resent(loopback: str) -> None:
    with udp_cam(loopback, seed=7) as sim, udp_driver(sim, udp_retries=8, udp_retry_interval=0.05) as cam:
        sim.set_fault("lossy", "0.3")
        for preset in range(4):
            cam.preset_store(preset)
            cam.preset_recall(preset)
            assert cam.is_powered()
        link = cam.link
        assert link.datagrams_resent > 0   # type: ignore[attr-defined]
        # A resend is answered, never executed twice.
        assert len(sim.commands_executed) == 8


def test_udp_sequence_error_recovers_with_reset(loopback: str) -> None:
    with udp_cam(loopback) as sim, udp_driver(sim) as cam:
        assert cam.is_powered()
        sim._udp_last_seq = 1000            # the camera lost track (another controller, a reboot)
        cam.home()
        assert "RESET and resend" in cam.transcript.render()


def test_udp_camera_off_times_out(loopback: str, within) -> None:
    with udp_cam(loopback) as sim, udp_driver(sim, udp_retries=2) as cam:
        sim.power_off()
        with within(1.5), pytest.raises(DeviceTimeout):
            cam.is_powered()
        sim.power_on()


def test_serial_reboot_network_change_is_not_a_reply() -> None:
    with serial_cam(boot_time=0.1) as sim, serial_driver(sim, ack_timeout=0.3) as cam:
        cam.move_to(0x40, 0x40)
        sim.reboot()
        deadline = time.monotonic() + 2
        while sim.down and time.monotonic() < deadline:
            threading_wait(0.02)
        assert cam.position() == (0x40, 0x40)   # the z0 38 FF in front is skipped
        cam.home()
        assert cam.position() == (0, 0)


def threading_wait(seconds: float) -> None:
    import threading
    threading.Event().wait(seconds)


def test_silent_and_garbage(loopback: str, within) -> None:
    with udp_cam(loopback) as sim, udp_driver(sim, udp_retries=1) as cam:
        sim.set_fault("silent")
        with within(1.5), pytest.raises(DeviceTimeout):
            cam.position()
        sim.clear_faults()
        sim.set_fault("garbage")
        with within(0.8), pytest.raises(ProtocolError):
            cam.position()
    with serial_cam() as sim, serial_driver(sim) as cam:
        sim.set_fault("garbage")
        with within(1.5), pytest.raises(ProtocolError):
            cam.position()


def test_from_spec_serial_and_udp(loopback: str) -> None:
    spec = SimSpec(device_id="xining.camera", driver="sony-visca", transport="udp", host=loopback, port=0,
                   identity={"firmware": "0203"}, options={"model_id": 0x045C, "vendor_id": 0x0020})
    with ViscaCameraSimulator.from_spec(spec, None) as sim, udp_driver(sim) as cam:
        ident = cam.identify()
        assert (ident.vendor, ident.model, ident.firmware) == ("Sony", "FCB-EH4300", "0203")
    spec = SimSpec(device_id="xining.camera", driver="sony-visca", transport="serial")
    with ViscaCameraSimulator.from_spec(spec, None) as sim, serial_driver(sim) as cam:
        assert cam.is_powered()
