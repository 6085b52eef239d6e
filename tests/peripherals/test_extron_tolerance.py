"""Extron SIS: tolerant about form, strict about meaning. A unit or gateway without the copyright
banner or the verbose-mode reply (simulator quirk knobs ``no-banner``, ``no-verbose``) is driven,
each difference noted once; garbage where the banner belongs is still refused."""

from __future__ import annotations

import logging

import pytest

from drivers.errors import ProtocolError
from drivers.extron_sis import ExtronSwitcherDriver
from tests.peripherals.test_extron import switcher, telnet_endpoint


def notes(driver: ExtronSwitcherDriver) -> list[str]:
    return [e.text for e in driver.transcript.entries() if e.direction == "info"]


@pytest.mark.parametrize("password", ["", "sw-pass"])
def test_no_banner(loopback: str, password: str, caplog: pytest.LogCaptureFixture) -> None:
    with switcher(loopback, password=password) as sim:
        sim.set_fault("no-banner")
        with caplog.at_level(logging.WARNING, logger="drivers.extron_sis_session"):
            for _ in range(2):
                driver = ExtronSwitcherDriver(telnet_endpoint(sim, password, banner_wait=0.3),
                                              name=f"lab.switcher-{password or 'open'}")
                with driver:
                    assert driver.session.tolerated == {"banner"}
                    assert driver.part_number() == "60-882-01"
                    assert any("no copyright banner" in n for n in notes(driver))
        logged = [r for r in caplog.records if "no copyright banner" in r.getMessage()]
        assert len(logged) == 1        # logged once, however often the driver connects


def test_no_verbose_reply(loopback: str) -> None:
    with switcher(loopback) as sim:
        sim.set_fault("no-verbose")
        driver = ExtronSwitcherDriver(telnet_endpoint(sim, verbose_wait=0.3), name="lab.switcher")
        with driver:
            assert driver.session.tolerated == {"verbose"}
            assert driver.session.verbose_confirmed is False
            assert driver.firmware().startswith(sim.firmware)   # the session is in step after the silence
        sim.clear_faults()
        with ExtronSwitcherDriver(telnet_endpoint(sim), name="lab.switcher") as faithful:
            assert faithful.session.tolerated == set() and faithful.session.verbose_confirmed


def test_garbage_instead_of_the_banner_is_refused(loopback: str) -> None:
    with switcher(loopback) as sim:
        sim.set_fault("garbage")
        with pytest.raises(ProtocolError):
            ExtronSwitcherDriver(telnet_endpoint(sim, banner_wait=0.3), name="lab.switcher").connect()


def test_serial_number_where_the_model_reports_one(loopback: str) -> None:
    """Which SIS command reports the serial is per model (option ``serial_query``); without it the
    profile's serial is all we have."""
    with switcher(loopback, serial_number="A06088D2", serial_query="99I") as sim:
        with ExtronSwitcherDriver(telnet_endpoint(sim, serial_query="99I"), name="lab.switcher") as driver:
            ident = driver.identify()
            assert (ident.serial, ident.firmware, ident.extra["part"]) == (
                "A06088D2", "1.13.0001", "60-882-01")
        with ExtronSwitcherDriver(telnet_endpoint(sim), name="lab.switcher") as plain:
            assert plain.identify().serial == ""
