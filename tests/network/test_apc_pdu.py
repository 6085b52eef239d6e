"""APC PDU driver against the APC simulator over real Telnet (and SSH when available)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from drivers.apc_pdu import ApcPduDriver
from drivers.errors import (
    AuthError,
    CommandRejected,
    ConnectError,
    DeviceTimeout,
    Disconnected,
    ProtocolError,
)
from drivers.roles import Endpoint, PowerOutlet
from simulators.apc_pdu import ApcPduSimulator
from simulators.harness import DeviceSimulator, SimConnection
from simulators.spec import SimSpec

PASSWORD = "apc-s3cret"


def telnet_endpoint(sim: ApcPduSimulator, **kw: object) -> Endpoint:
    port = int(sim.urls()[0].rsplit(":", 1)[1])
    return Endpoint(transport="telnet", host=sim.host, port=port, username="apc", password=PASSWORD,
                    timeout=kw.pop("timeout", 2.0), **kw)  # type: ignore[arg-type]


@pytest.fixture
def pdu(loopback: str) -> Iterator[ApcPduSimulator]:
    with ApcPduSimulator(host=loopback, username="apc", password=PASSWORD, reboot_duration=0.3,
                         names={1: "Codec", 2: "Camera"}) as sim:
        yield sim


def test_status_on_off_and_identity(pdu: ApcPduSimulator) -> None:
    with ApcPduDriver(telnet_endpoint(pdu)) as drv:
        assert isinstance(drv, PowerOutlet)
        status = drv.outlet_status()
        assert status == {n: True for n in range(1, 9)}
        drv.outlet_off(3)
        assert drv.outlet_status(3) == {3: False}
        assert pdu.outlets[3].on is False
        drv.outlet_on(3)
        assert drv.outlet_status()[3] is True
        ident = drv.identify()
        assert (ident.vendor, ident.model, ident.serial) == ("APC", "AP7920", "ZA0000000001")
        assert drv.outlet_names()[1] == "Codec"
        assert drv.health().details["outlets"]["3"] is True


def test_password_never_in_transcript(pdu: ApcPduSimulator) -> None:
    drv = ApcPduDriver(telnet_endpoint(pdu))
    with drv:
        drv.outlet_status(1)
    rendered = drv.transcript.render()
    assert "olStatus 1" in rendered
    assert PASSWORD not in rendered
    assert PASSWORD not in repr(drv) and PASSWORD not in repr(drv.endpoint)


def test_parameter_error_is_rejected_with_code(pdu: ApcPduSimulator) -> None:
    with ApcPduDriver(telnet_endpoint(pdu)) as drv:
        with pytest.raises(CommandRejected) as info:
            drv.outlet_on(42)
        assert info.value.code == "E102"
        with pytest.raises(CommandRejected) as info:
            drv.command("olFrobnicate 1")
        assert info.value.code == "E101"
        assert drv.outlet_status(1) == {1: True}   # the session is still usable


@pytest.mark.parametrize(("knob", "code"), [("read-only", "E104"), ("comms-lost", "E107")])
def test_protocol_faults_reject(pdu: ApcPduSimulator, knob: str, code: str) -> None:
    with ApcPduDriver(telnet_endpoint(pdu)) as drv:
        pdu.set_fault(knob)
        with pytest.raises(CommandRejected) as info:
            drv.outlet_off(1)
        assert info.value.code == code
    assert pdu.outlets[1].on is True


def test_bad_password_is_auth_error(pdu: ApcPduSimulator) -> None:
    pdu.set_fault("bad-password")
    with pytest.raises(AuthError):
        ApcPduDriver(telnet_endpoint(pdu)).connect()


def test_wrong_password_is_auth_error(pdu: ApcPduSimulator) -> None:
    ep = telnet_endpoint(pdu)
    wrong = Endpoint(**{**ep.__dict__, "password": "nope"})
    with pytest.raises(AuthError):
        ApcPduDriver(wrong).connect()


def test_refused_is_connect_error(pdu: ApcPduSimulator) -> None:
    ep = telnet_endpoint(pdu)
    pdu.set_fault("refuse")
    deadline = time.monotonic() + 2
    while pdu.servers[0]._listener is not None and time.monotonic() < deadline:  # noqa: SLF001
        pdu.wait(0.02)
    with pytest.raises(ConnectError):
        ApcPduDriver(ep).connect()


def test_silent_is_timeout(pdu: ApcPduSimulator) -> None:
    with ApcPduDriver(telnet_endpoint(pdu, timeout=0.4)) as drv:
        pdu.set_fault("silent")
        started = time.monotonic()
        with pytest.raises(DeviceTimeout):
            drv.outlet_status()
        assert time.monotonic() - started < 0.4 + 1.0


def test_slow_beyond_deadline_is_timeout(pdu: ApcPduSimulator) -> None:
    with ApcPduDriver(telnet_endpoint(pdu, timeout=0.3)) as drv:
        pdu.set_fault("slow", "1.0")
        with pytest.raises(DeviceTimeout):
            drv.outlet_status()


def test_garbage_is_protocol_error(pdu: ApcPduSimulator) -> None:
    with ApcPduDriver(telnet_endpoint(pdu, timeout=0.4)) as drv:
        pdu.set_fault("garbage")
        with pytest.raises(ProtocolError):
            drv.outlet_status()


def test_drop_is_disconnected(pdu: ApcPduSimulator) -> None:
    with ApcPduDriver(telnet_endpoint(pdu)) as drv:
        pdu.set_fault("drop")
        with pytest.raises(Disconnected):
            drv.outlet_status()
        assert not drv.connected


# -- wiring: an outlet really powers the device plugged into it -----------------------------------
class GreeterSimulator(DeviceSimulator):
    """A stand-in mains-powered unit: greets every TCP client once booted."""

    def handle_connection(self, conn: SimConnection) -> None:
        conn.send(f"hello from {self.name}\r\n")
        conn.read_until(b"\n")


def greet(host: str, port: int) -> str:
    with socket.create_connection((host, port), timeout=1.0) as s:
        s.settimeout(1.0)
        return s.recv(100).decode()


def reachable(host: str, port: int) -> bool:
    try:
        return greet(host, port).startswith("hello")
    except OSError:
        return False


def becomes(want: bool, host: str, port: int, within: float) -> bool:
    """Whether the device reaches the wanted reachability before the deadline."""
    deadline = time.monotonic() + within
    while reachable(host, port) != want:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)  # test-side polling of the simulated unit, not a device driver wait
    return True


def test_cycle_silences_then_boots_the_wired_device(pdu: ApcPduSimulator, loopback_factory) -> None:
    with GreeterSimulator(name="codec", host=loopback_factory(), boot_time=0.4) as codec:
        port = int(codec.urls()[0].rsplit(":", 1)[1])
        pdu.wire(1, codec)
        assert reachable(codec.host, port)
        with ApcPduDriver(telnet_endpoint(pdu)) as drv:
            drv.outlet_off(1)
            assert not codec.powered
            # The listener closes on the simulator's next poll tick (50 ms).
            assert becomes(False, codec.host, port, within=1.0)
            powered_at = time.monotonic()
            drv.outlet_on(1)
            # Still booting right after power returns...
            assert not reachable(codec.host, port)
            assert becomes(True, codec.host, port, within=0.4 + 2.0), "codec did not boot"
            assert time.monotonic() - powered_at >= 0.4
            assert codec.boot_count == 1


def test_outlet_cycle_with_dwell(pdu: ApcPduSimulator, loopback_factory) -> None:
    with GreeterSimulator(name="camera", host=loopback_factory(), boot_time=0.2) as camera:
        pdu.wire(2, camera)
        with ApcPduDriver(telnet_endpoint(pdu)) as drv:
            drv.outlet_cycle(2, off_seconds=0.2)
            assert drv.outlet_status(2) == {2: True}
        assert pdu.commands[:2] == ["olOff 2", "olOn 2"]
        assert camera.powered


def test_olreboot_turns_back_on_after_reboot_duration(pdu: ApcPduSimulator) -> None:
    with ApcPduDriver(telnet_endpoint(pdu)) as drv:
        drv.outlet_reboot(4)
        assert drv.outlet_status(4) == {4: False}
        deadline = time.monotonic() + 0.3 + 2.0
        while not drv.outlet_status(4)[4]:
            assert time.monotonic() < deadline
            pdu.wait(0.05)


class FakeSite:
    def __init__(self) -> None:
        self.simulators: dict[str, DeviceSimulator] = {}


def test_from_spec_wires_lazily_through_the_site(loopback: str, loopback_factory) -> None:
    site = FakeSite()
    spec = SimSpec(device_id="urumqi.pdu", driver="apc-pdu", transport="telnet", host=loopback,
                   username="apc", password=PASSWORD, identity={"serial": "ZA99", "model": "AP7921"},
                   options={"outlets": {"1": "urumqi.codec"}, "outlet_count": 4})
    pdu = ApcPduSimulator.from_spec(spec, site)
    # The codec is built after the PDU: resolved on first use.
    with GreeterSimulator(name="urumqi.codec", host=loopback_factory(), boot_time=0.1) as codec, pdu:
        site.simulators["urumqi.codec"] = codec
        with ApcPduDriver(telnet_endpoint(pdu)) as drv:
            assert sorted(drv.outlet_status()) == [1, 2, 3, 4]
            assert drv.identify().serial == "ZA99"
            drv.outlet_off(1)
            assert not codec.powered
            drv.outlet_on(1)
            assert codec.powered


def test_ssh_session(loopback: str, tmp_path) -> None:
    with ApcPduSimulator(host=loopback, username="apc", password=PASSWORD, transports=("ssh",)) as sim:
        server = sim.servers[0]
        server.write_known_hosts(str(tmp_path / "kh"))
        port = int(sim.urls()[0].rsplit(":", 1)[1])
        ep = Endpoint(transport="ssh", host=loopback, port=port, username="apc", password=PASSWORD,
                      known_hosts=str(tmp_path / "kh"), timeout=2.0)
        with ApcPduDriver(ep) as drv:
            drv.outlet_off(5)
            assert drv.outlet_status(5) == {5: False}
            with pytest.raises(CommandRejected):
                drv.outlet_on(0)
        assert PASSWORD not in drv.transcript.render()
