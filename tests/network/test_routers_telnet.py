"""Routers over Telnet (netmiko's ``cisco_ios_telnet`` / ``huawei_telnet``, unmodified) against the
IOS and VRP simulators on a real Telnet server; and the bounded netmiko session log."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from netmiko import ConnectHandler

from drivers.errors import AuthError, ConnectError
from drivers.roles import Endpoint, Verdict
from drivers.routers import CiscoIosRouterDriver, HuaweiVrpRouterDriver, NetmikoRouterDriver
from drivers.routers.session_log import BoundedSessionLog
from simulators.routers import CiscoIosSimulator, HuaweiVrpSimulator, RouterSimulator
from simulators.spec import SimSpec

PASSWORD = "r0uter-pw"
FAMILIES = {
    "ios": (CiscoIosSimulator, CiscoIosRouterDriver, "cisco_ios_telnet"),
    "vrp": (HuaweiVrpSimulator, HuaweiVrpRouterDriver, "huawei_telnet"),
}


def telnet_port(sim: RouterSimulator) -> int:
    return int(sim.urls()[0].rsplit(":", 1)[1])


def endpoint(sim: RouterSimulator, password: str = PASSWORD) -> Endpoint:
    return Endpoint(transport="telnet", host=sim.host, port=telnet_port(sim), username="admin",
                    password=password, timeout=5.0)


@pytest.fixture(params=sorted(FAMILIES))
def family(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def sim(family: str, loopback: str) -> Iterator[RouterSimulator]:
    cls = FAMILIES[family][0]
    with cls(host=loopback, username="admin", password=PASSWORD, seed=1, transport="telnet",
             serial="TELNET-SN-1") as s:
        yield s
    assert not s.errors, s.errors


@pytest.fixture
def driver(family: str, sim: RouterSimulator) -> Iterator[NetmikoRouterDriver]:
    drv = FAMILIES[family][1](endpoint(sim), name=f"lab.router-{family}")
    with drv:
        yield drv


def test_served_on_telnet_from_the_profile_transport(loopback: str) -> None:
    spec = SimSpec(device_id="lab.router", driver="cisco-ios", transport="telnet", host=loopback,
                   password=PASSWORD)
    sim = CiscoIosSimulator.from_spec(spec)
    assert sim.transport == "telnet"
    with sim:
        assert sim.urls()[0].startswith("telnet://")


def test_plain_netmiko_telnet_drives_the_simulator(family: str, sim: RouterSimulator) -> None:
    device_type = FAMILIES[family][2]
    conn = ConnectHandler(device_type=device_type, host=sim.host, port=telnet_port(sim), username="admin",
                          password=PASSWORD, secret=PASSWORD)
    try:
        assert conn.base_prompt == "R1"
        command = "show version" if family == "ios" else "display version"
        if family == "ios":
            conn.enable()
        assert sim.model in conn.send_command(command)
    finally:
        conn.disconnect()


def test_driver_over_telnet(driver: NetmikoRouterDriver, sim: RouterSimulator) -> None:
    ident = driver.identify()
    assert ident.model == sim.model and ident.serial == "TELNET-SN-1"
    assert driver.health().verdict == Verdict.OK
    result = driver.ping("127.0.0.1", count=3)
    assert result["received"] == 3
    report = driver.apply_config({"ntp": ["10.1.1.1"]})
    assert report.verified and sim.saves == 1
    assert driver.read_config()["ntp"] == ["10.1.1.1"]


def test_closed_telnet_port_is_a_connect_error(family: str, loopback: str) -> None:
    ep = Endpoint(transport="telnet", host=loopback, port=1, username="admin", password=PASSWORD, timeout=2.0)
    with pytest.raises(ConnectError):
        FAMILIES[family][1](ep).connect()


def test_session_log_is_bounded_per_command(driver: NetmikoRouterDriver) -> None:
    log = driver._log
    assert isinstance(log, BoundedSessionLog)
    for _ in range(30):
        driver.running_config()
    one = log.retained()
    for _ in range(30):
        driver.running_config()
    # Only the last command's output is kept, however many ran: memory does not grow.
    assert log.retained() <= one * 2
    assert log.written > 30 * one


def test_bounded_log_keeps_the_tail_and_hands_each_byte_once() -> None:
    log = BoundedSessionLog(limit=10)
    mark = log.mark()
    log.write(b"0123456789abcdef")
    assert log.since(mark) == b"6789abcdef"          # the tail: an error is at the end
    assert log.take_new() == b"6789abcdef"
    assert log.take_new() == b""
    mark = log.mark()
    assert log.retained() == 0
    log.write(b"xyz")
    assert log.since(mark) == b"xyz" and log.take_new() == b"xyz"


def test_kunming_router_is_driven_over_telnet(loopback: str) -> None:
    """The shipped Kunming profile names Telnet for its router: simulator and driver follow it."""
    from dataclasses import replace
    from pathlib import Path

    from agent.profiles import load_site
    from drivers.registry import driver_class
    from roomops.sim_cli import to_sim_specs
    from simulators.registry import simulator_class

    site = load_site(Path(__file__).resolve().parents[2] / "profiles" / "sites" / "kunming.yaml")
    device = site.device("router")
    assert device.transport == "telnet" and device.port == 2323
    [spec] = [s for s in to_sim_specs(site) if s.device_id == device.id]
    sim = simulator_class(spec.driver).from_spec(replace(spec, host=loopback, port=0))
    with sim:
        ep = replace(device.endpoint(), host=loopback, port=telnet_port(sim))
        with driver_class(device.driver)(ep, name=device.id) as drv:
            assert drv.identify().serial == device.identity["serial"]


def test_wrong_telnet_password_is_an_auth_error(family: str, sim: RouterSimulator) -> None:
    """Never retried as if the link were bad (netmiko's own login waits ~10 s before it gives up)."""
    with pytest.raises(AuthError):
        FAMILIES[family][1](endpoint(sim, password="wrong")).connect()
