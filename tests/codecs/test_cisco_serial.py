"""The Cisco xAPI over RS-232 on a real pty: with ``SerialPort LoginRequired`` off the port
prints nothing and is ours at once; with it on, Enter brings ``login:``. The line keeps its
session (output mode, feedback) across our reconnects, so the driver resets both."""

from __future__ import annotations

from pathlib import Path

import pytest

from drivers.cisco_roomos import CiscoRoomOSDriver
from simulators.fabric import CallFabric
from tests.codecs.conftest import cisco_endpoint, make_cisco_sim


@pytest.mark.parametrize("login", [True, False])
def test_serial_with_and_without_login(login: bool, loopback: str, fabric: CallFabric,
                                       tmp_path: Path) -> None:
    with make_cisco_sim(loopback, fabric, "serial") as sim:
        sim.serial_login = login
        sim.servers[0].stop()
        sim.servers[0].start()      # the port's session starts over with the new setting
        for mode in ("json", "terminal", "json"):   # each reconnect finds the line as left
            with CiscoRoomOSDriver(cisco_endpoint(sim, tmp_path, output_mode=mode), name="c") as drv:
                assert drv.mode == mode
                assert drv.identify().serial == "FOC2145N0AB"
                assert drv.calls() == []
                assert drv.release.startswith("RoomOS")
        (session,) = list(sim.iter_sessions())
        # feedback registrations were reset on every connect, not piled up
        assert session.state["feedback"] == ["status/call", "event/calldisconnect"]
        assert not sim.errors, sim.errors
