"""Poly calls through the fabric, configuration, reboot and faults over real Telnet."""

from __future__ import annotations

import socket
import time

import pytest

from drivers.errors import AuthError, CommandRejected, DeviceTimeout, Disconnected, ProtocolError
from drivers.poly_group import PolyGroupDriver
from simulators.fabric import CallFabric
from simulators.poly_group import PolyGroupSimulator
from tests.codecs.conftest import POLY_PASSWORD, poly_endpoint, poly_options


@pytest.fixture
def far_sim(loopback_factory, fabric: CallFabric):
    sim = PolyGroupSimulator(name="far", host=loopback_factory(), password=POLY_PASSWORD, boot_time=0.5,
                             options=poly_options("far@roomops.test", max_rate=1024, system_name="Far"),
                             fabric=fabric)
    with sim:
        yield sim


def test_two_codecs_call_each_other(poly: PolyGroupDriver, poly_sim: PolyGroupSimulator,
                                    far_sim: PolyGroupSimulator) -> None:
    far = PolyGroupDriver(poly_endpoint(far_sim), name="far")
    with far:
        call_id = poly.dial("far@roomops.test", "sip", 4096)
        info = poly.wait_for_call(call_id, ("connected",), 2.0)
        assert info is not None and info.state == "connected"
        calls = poly.calls()
        assert [(c.state, c.rate_kbps, c.resolution, c.direction) for c in calls] == \
            [("connected", 1024, "1280x720", "outgoing")]
        far_calls = far.calls()
        assert [(c.state, c.rate_kbps, c.direction) for c in far_calls] == [("connected", 1024, "incoming")]
        far.hangup()            # the far side hangs up: our side hears a normal clearing
        assert poly.wait_for_call(call_id, (), 2.0) is None
        assert poly._ended[call_id] == "16"
        assert poly.calls() == []


def test_dial_unknown_uri_is_rejected(poly: PolyGroupDriver) -> None:
    with pytest.raises(CommandRejected) as err:
        poly.dial("nobody@roomops.test")
    assert err.value.code == "1"
    assert "unallocated" in err.value.text
    assert poly.calls() == []


def test_unknown_command_is_rejected(poly: PolyGroupDriver) -> None:
    with pytest.raises(CommandRejected) as err:
        poly._command("frobnicate", lambda ln: False)
    assert err.value.code == "error"


def test_read_and_apply_config_moves_the_unit(poly: PolyGroupDriver, poly_sim: PolyGroupSimulator,
                                              loopback_factory) -> None:
    config = poly.read_config()
    assert config["network.ipv4.address"] == poly_sim.host
    assert config["sip.uri"] == "poly@roomops.test"
    assert "sip.password" not in config
    new_host = loopback_factory()
    desired = dict(config, **{"network.ipv4.address": new_host, "sip.proxy": "sip2.roomops.test",
                              "system.name": "Lhasa New"})
    report = poly.apply_config(desired)
    assert report.verified, report.mismatches
    assert sorted(c.key for c in report.changes) == ["network.ipv4.address", "sip.proxy", "system.name"]
    assert poly.host == new_host and poly_sim.host == new_host
    assert poly.read_config()["sip.proxy"] == "sip2.roomops.test"
    again = poly.apply_config(desired)
    assert again.changes == [] and again.verified


def test_password_is_written_but_never_shown(poly: PolyGroupDriver, poly_sim: PolyGroupSimulator) -> None:
    poly_sim.set_fault("unregistered")
    report = poly.apply_config({"sip.password": "Very-Secret-42"})
    assert [c.key for c in report.changes] == ["sip.password"]
    assert poly_sim.settings["sip.password"] == "Very-Secret-42"
    assert "Very-Secret-42" not in poly.transcript.render()
    assert "Very-Secret-42" not in repr(report)


def test_reboot_waits_until_back(poly: PolyGroupDriver, poly_sim: PolyGroupSimulator) -> None:
    away = poly.reboot(wait=True, timeout=5.0)
    assert away is not None and 0.4 < away < 5.0
    assert poly_sim.boot_count == 1
    assert poly.identify().serial == "8213460ABCDE"


def test_ignored_reboot_is_a_timeout(poly_sim: PolyGroupSimulator) -> None:
    drv = PolyGroupDriver(poly_endpoint(poly_sim, reboot_drop_timeout=0.5), name="x")
    with drv:
        poly_sim.set_fault("ignore-reboot")
        with pytest.raises(DeviceTimeout):
            drv.reboot(wait=True, timeout=3.0)


def test_wrong_password(poly_sim: PolyGroupSimulator) -> None:
    ep = poly_endpoint(poly_sim)
    drv = PolyGroupDriver(type(ep)(**{**ep.__dict__, "password": "wrong"}), name="x")
    with pytest.raises(AuthError):
        drv.connect()
    assert "wrong" not in drv.transcript.render()


@pytest.mark.parametrize("knob, error", [("garbage", ProtocolError), ("silent", DeviceTimeout),
                                         ("drop", Disconnected)])
def test_reply_faults(poly: PolyGroupDriver, poly_sim: PolyGroupSimulator, knob: str, error: type) -> None:
    poly_sim.set_fault(knob)
    start = time.monotonic()
    with pytest.raises(error):
        poly.health()
    assert time.monotonic() - start < 2.0 + 1.0


@pytest.mark.parametrize("knob, error", [("garbage", ProtocolError), ("silent", DeviceTimeout),
                                         ("drop", Disconnected)])
def test_login_faults(poly_sim: PolyGroupSimulator, knob: str, error: type) -> None:
    poly_sim.set_fault(knob)
    drv = PolyGroupDriver(poly_endpoint(poly_sim, login_timeout=1.0), name="x")
    with pytest.raises(error):
        drv.connect()


def test_reboot_during_command(poly: PolyGroupDriver, poly_sim: PolyGroupSimulator) -> None:
    poly_sim.set_fault("slow", "0.5")
    import threading
    threading.Timer(0.1, poly_sim.reboot).start()
    with pytest.raises(Disconnected):
        poly.calls()


def test_refused_while_rebooting(poly_sim: PolyGroupSimulator) -> None:
    poly_sim.reboot(2.0)
    drv = PolyGroupDriver(poly_endpoint(poly_sim), name="x")
    from drivers.errors import ConnectError
    with pytest.raises(ConnectError):
        drv.connect()


def test_golden_exchanges(poly_sim: PolyGroupSimulator) -> None:
    """The literal exchanges of protocols.md section 2 against the simulator, on a raw socket."""
    with socket.create_connection((poly_sim.host, poly_sim.servers[0].port), timeout=2) as s:  # type: ignore[attr-defined]
        s.settimeout(2)

        def until(marker: bytes) -> bytes:
            data = b""
            while marker not in data:
                data += s.recv(4096)
            return data

        assert until(b"Password:").endswith(b"Password: ")
        s.sendall(POLY_PASSWORD.encode() + b"\r")
        welcome = until(b"-> ")
        assert b"Hi, my name is" in welcome and b"Here is what I know about myself:" in welcome
        s.sendall(b"preset near go 1\r")
        assert until(b"\r\n") == b"preset near go 1\r\n"
        s.sendall(b"callinfo all\r")
        assert until(b"\r\n") == b"system is not in a call\r\n"
        s.sendall(b"notify callstatus\r")
        assert until(b"\r\n") == b"notify callstatus success\r\n"
        s.sendall(b"notify callstatus\r")
        assert until(b"\r\n") == b"info: event/notification already active:callstatus\r\n"
        s.sendall(b"mute near on\r")
        assert until(b"\r\n") == b"mute near on\r\n"


def test_finished_calls_are_capped(poly: PolyGroupDriver, far_sim: PolyGroupSimulator) -> None:
    from drivers.poly_grammar import FINISHED_CAP

    ids = []
    for _ in range(FINISHED_CAP + 5):
        call_id = poly.dial("far@roomops.test", "sip", 1024)
        poly.hangup(call_id)
        ids.append(call_id)
    assert len(poly._ended) == FINISHED_CAP
    assert list(poly._ended)[-1] == ids[-1] and ids[0] not in poly._ended   # the oldest went first
