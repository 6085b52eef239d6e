"""A simulated codec registers its URI again when it boots, as a real unit does: after a reboot or a
mains power cycle it can be called at its URI again. Before, it came back "Registered" but out of
the call fabric's directory, so a host-mode meeting dialling it failed with UnknownRemoteSite."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from drivers.cisco_roomos import CiscoRoomOSDriver
from simulators.fabric import CallFabric
from simulators.poly_group import PolyGroupSimulator
from tests.codecs.conftest import POLY_PASSWORD, cisco_endpoint, make_cisco_sim, poly_options

BOOT = 0.3
CALLEE_URI = "poly-callee@roomops.test"


def booted(sim: PolyGroupSimulator, count: int) -> None:
    """Until the simulator finished its ``count``-th boot (the harness's own counter)."""
    deadline = time.monotonic() + BOOT + 3.0
    while sim.boot_count < count or sim.down:
        assert time.monotonic() < deadline, "the codec did not boot"
        time.sleep(0.02)      # the simulator's state, not a device reply: nothing to read


def restart_by_reboot(sim: PolyGroupSimulator) -> None:
    sim.reboot()


def restart_by_mains(sim: PolyGroupSimulator) -> None:
    sim.power_off()
    sim.power_on()


@pytest.mark.timeout(30)
@pytest.mark.parametrize("restart", [restart_by_reboot, restart_by_mains], ids=["reboot", "power-cycle"])
def test_a_rebooted_codec_can_be_called_at_its_uri(restart: Callable[[PolyGroupSimulator], None],
                                                   loopback_factory, tmp_path: Path) -> None:
    fabric = CallFabric()
    callee = PolyGroupSimulator(name="lhasa.codec", host=loopback_factory(), password=POLY_PASSWORD,
                                boot_time=BOOT, options=poly_options(CALLEE_URI), fabric=fabric)
    caller = make_cisco_sim(loopback_factory(), fabric)
    with callee, caller, CiscoRoomOSDriver(cisco_endpoint(caller, tmp_path), name="caller") as driver:
        assert fabric.lookup(CALLEE_URI) is callee
        restart(callee)
        assert fabric.lookup(CALLEE_URI) is None          # down: not registered
        booted(callee, 1)
        assert fabric.lookup(CALLEE_URI) is callee
        call_id = driver.dial(CALLEE_URI, "sip", 1920)
        info = driver.wait_for_call(call_id, ("connected",), 3.0)
        assert info is not None and info.state == "connected", info
        driver.hangup(call_id)
