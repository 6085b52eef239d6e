"""A complete but unparseable reply is a ``ProtocolError`` carrying the bytes, raised within the
deadline — never a ``DeviceTimeout`` because the driver skipped the junk while waiting — and what a
device legitimately says in between (VISCA network change, broadcast echoes, late replies of an
earlier sequence number, unsolicited Extron lines) is still skipped.

The simulators' ``garbage`` knob covers junk at every point of a session, connect included.
Replies no simulator sends (a reply from another camera on the chain, a datagram whose length
field lies) come from small scripted peers on a real pty and a real UDP socket.
"""

from __future__ import annotations

import os
import select
import socket
import threading
import tty
from collections.abc import Callable
from types import TracebackType

import pytest

from drivers.errors import ProtocolError
from drivers.extron_sis import ExtronRecorderDriver, ExtronSwitcherDriver
from drivers.pjlink import PJLinkDisplayDriver
from drivers.roles import Endpoint
from drivers.sony_visca import ViscaCameraDriver
from simulators.extron_sis import ExtronRecorderSimulator
from tests.peripherals.test_extron import switcher, telnet_endpoint
from tests.peripherals.test_pjlink import driver_for, make_sim
from tests.peripherals.test_visca import serial_cam, serial_driver, udp_cam, udp_driver

#: Endpoint.timeout of every driver below is 1.0 s: a ProtocolError comes well before it.
DEADLINE = 0.8


# -- the garbage knob, from the first byte of the session --------------------------------------------
def test_pjlink_garbled_greeting_and_replies(loopback: str, within) -> None:
    with make_sim(loopback) as sim:
        sim.set_fault("garbage")
        drv = driver_for(sim)
        with within(DEADLINE), pytest.raises(ProtocolError) as info:
            drv.connect()
        assert isinstance(info.value.data, bytes) and info.value.data.endswith(b"\r")
        assert not info.value.data.startswith(b"PJLINK")
        assert not drv.connected                      # no half-open session left behind
        sim.clear_faults()
        assert drv.power_state() == "standby"         # the next connect works
        sim.set_fault("garbage")
        with within(DEADLINE), pytest.raises(ProtocolError) as info:
            drv.errors()
        assert info.value.data.endswith(b"\r") and b"ERST" not in info.value.data
        sim.clear_faults()
        assert set(drv.errors().values()) == {"ok"}
        drv.close()


def test_pjlink_driver_pointed_at_another_protocol(loopback: str, within) -> None:
    """A wrong address in a profile (an Extron unit where the display should be)."""
    with switcher(loopback) as sim:
        ep = Endpoint(transport="tcp", host=sim.host, port=sim.tcp_port, timeout=1.0)
        with within(DEADLINE), pytest.raises(ProtocolError) as info:
            PJLinkDisplayDriver(ep, name="display").connect()
        assert b"Extron" in info.value.data


@pytest.mark.parametrize("transport", ["serial", "udp"])
def test_visca_garbled_from_connect_on(transport: str, loopback: str, within) -> None:
    make = serial_cam if transport == "serial" else lambda: udp_cam(loopback)
    with make() as sim:
        cam = serial_driver(sim) if transport == "serial" else udp_driver(sim, udp_retries=1)
        sim.set_fault("garbage")
        with within(DEADLINE), pytest.raises(ProtocolError) as info:
            cam.connect()                             # Address Set / RESET answered with junk
        assert isinstance(info.value.data, bytes) and info.value.data[:1] == b"#"
        sim.clear_faults()
        assert cam.is_powered()
        sim.set_fault("garbage")
        for ask in (cam.position, lambda: cam.preset_recall(1)):
            with within(DEADLINE), pytest.raises(ProtocolError):
                ask()
        sim.clear_faults()
        cam.preset_store(2)                           # junk left on the line is not taken for this
        assert cam.position() == (0, 0)
        cam.close()


def test_extron_garbled_banner_replies_and_listing(loopback: str, within) -> None:
    with switcher(loopback) as sim:
        sim.set_fault("garbage")
        with within(DEADLINE), pytest.raises(ProtocolError) as info:
            ExtronSwitcherDriver(telnet_endpoint(sim)).connect()
        assert "copyright" in str(info.value).lower() and info.value.data
    with ExtronRecorderSimulator(host=loopback, port=0) as rec_sim, \
            ExtronRecorderDriver(telnet_endpoint(rec_sim)) as rec:
        rec.record_start()
        rec_sim.set_fault("garbage")
        with within(DEADLINE), pytest.raises(ProtocolError) as info:
            rec.recordings()                          # a multi-line answer: no row, no end line
        assert "unexpected line" in str(info.value)
        with within(DEADLINE), pytest.raises(ProtocolError):
            rec.record_state()
        rec_sim.clear_faults()
        assert rec.record_state() == "recording"
        assert len(rec.recordings()) == 1


def test_extron_garbled_over_serial(within) -> None:
    from tests.peripherals.test_extron import ExtronSwitcherSimulator

    with ExtronSwitcherSimulator(serial=True) as sim:
        ep = Endpoint(transport="serial", serial_url=sim.serial_path, timeout=1.0)
        sim.set_fault("garbage")
        with within(DEADLINE), pytest.raises(ProtocolError):
            ExtronSwitcherDriver(ep).connect()        # the verbose-mode answer is junk
        sim.clear_faults()
        with ExtronSwitcherDriver(ep) as sw:
            assert sw.size() == (8, 8)


# -- scripted peers: replies no simulator sends -------------------------------------------------------
Answer = Callable[[bytes], list[bytes]]


def chain_head(packet: bytes) -> list[bytes] | None:
    """Address Set and IF_Clear broadcast as the first camera of a one-camera chain answers them."""
    if packet == b"\x88\x30\x01\xff":
        return [b"\x88\x30\x02\xff"]
    if packet == b"\x88\x01\x00\x01\xff":
        return [packet]
    return None


class ScriptedSerialCamera:
    """A peer on a real pty that answers each VISCA packet through ``answer``."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self._stop = threading.Event()

    def __enter__(self) -> ScriptedSerialCamera:
        self.master, self.slave = os.openpty()
        tty.setraw(self.master)
        self.path = os.ttyname(self.slave)
        self._thread = threading.Thread(target=self._serve, name="test-scripted-visca", daemon=True)
        self._thread.start()
        return self

    def _serve(self) -> None:
        buf = b""
        while not self._stop.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.02)
            if not ready:
                continue
            try:
                buf += os.read(self.master, 256)
            except OSError:
                return
            while b"\xff" in buf:
                packet, _, buf = buf.partition(b"\xff")
                packet += b"\xff"
                for reply in chain_head(packet) or self.answer(packet):
                    os.write(self.master, reply)

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._stop.set()
        self._thread.join(2.0)
        os.close(self.master)
        os.close(self.slave)

    def driver(self) -> ViscaCameraDriver:
        ep = Endpoint(transport="serial", serial_url=self.path, baudrate=9600, timeout=1.0)
        return ViscaCameraDriver(ep, name="camera")


POWER_INQUIRY = b"\x81\x09\x04\x00\xff"


def test_visca_serial_reply_from_another_camera_is_garbage(within) -> None:
    def answer(packet: bytes) -> list[bytes]:
        return [b"\xa0\x50\x02\xff"] if packet == POWER_INQUIRY else []   # camera 2 answers

    with ScriptedSerialCamera(answer) as peer, peer.driver() as cam:
        with within(DEADLINE), pytest.raises(ProtocolError) as info:
            cam.power_status()
        assert info.value.data == b"\xa0\x50\x02\xff"
        assert "not a reply from camera 1" in str(info.value)


def test_visca_serial_chain_housekeeping_is_still_skipped(within) -> None:
    def answer(packet: bytes) -> list[bytes]:
        if packet == POWER_INQUIRY:
            # camera 2 on the chain powered up, a late IF_Clear echo, then our answer
            return [b"\xa0\x38\xff", b"\x88\x01\x00\x01\xff", b"\x90\x50\x02\xff"]
        return []

    with ScriptedSerialCamera(answer) as peer, peer.driver() as cam:
        with within(DEADLINE):
            assert cam.power_status() == "on"
        assert cam.link.network_changes == 1          # the chain gets re-addressed before the next request
        assert "network change from A0" in cam.transcript.render()


def test_visca_serial_garbled_address_set_reply(within) -> None:
    class Noisy(ScriptedSerialCamera):
        def _serve(self) -> None:
            # Line noise instead of the Address Set reply.
            while not self._stop.is_set():
                ready, _, _ = select.select([self.master], [], [], 0.02)
                if ready:
                    os.read(self.master, 256)
                    os.write(self.master, b"\x12\x34\xff")

    with Noisy(lambda p: []) as peer:
        cam = peer.driver()
        with within(DEADLINE), pytest.raises(ProtocolError) as info:
            cam.connect()
        assert info.value.data == b"\x12\x34\xff"
        assert not cam.connected


class ScriptedUdpCamera:
    """A VISCA-over-IP peer on a real UDP socket: RESET and IF_Clear as a camera answers them,
    everything else through ``answer(sequence, payload)``."""

    def __init__(self, host: str, answer: Callable[[int, bytes], list[bytes]]) -> None:
        self.answer = answer
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, 0))
        self.host, self.port = self.sock.getsockname()
        self._stop = threading.Event()

    def __enter__(self) -> ScriptedUdpCamera:
        self._thread = threading.Thread(target=self._serve, name="test-scripted-visca-ip", daemon=True)
        self._thread.start()
        return self

    def _serve(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self.sock], [], [], 0.02)
            if not ready:
                continue
            data, addr = self.sock.recvfrom(100)
            seq, payload = data[4:8], data[8:]
            if data[:2] == b"\x02\x00":
                replies = [b"\x02\x01\x00\x01" + seq + b"\x01"]
            elif payload == b"\x81\x01\x00\x01\xff":
                replies = [reply_datagram(int.from_bytes(seq, "big"), b"\x90\x50\xff")]
            else:
                replies = self.answer(int.from_bytes(seq, "big"), payload)
            for reply in replies:
                self.sock.sendto(reply, addr)

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._stop.set()
        self._thread.join(2.0)
        self.sock.close()

    def driver(self) -> ViscaCameraDriver:
        ep = Endpoint(transport="udp", host=self.host, port=self.port, timeout=1.0,
                      options={"udp_retry_interval": 0.1, "udp_retries": 2})
        return ViscaCameraDriver(ep, name="camera")


def reply_datagram(seq: int, visca: bytes, length: int | None = None) -> bytes:
    size = len(visca) if length is None else length
    return b"\x01\x11" + size.to_bytes(2, "big") + seq.to_bytes(4, "big") + visca


def test_visca_ip_datagram_with_a_lying_length_is_garbage(loopback: str, within) -> None:
    def answer(seq: int, payload: bytes) -> list[bytes]:
        return [reply_datagram(seq, b"\x90\x50\x02\xff", length=9)]

    with ScriptedUdpCamera(loopback, answer) as peer, peer.driver() as cam:
        with within(DEADLINE), pytest.raises(ProtocolError) as info:
            cam.power_status()
        assert info.value.data == reply_datagram(2, b"\x90\x50\x02\xff", length=9)


def test_visca_ip_late_replies_skipped_other_camera_refused(loopback: str, within) -> None:
    answers = {
        # a late completion of the message before, then the answer to this one
        "late": lambda seq: [reply_datagram(seq - 1, b"\x90\x51\xff"),
                             reply_datagram(seq, b"\x90\x50\x02\xff")],
        "other": lambda seq: [reply_datagram(seq, b"\xa0\x50\x02\xff")],
    }
    mode = ["late"]
    with ScriptedUdpCamera(loopback, lambda seq, _payload: answers[mode[0]](seq)) as peer, \
            peer.driver() as cam:
        with within(DEADLINE):
            assert cam.power_status() == "on"
        mode[0] = "other"
        with within(DEADLINE), pytest.raises(ProtocolError) as info:
            cam.power_status()
        assert info.value.data[8:] == b"\xa0\x50\x02\xff"
