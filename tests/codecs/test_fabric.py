"""The call fabric: rate/resolution mapping, a bridge with six sites, cross-brand calls,
busy and capacity limits, and what is left behind after the simulators stop."""

from __future__ import annotations

import threading
from contextlib import ExitStack
from pathlib import Path

import pytest

from drivers.cisco_roomos import CiscoRoomOSDriver
from drivers.codec_common import resolution_for_rate
from drivers.errors import CommandRejected
from drivers.poly_group import PolyGroupDriver
from drivers.roles import Driver
from simulators.fabric import Bridge, CallFabric, resolution_for
from simulators.poly_group import PolyGroupSimulator
from tests.codecs.conftest import POLY_PASSWORD, cisco_endpoint, make_cisco_sim, poly_endpoint, poly_options


@pytest.mark.parametrize("rate, cap, expected", [
    (6000, "1920x1080", "1920x1080"), (1472, "1920x1080", "1920x1080"), (1471, "1920x1080", "1280x720"),
    (768, "1920x1080", "1280x720"), (512, "1920x1080", "704x576"), (256, "1920x1080", "352x288"),
    (64, "1920x1080", "176x144"), (4000, "1280x720", "1280x720"),
])
def test_rate_to_resolution(rate: int, cap: str, expected: str) -> None:
    # The simulator's table and the driver's estimate are written separately and must agree.
    assert resolution_for(rate, cap) == expected
    assert resolution_for_rate(rate, cap) == expected


def _six_sites(stack: ExitStack, loopback_factory, fabric: CallFabric, tmp_path: Path) -> list[Driver]:
    drivers: list[Driver] = []
    for n in range(3):
        sim = stack.enter_context(make_cisco_sim(loopback_factory(), fabric, "ssh",
                                                 uri=f"cisco{n}@roomops.test",
                                                 serial=f"FOC{n}", max_rate=6000 if n else 1024))
        drivers.append(stack.enter_context(CiscoRoomOSDriver(cisco_endpoint(sim, tmp_path), name=f"c{n}")))
    for n in range(3):
        psim = PolyGroupSimulator(name=f"p{n}", host=loopback_factory(), password=POLY_PASSWORD,
                                  options=poly_options(f"poly{n}@roomops.test"), fabric=fabric)
        stack.enter_context(psim)
        drivers.append(stack.enter_context(PolyGroupDriver(poly_endpoint(psim), name=f"p{n}")))
    return drivers


def test_six_sites_call_a_bridge(loopback_factory, fabric: CallFabric, tmp_path: Path) -> None:
    bridge = Bridge(fabric, "meeting-0420@mcu.roomops.test", capacity=6, max_rate=4096)
    with ExitStack() as stack:
        sites = _six_sites(stack, loopback_factory, fabric, tmp_path)
        ids = [site.dial(bridge.uri, "sip", 6000) for site in sites]   # type: ignore[attr-defined]
        assert bridge.connected_count() == 6
        rates = []
        for site, call_id in zip(sites, ids, strict=True):
            info = site.wait_for_call(call_id, ("connected",), 2.0)  # type: ignore[attr-defined]
            assert info is not None and info.state == "connected"
            (call,) = site.calls()  # type: ignore[attr-defined]
            rates.append((call.rate_kbps, call.resolution))
        # The lower of the bridge's and each codec's rate; 1024 kbps still gives 720p.
        assert rates == [(1024, "1280x720")] + [(4096, "1920x1080")] * 5
        # A seventh participant is refused: the bridge is full.
        late = stack.enter_context(make_cisco_sim(loopback_factory(), fabric, "ssh", uri="late@roomops.test"))
        with CiscoRoomOSDriver(cisco_endpoint(late, tmp_path), name="late") as late_driver:
            with pytest.raises(CommandRejected) as err:
                late_driver.dial(bridge.uri)
            assert err.value.code == "RemoteBusy"
        for site in sites:
            site.hangup()  # type: ignore[attr-defined]
        assert bridge.connected_count() == 0
        assert all(site.calls() == [] for site in sites)  # type: ignore[attr-defined]
    bridge.close()


def test_cisco_calls_poly_and_poly_hangs_up(loopback_factory, fabric: CallFabric, tmp_path: Path) -> None:
    with ExitStack() as stack:
        cisco_sim = stack.enter_context(make_cisco_sim(loopback_factory(), fabric, "ssh"))
        poly_sim = stack.enter_context(PolyGroupSimulator(
            name="p", host=loopback_factory(), password=POLY_PASSWORD, fabric=fabric,
            options=poly_options("lhasa@roomops.test", max_rate=768)))
        cisco = stack.enter_context(CiscoRoomOSDriver(cisco_endpoint(cisco_sim, tmp_path), name="c"))
        poly = stack.enter_context(PolyGroupDriver(poly_endpoint(poly_sim), name="p"))
        call_id = cisco.dial("sip:lhasa@roomops.test", "sip", 1920)
        info = cisco.wait_for_call(call_id, ("connected",), 2.0)
        assert info is not None and (info.rate_kbps, info.resolution, info.is_hd) == (768, "1280x720", True)
        (incoming,) = poly.calls()
        assert (incoming.direction, incoming.rate_kbps, incoming.state) == ("incoming", 768, "connected")
        poly.hangup(incoming.call_id)
        assert cisco.wait_for_call(call_id, (), 2.0) is None
        assert cisco._ended[call_id] == "RemoteDisconnect"


def test_multisite_limit_and_busy(loopback_factory, fabric: CallFabric, tmp_path: Path) -> None:
    """A codec with one call slot: its second dial is refused, and a caller hears it busy."""
    with ExitStack() as stack:
        one = stack.enter_context(PolyGroupSimulator(name="one", host=loopback_factory(),
                                                     password=POLY_PASSWORD,
                                                     fabric=fabric, options=poly_options("one@roomops.test")))
        other = stack.enter_context(make_cisco_sim(loopback_factory(), fabric, "ssh", uri="two@roomops.test"))
        third = stack.enter_context(make_cisco_sim(loopback_factory(), fabric, "ssh",
                                                   uri="three@roomops.test"))
        poly = stack.enter_context(PolyGroupDriver(poly_endpoint(one), name="one"))
        poly.dial("two@roomops.test")
        with pytest.raises(CommandRejected):
            poly.dial("three@roomops.test")
        caller = stack.enter_context(CiscoRoomOSDriver(cisco_endpoint(third, tmp_path), name="three"))
        with pytest.raises(CommandRejected) as err:
            caller.dial("one@roomops.test")
        assert err.value.code == "RemoteBusy"
        assert len(other.active_calls()) == 1


def test_unregistered_codec_cannot_be_reached(loopback_factory, fabric: CallFabric, tmp_path: Path) -> None:
    with ExitStack() as stack:
        target = stack.enter_context(make_cisco_sim(loopback_factory(), fabric, "ssh",
                                                    uri="gone@roomops.test"))
        caller_sim = stack.enter_context(make_cisco_sim(loopback_factory(), fabric, "ssh",
                                                        uri="me@roomops.test"))
        caller = stack.enter_context(CiscoRoomOSDriver(cisco_endpoint(caller_sim, tmp_path), name="me"))
        target.set_fault("unregistered")
        assert fabric.lookup("gone@roomops.test") is None
        with pytest.raises(CommandRejected) as err:
            caller.dial("gone@roomops.test")
        assert err.value.code == "UnknownRemoteSite"
        target.clear_faults()
        assert fabric.lookup("gone@roomops.test") is target


def test_reboot_ends_calls_on_the_far_side(loopback_factory, fabric: CallFabric, tmp_path: Path) -> None:
    with ExitStack() as stack:
        a = stack.enter_context(make_cisco_sim(loopback_factory(), fabric, "ssh", uri="a@roomops.test"))
        b = stack.enter_context(make_cisco_sim(loopback_factory(), fabric, "ssh", uri="b@roomops.test"))
        driver = stack.enter_context(CiscoRoomOSDriver(cisco_endpoint(a, tmp_path), name="a"))
        call_id = driver.dial("b@roomops.test")
        b.reboot(1.0)
        assert driver.wait_for_call(call_id, (), 2.0) is None
        assert a.active_calls() == []
        assert fabric.lookup("b@roomops.test") is None


def test_simulators_leave_nothing_behind(loopback_factory, fabric: CallFabric, tmp_path: Path) -> None:
    before = {t.ident for t in threading.enumerate()}
    with ExitStack() as stack:
        sites = _six_sites(stack, loopback_factory, fabric, tmp_path)
        sites[0].dial("poly0@roomops.test")  # type: ignore[attr-defined]
    leftover = [t for t in threading.enumerate() if t.ident not in before and t.is_alive()]
    assert leftover == []
    assert fabric.registered() == {} and fabric.links() == []
