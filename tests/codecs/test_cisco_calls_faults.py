"""Cisco calls through the fabric, configuration, reboot and faults over the real transports."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from drivers.cisco_roomos import CiscoRoomOSDriver
from drivers.errors import (
    AuthError,
    CommandRejected,
    ConnectError,
    DeviceTimeout,
    Disconnected,
    ProtocolError,
)
from simulators.cisco_roomos import CiscoRoomOSSimulator
from simulators.fabric import CallFabric
from tests.codecs.conftest import cisco_endpoint, make_cisco_sim


def on_the_line(sim: CiscoRoomOSSimulator, error: type) -> type:
    """An RS-232 line has no connection to lose or refuse: a unit that stops talking half-way, or
    is off, is a timeout there."""
    if sim.transport == "serial" and error in (Disconnected, ConnectError):
        return DeviceTimeout
    return error


@pytest.fixture
def far_cisco(loopback_factory, fabric: CallFabric):
    sim = make_cisco_sim(loopback_factory(), fabric, "ssh", uri="far@roomops.test", max_rate=1920,
                         system_name="Far", serial="FOCFAR")
    with sim:
        yield sim


def test_two_codecs_call_each_other(cisco: CiscoRoomOSDriver, far_cisco: CiscoRoomOSSimulator,
                                    tmp_path: Path) -> None:
    far = CiscoRoomOSDriver(cisco_endpoint(far_cisco, tmp_path), name="far")
    with far:
        call_id = cisco.dial("far@roomops.test", "sip", 6000)
        info = cisco.wait_for_call(call_id, ("connected",), 2.0)
        assert info is not None
        (mine,) = cisco.calls()
        assert (mine.state, mine.rate_kbps, mine.resolution, mine.direction, mine.remote_uri) == \
            ("connected", 1920, "1920x1080", "outgoing", "far@roomops.test")
        assert mine.is_hd
        (theirs,) = far.calls()
        assert (theirs.state, theirs.rate_kbps, theirs.direction) == ("connected", 1920, "incoming")
        far.hangup(theirs.call_id)
        assert cisco.wait_for_call(call_id, (), 2.0) is None
        assert cisco._ended[call_id] == "RemoteDisconnect"
        assert cisco.calls() == [] and far.calls() == []


def test_dial_unknown_uri_fails_like_the_codec(cisco: CiscoRoomOSDriver) -> None:
    with pytest.raises(CommandRejected) as err:
        cisco.dial("nobody@roomops.test")
    assert err.value.code == "UnknownRemoteSite"
    assert cisco.calls() == []


def test_far_end_without_auto_answer_rings(cisco: CiscoRoomOSDriver, loopback_factory,
                                           fabric: CallFabric) -> None:
    sim = make_cisco_sim(loopback_factory(), fabric, "ssh", uri="shy@roomops.test")
    sim.auto_answer = False
    with sim:
        call_id = cisco.dial("shy@roomops.test", "sip", 1920)
        assert cisco.calls()[0].state == "ringing"
        (incoming,) = sim.active_calls()
        assert incoming.state == "ringing"
        sim.hangup(incoming.call_id)        # declined at the far end
        assert cisco.wait_for_call(call_id, (), 2.0) is None
        assert cisco._ended[call_id] == "RemoteRejected"


def test_selftest_checks_pass_with_a_test_call(cisco: CiscoRoomOSDriver,
                                               far_cisco: CiscoRoomOSSimulator) -> None:
    checks = cisco.selftest_checks({"serial": "FOC2145N0AB", "registered": True,
                                    "test_uri": "far@roomops.test",
                                    "hd_rate": 1472, "rate": 6000, "preset": 1})
    cisco.preset_store(1)
    outcomes = {c.name: c.run() for c in checks}
    assert {n: o.status.value for n, o in outcomes.items()} == {
        "codec.reachable": "pass", "codec.identity": "pass", "codec.registered": "pass", "codec.idle": "pass",
        "codec.diagnostics": "pass", "codec.preset": "pass", "codec.test_call": "pass"}
    assert outcomes["codec.test_call"].measured["rate_kbps"] == 1920
    assert cisco.calls() == []
    wrong = cisco.selftest_checks({"serial": "OTHER"})
    assert [c.run().status.value for c in wrong if c.name == "codec.identity"] == ["fail"]


def test_apply_config_reads_back_and_moves(cisco: CiscoRoomOSDriver, cisco_sim: CiscoRoomOSSimulator,
                                           loopback_factory) -> None:
    config = cisco.read_config()
    assert config["network.ipv4.address"] == cisco_sim.host
    assert config["sip.uri"] == "cisco@roomops.test"
    assert config["network.assignment"] == "Static"
    assert "sip.password" not in config
    new_host = loopback_factory()
    desired = dict(config, **{"network.ipv4.address": new_host, "network.ipv4.gateway": "127.0.0.254",
                              "sip.proxy": "proxy.kunming.test", "h323.gatekeeper": "gk.kunming.test"})
    report = cisco.apply_config(desired)
    assert report.verified, report.mismatches
    assert sorted(c.key for c in report.changes) == ["h323.gatekeeper", "network.ipv4.address",
                                                     "network.ipv4.gateway", "sip.proxy"]
    assert cisco.host == new_host == cisco_sim.host
    assert cisco.read_config()["h323.gatekeeper"] == "gk.kunming.test"
    assert cisco.apply_config(desired).changes == []


def test_invalid_config_value_is_rejected(cisco: CiscoRoomOSDriver) -> None:
    with pytest.raises(CommandRejected):
        cisco.apply_config({"network.ipv4.gateway": "999.1.1.1"})


def test_sip_password_never_shown(cisco: CiscoRoomOSDriver, cisco_sim: CiscoRoomOSSimulator) -> None:
    cisco_sim.set_fault("unregistered")
    report = cisco.apply_config({"sip.password": "Pa55-Word-SIP"})
    assert [c.key for c in report.changes] == ["sip.password"]
    assert cisco_sim.settings["sip.password"] == "Pa55-Word-SIP"
    rendered = cisco.transcript.render()
    assert "Pa55-Word-SIP" not in rendered and "s3cret-Cisco" not in rendered
    assert "Pa55-Word-SIP" not in repr(report)


def test_reboot_reconnects(cisco: CiscoRoomOSDriver, cisco_sim: CiscoRoomOSSimulator) -> None:
    away = cisco.reboot(wait=True, timeout=5.0)
    assert away is not None and 0.4 < away < 5.0
    assert cisco_sim.boot_count == 1
    assert cisco.identify().serial == "FOC2145N0AB"


def test_reboot_ignored(cisco_sim: CiscoRoomOSSimulator, tmp_path: Path) -> None:
    drv = CiscoRoomOSDriver(cisco_endpoint(cisco_sim, tmp_path, reboot_drop_timeout=0.5), name="x")
    with drv:
        cisco_sim.set_fault("ignore-reboot")
        with pytest.raises(DeviceTimeout):
            drv.reboot(wait=True, timeout=3.0)


def test_wrong_password(cisco_sim: CiscoRoomOSSimulator, tmp_path: Path) -> None:
    ep = cisco_endpoint(cisco_sim, tmp_path)
    drv = CiscoRoomOSDriver(type(ep)(**{**ep.__dict__, "password": "nope-wrong"}), name="x")
    with pytest.raises(AuthError):
        drv.connect()
    assert "nope-wrong" not in drv.transcript.render()


@pytest.mark.parametrize("knob, error", [("garbage", ProtocolError), ("silent", DeviceTimeout),
                                         ("drop", Disconnected)])
def test_reply_faults(cisco: CiscoRoomOSDriver, cisco_sim: CiscoRoomOSSimulator, knob: str,
                      error: type) -> None:
    error = on_the_line(cisco_sim, error)
    cisco_sim.set_fault(knob)
    start = time.monotonic()
    with pytest.raises(error):
        cisco.identify()
    assert time.monotonic() - start < cisco.endpoint.timeout + 1.0


@pytest.mark.parametrize("knob, error", [("garbage", ProtocolError), ("silent", DeviceTimeout),
                                         ("drop", Disconnected)])
def test_login_faults(cisco_sim: CiscoRoomOSSimulator, tmp_path: Path, knob: str, error: type) -> None:
    error = on_the_line(cisco_sim, error)
    cisco_sim.set_fault(knob)
    drv = CiscoRoomOSDriver(cisco_endpoint(cisco_sim, tmp_path, login_timeout=1.0), name="x")
    with pytest.raises(error):
        drv.connect()


def test_reboot_during_a_command(cisco: CiscoRoomOSDriver, cisco_sim: CiscoRoomOSSimulator) -> None:
    cisco_sim.set_fault("slow", "0.5")
    timer = threading.Timer(0.1, cisco_sim.reboot)
    timer.start()
    with pytest.raises(on_the_line(cisco_sim, Disconnected)):
        cisco.calls()
    timer.join()


def test_refused_while_down(cisco_sim: CiscoRoomOSSimulator, tmp_path: Path) -> None:
    cisco_sim.reboot(2.0)
    drv = CiscoRoomOSDriver(cisco_endpoint(cisco_sim, tmp_path), name="x")
    with pytest.raises(on_the_line(cisco_sim, ConnectError)):
        drv.connect()
