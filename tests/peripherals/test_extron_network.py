"""Extron SIS network settings: read, apply with the address last, follow the unit to its new
address over Telnet, read back and verify; letters configurable per model."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from drivers.errors import CommandRejected
from drivers.extron_sis import ExtronRecorderDriver, ExtronSwitcherDriver
from drivers.roles import Endpoint
from simulators.extron_sis import ExtronRecorderSimulator, ExtronSwitcherSimulator
from tests.peripherals.test_extron import switcher, telnet_endpoint

NET = ("network.ipv4.address", "network.ipv4.mask", "network.ipv4.gateway")


def test_read_config_reports_the_ip_settings(loopback: str) -> None:
    with switcher(loopback) as sim, ExtronSwitcherDriver(telnet_endpoint(sim)) as sw:
        sim.gateway = "10.9.8.1"
        config = sw.read_config()
        assert [config[k] for k in NET] == [loopback, "255.255.255.0", "10.9.8.1"]
        assert config["routes"][1] == 0       # the switcher keys are still there


def test_address_applied_last_and_followed_over_telnet(loopback: str,
                                                       loopback_factory: Callable[[], str]) -> None:
    new_host = loopback_factory()
    with switcher(loopback) as sim, ExtronSwitcherDriver(telnet_endpoint(sim)) as sw:
        sw.route(2, 1)
        wanted = {"network.ipv4.address": new_host, "network.ipv4.mask": "255.255.0.0",
                  "network.ipv4.gateway": "10.20.0.1", "routes": {3: 2}}
        report = sw.apply_config(wanted)
        assert report.verified, report.mismatches
        assert [c.key for c in report.changes] == ["routes.3", "network.ipv4.mask", "network.ipv4.gateway",
                                                   "network.ipv4.address"]          # the address last
        assert (sim.host, sim.ip_address, sim.subnet, sim.gateway) == (new_host, new_host, "255.255.0.0",
                                                                       "10.20.0.1")
        assert sw.host == new_host and sw.connected
        assert sw.tie_view(1) == 2 and sw.tie_view(3) == 2   # the same unit, answering at the new address
        assert f"address {loopback} -> {new_host}" in sw.transcript.render()
        again = sw.apply_config(wanted)
        assert not again.changed and again.verified
        # and back again, as a rollback does
        back = sw.apply_config({"network.ipv4.address": loopback})
        assert back.verified and sim.host == loopback and sw.host == loopback


def test_a_unit_that_does_not_come_up_at_the_new_address_is_a_timeout(
        loopback: str, loopback_factory: Callable[[], str]) -> None:
    from drivers.errors import DeviceTimeout

    new_host = loopback_factory()
    with switcher(loopback) as sim, \
            ExtronSwitcherDriver(telnet_endpoint(sim, readdress_timeout=0.5)) as sw:
        sim.set_fault("refuse")         # it takes the address but accepts no connection there
        sw.connect()
        with pytest.raises(DeviceTimeout) as info:
            sw.apply_config({"network.ipv4.address": new_host})
        assert "new address" in str(info.value)


def test_serial_session_stays_on_the_line(loopback: str) -> None:
    with ExtronSwitcherSimulator(serial=True, host=loopback) as sim:
        ep = Endpoint(transport="serial", serial_url=sim.serial_path, timeout=1.0)
        new_host = "10.0.0.99"
        with ExtronSwitcherDriver(ep) as sw:
            report = sw.apply_config({"network.ipv4.address": new_host})
            assert report.verified and sim.ip_address == new_host
            assert sw.read_config()["network.ipv4.address"] == new_host   # same session, no reconnect
            assert sw.host == ""


def test_recorder_moves_too(loopback: str, loopback_factory: Callable[[], str]) -> None:
    new_host = loopback_factory()
    with ExtronRecorderSimulator(host=loopback, port=0) as sim, \
            ExtronRecorderDriver(telnet_endpoint(sim)) as rec:
        report = rec.apply_config({"name": "HQ-Recorder", "network.ipv4.address": new_host})
        assert report.verified and sim.host == new_host and sim.device_name == "HQ-Recorder"
        assert rec.read_config() == {"name": "HQ-Recorder", "network.ipv4.address": new_host,
                                     "network.ipv4.mask": "255.255.255.0", "network.ipv4.gateway": "0.0.0.0"}
        assert rec.record_state() == "stopped"


def test_network_letters_are_configurable(loopback: str) -> None:
    """A model that calls its gateway something else: a letter the unit does not know (E10) is
    left out of the read-back, and applying it is the unit's refusal."""
    with switcher(loopback) as sim, \
            ExtronSwitcherDriver(telnet_endpoint(sim, network_commands={"gateway": "CX"})) as sw:
        config = sw.read_config()
        assert "network.ipv4.gateway" not in config and config["network.ipv4.mask"] == "255.255.255.0"
        assert "does not know CX (E10)" in sw.transcript.render()
        with pytest.raises(CommandRejected) as info:
            sw.apply_config({"network.ipv4.gateway": "10.0.0.1"})
        assert info.value.code == "E10"
        assert sim.gateway == "0.0.0.0"
    with switcher(loopback) as sim, \
            ExtronSwitcherDriver(telnet_endpoint(sim, network_commands={"mask": "CG"})) as sw:
        assert sw.apply_config({"network.ipv4.mask": "255.0.0.0"}).verified
        assert sim.gateway == "255.0.0.0"          # the configured letters are what goes on the wire


def test_bad_value_is_refused_before_the_wire(loopback: str) -> None:
    with switcher(loopback) as sim, ExtronSwitcherDriver(telnet_endpoint(sim)) as sw:
        with pytest.raises(ValueError):
            sw.apply_config({"network.ipv4.address": "not-an-address"})
        assert sim.ip_address == loopback
