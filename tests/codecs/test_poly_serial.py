"""The Poly API over RS-232 (a real pty pair, paced at the baud rate): login after Enter, the
line keeping its session across our reconnects, calls, and a restart seen as the unit going
quiet."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from drivers.errors import AuthError
from drivers.poly_group import PolyGroupDriver
from drivers.roles import Endpoint
from simulators.fabric import CallFabric
from simulators.poly_group import PolyGroupSimulator
from tests.codecs.conftest import POLY_PASSWORD, poly_options


@pytest.fixture
def serial_poly(loopback: str, fabric: CallFabric) -> Iterator[PolyGroupSimulator]:
    sim = PolyGroupSimulator(name="lhasa.codec", host=loopback, password=POLY_PASSWORD, boot_time=0.5,
                             options=poly_options(), fabric=fabric, serial=True, baudrate=115200)
    with sim:
        yield sim
    assert not sim.errors, sim.errors


def endpoint(sim: PolyGroupSimulator, password: str = POLY_PASSWORD) -> Endpoint:
    return Endpoint("serial", serial_url=sim.servers[0].path, baudrate=115200,  # type: ignore[attr-defined]
                    password=password, timeout=2.0, boot_time=3.0,
                    options={"pacing_ms": 5, "serial_prompt_window": 0.3})


def test_login_identity_and_a_still_logged_in_line(serial_poly: PolyGroupSimulator) -> None:
    with PolyGroupDriver(endpoint(serial_poly), name="lhasa.codec") as drv:
        ident = drv.identify()
        assert (ident.serial, ident.firmware) == ("8213460ABCDE", "6.2.2")
        drv.mute(True)
        assert serial_poly.mic_mute is True
    # The port kept its session: no prompt this time, whoami answers.
    with PolyGroupDriver(endpoint(serial_poly), name="lhasa.codec") as drv:
        assert drv.identify().serial == "8213460ABCDE"
        assert drv.calls() == []


def test_call_over_the_serial_line(serial_poly: PolyGroupSimulator, loopback_factory,
                                   fabric: CallFabric) -> None:
    far = PolyGroupSimulator(name="far", host=loopback_factory(), password=POLY_PASSWORD, boot_time=0.5,
                             options=poly_options("far@roomops.test", system_name="Far"), fabric=fabric)
    with far, PolyGroupDriver(endpoint(serial_poly), name="lhasa.codec") as drv:
        call_id = drv.dial("far@roomops.test", "sip", 1920)
        info = drv.wait_for_call(call_id, ("connected",), 3.0)
        assert info is not None and info.state == "connected"
        drv.hangup(call_id)
        assert drv.calls() == []


def test_wrong_password_on_the_line(serial_poly: PolyGroupSimulator) -> None:
    drv = PolyGroupDriver(endpoint(serial_poly, password="nope-wrong"), name="lhasa.codec")
    with pytest.raises(AuthError):
        drv.connect()
    assert "nope-wrong" not in drv.transcript.render()


def test_reboot_over_the_line(serial_poly: PolyGroupSimulator) -> None:
    with PolyGroupDriver(endpoint(serial_poly), name="lhasa.codec") as drv:
        away = drv.reboot(wait=True, timeout=8.0)
        assert away is not None and away > 0.4
        assert serial_poly.boot_count == 1
        assert drv.identify().serial == "8213460ABCDE"
