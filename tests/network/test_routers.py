"""Router drivers (netmiko, unmodified) against the IOS and VRP simulators over real SSH."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from netmiko import ConnectHandler

from drivers.errors import (
    AuthError,
    CommandRejected,
    ConnectError,
    DeviceTimeout,
    Disconnected,
    HostKeyError,
    ProtocolError,
)
from drivers.roles import CheckStatus, Endpoint, Router, Verdict
from drivers.routers import CiscoIosRouterDriver, HuaweiVrpRouterDriver, NetmikoRouterDriver
from simulators.routers import CiscoIosSimulator, HuaweiVrpSimulator, RouterSimulator
from simulators.spec import SimSpec
from simulators.ssh_server import SshServer

PASSWORD = "r0uter-pw"
FAMILIES = {
    "ios": (CiscoIosSimulator, CiscoIosRouterDriver, "cisco_ios"),
    "vrp": (HuaweiVrpSimulator, HuaweiVrpRouterDriver, "huawei"),
}


def ssh_port(sim: RouterSimulator) -> int:
    return int(sim.urls()[0].rsplit(":", 1)[1])


def endpoint(sim: RouterSimulator, known_hosts: Path, **kw: object) -> Endpoint:
    server = sim.servers[0]
    assert isinstance(server, SshServer)
    server.write_known_hosts(str(known_hosts))
    return Endpoint(transport="ssh", host=sim.host, port=ssh_port(sim), username="admin", password=PASSWORD,
                    known_hosts=str(known_hosts), timeout=float(kw.pop("timeout", 3.0)),
                    options=kw.pop("options", {}), **kw)  # type: ignore[arg-type]


@pytest.fixture(params=sorted(FAMILIES))
def family(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def sim(family: str, loopback: str) -> Iterator[RouterSimulator]:
    cls = FAMILIES[family][0]
    with cls(host=loopback, username="admin", password=PASSWORD, seed=1) as s:
        yield s


@pytest.fixture
def driver(family: str, sim: RouterSimulator, tmp_path: Path) -> Iterator[NetmikoRouterDriver]:
    drv = FAMILIES[family][1](endpoint(sim, tmp_path / "known_hosts"))
    with drv:
        yield drv


# -- unmodified netmiko -----------------------------------------------------------------------------
def test_plain_netmiko_drives_the_simulator(family: str, sim: RouterSimulator) -> None:
    device_type = FAMILIES[family][2]
    conn = ConnectHandler(device_type=device_type, host=sim.host, port=ssh_port(sim), username="admin",
                          password=PASSWORD, secret=PASSWORD)
    try:
        if device_type == "cisco_ios":
            conn.enable()
            assert conn.check_enable_mode()
            version, config_line, shown = "show version", "ntp server 10.9.9.9", "show running-config"
        else:
            version, config_line, shown = "display version", "ntp-service unicast-server 10.9.9.9", \
                "display current-configuration"
        assert conn.base_prompt == "R1"
        assert sim.model in conn.send_command(version)
        conn.send_config_set([config_line])     # netmiko's own config mode in and out
        assert config_line in conn.send_command(shown)
        saved = conn.save_config()
        assert "successfully" in saved.lower() or "[OK]" in saved
        assert sim.saves >= 1
    finally:
        conn.disconnect()
    assert config_line in sim.startup.lines


# -- role Router -------------------------------------------------------------------------------------
def test_identity_uplink_and_health(driver: NetmikoRouterDriver, sim: RouterSimulator) -> None:
    assert isinstance(driver, Router)
    ident = driver.identify()
    assert (ident.model, ident.serial, ident.firmware) == (sim.model, sim.serial, sim.firmware)
    link = driver.uplink()
    assert link == {"interface": sim.uplink, "status": "up", "protocol": "up",
                    "address": sim.running.interfaces[sim.uplink].address}
    assert driver.health().verdict is Verdict.OK
    sim.set_fault("uplink-down")
    assert driver.uplink()["status"] == "down"
    health = driver.health()
    assert health.verdict is Verdict.DEGRADED and "uplink" in health.reasons[0]


def test_admin_down_interface_shows(driver: NetmikoRouterDriver, sim: RouterSimulator) -> None:
    rows = {r["interface"]: r for r in driver.interfaces()}
    shut = next(n for n, i in sim.running.interfaces.items() if i.shutdown)
    assert rows[shut]["status"] == "admin-down" and rows[shut]["address"] is None


def test_ping_figures(driver: NetmikoRouterDriver, sim: RouterSimulator) -> None:
    result = driver.ping("10.20.0.5", count=5)
    assert result == {"target": "10.20.0.5", "sent": 5, "received": 5, "loss": 0.0,
                      "rtt_ms": 2, "rtt_min_ms": 2, "rtt_max_ms": 2}
    sim.set_fault("packet-loss", "40")
    lossy = driver.ping("10.20.0.5", count=5)
    assert (lossy["received"], lossy["loss"]) == (3, 0.4)
    sim.set_fault("uplink-down")
    dead = driver.ping("10.20.0.5", count=3)
    assert (dead["received"], dead["loss"], dead["rtt_ms"]) == (0, 1.0, None)


def test_selftest_checks(driver: NetmikoRouterDriver, sim: RouterSimulator) -> None:
    sim.set_fault("unreachable", "10.0.0.99")
    checks = {c.name: c for c in driver.selftest_checks(
        {"serial": sim.serial, "ping_targets": {"central": "10.0.0.1", "bridge": "10.0.0.99"}})}
    assert checks["router.uplink"].run().status is CheckStatus.PASS
    assert checks["router.identity"].run().status is CheckStatus.PASS
    assert checks["router.ping.central"].run().status is CheckStatus.PASS
    failed = checks["router.ping.bridge"].run()
    assert failed.status is CheckStatus.FAIL and "10.0.0.99" in failed.reason


# -- configuration -------------------------------------------------------------------------------
def test_apply_lines_verified_and_saved(family: str, driver: NetmikoRouterDriver,
        sim: RouterSimulator) -> None:
    lines = (["ntp server 10.1.1.1", "ip route 10.50.0.0 255.255.0.0 203.0.113.1"] if family == "ios" else
             ["ntp-service unicast-server 10.1.1.1", "ip route-static 10.50.0.0 255.255.0.0 203.0.113.5"])
    report = driver.apply_config(lines)
    assert report.verified and not report.rolled_back and report.changed
    assert all(line in sim.running.lines for line in lines)
    assert sim.startup.lines == sim.running.lines        # saved
    config = driver.read_config()
    assert config["ntp"] == ["10.1.1.1"]
    assert {"prefix": "10.50.0.0/16", "next_hop": lines[1].split()[-1]} in config["routes"]


def test_apply_desired_state(driver: NetmikoRouterDriver, sim: RouterSimulator) -> None:
    before = driver.read_config()
    lan = next(n for n in sim.running.interfaces if n.endswith("/1"))
    desired = {
        "hostname": "URUMQI-RTR",
        "interfaces": {lan: {"address": "10.77.1.1/24", "description": "room LAN moved", "enabled": True}},
        "routes": [{"prefix": "0.0.0.0/0", "next_hop": "198.51.100.1"}],
        "dns": ["223.5.5.5"],
    }
    report = driver.apply_config(desired)
    assert report.verified, report.mismatches
    assert {c.key for c in report.changes} == {"hostname", "interfaces", "routes", "dns"}
    after = driver.read_config()
    assert after["hostname"] == "URUMQI-RTR"
    assert after["interfaces"][lan] == {"address": "10.77.1.1/24", "description": "room LAN moved",
                                        "enabled": True}
    assert after["routes"] == [{"prefix": "0.0.0.0/0", "next_hop": "198.51.100.1"}]
    assert after["dns"] == ["223.5.5.5"]
    assert sim.startup.hostname == "URUMQI-RTR"
    # The driver follows the new prompt.
    assert driver.uplink()["status"] == "up"
    assert before["routes"] != after["routes"]
    # Applying the same state again changes nothing.
    assert not driver.apply_config(desired).changed


def test_verification_failure_rolls_back(family: str, driver: NetmikoRouterDriver,
        sim: RouterSimulator) -> None:
    original_lines = list(sim.running.lines)
    original_ifaces = {n: vars(i).copy() for n, i in sim.running.interfaces.items()}
    saves = sim.saves
    lan = next(n for n in sim.running.interfaces if n.endswith("/1"))
    route = "ip route" if family == "ios" else "ip route-static"
    sim.set_fault("config-ignore", route)     # accepted, silently not applied
    report = driver.apply_config({
        "interfaces": {lan: {"address": "10.99.0.1/24", "description": "temp"}},
        "routes": [{"prefix": "0.0.0.0/0", "next_hop": "198.51.100.1"}],
        "ntp": ["10.1.1.1"],
    })
    assert not report.verified and report.rolled_back
    assert set(report.mismatches) == {"routes"}
    # Everything that did change was undone; nothing was saved.
    assert sim.running.lines == original_lines
    assert {n: vars(i) for n, i in sim.running.interfaces.items()} == original_ifaces
    assert sim.saves == saves


def test_rejected_line_rolls_back_and_raises(family: str, driver: NetmikoRouterDriver,
                                             sim: RouterSimulator) -> None:
    original = list(sim.running.lines)
    good = "ntp server 10.1.1.1" if family == "ios" else "ntp-service unicast-server 10.1.1.1"
    with pytest.raises(CommandRejected) as info:
        driver.apply_config([good, "frobnicate the router"])
    assert info.value.command == "frobnicate the router"
    assert "rolled back" in str(info.value)
    assert sim.running.lines == original
    assert driver.uplink()["status"] == "up"     # back in exec mode, session usable


def test_save_failure_is_rejected(family: str, driver: NetmikoRouterDriver, sim: RouterSimulator) -> None:
    sim.set_fault("save-fail")
    good = "ntp server 10.1.1.1" if family == "ios" else "ntp-service unicast-server 10.1.1.1"
    with pytest.raises(CommandRejected) as info:
        driver.apply_config([good])
    assert info.value.code == "save"


def test_unsaved_config_lost_on_reboot(family: str, driver: NetmikoRouterDriver,
        sim: RouterSimulator) -> None:
    good = "ntp server 10.1.1.1" if family == "ios" else "ntp-service unicast-server 10.1.1.1"
    driver.send_config([good])
    assert good in sim.running.lines
    sim.reboot(0.05)
    sim.wait(0.3)
    assert good not in sim.running.lines


# -- faults -> error types -------------------------------------------------------------------------------
def test_bad_password_is_auth_error(family: str, sim: RouterSimulator, tmp_path: Path) -> None:
    sim.set_fault("bad-password")
    with pytest.raises(AuthError):
        FAMILIES[family][1](endpoint(sim, tmp_path / "kh")).connect()


def test_wrong_enable_secret_is_auth_error(loopback: str, tmp_path: Path) -> None:
    with CiscoIosSimulator(host=loopback, username="admin", password=PASSWORD) as ios:
        ep = endpoint(ios, tmp_path / "kh", options={"enable_secret": "wrong"})
        with pytest.raises(AuthError):
            CiscoIosRouterDriver(ep).connect()


def test_unknown_host_key_is_refused(family: str, sim: RouterSimulator, tmp_path: Path) -> None:
    ep = endpoint(sim, tmp_path / "kh")
    (tmp_path / "kh").write_text("")          # nothing pinned
    with pytest.raises(HostKeyError):
        FAMILIES[family][1](ep).connect()


def test_changed_host_key_is_refused(family: str, sim: RouterSimulator, tmp_path: Path,
                                     loopback_factory) -> None:
    ep = endpoint(sim, tmp_path / "kh")
    other = FAMILIES[family][0](host=loopback_factory(), username="admin", password=PASSWORD)
    with other:
        impostor = other.servers[0]
        assert isinstance(impostor, SshServer)
        line = (tmp_path / "kh").read_text().split()
        line[2] = impostor.host_key.get_base64()       # a different key for this address
        (tmp_path / "kh").write_text(" ".join(line) + "\n")
        with pytest.raises(HostKeyError):
            FAMILIES[family][1](ep).connect()


def test_trust_on_first_use_records_the_key(family: str, sim: RouterSimulator, tmp_path: Path) -> None:
    ep = endpoint(sim, tmp_path / "kh", trust_on_first_use=True)
    (tmp_path / "kh").unlink()
    with FAMILIES[family][1](ep) as drv:
        assert drv.uplink()["status"] == "up"
    assert sim.servers[0].host_key.get_base64() in (tmp_path / "kh").read_text()


def test_refused_is_connect_error(family: str, sim: RouterSimulator, tmp_path: Path) -> None:
    ep = endpoint(sim, tmp_path / "kh", timeout=1.0)
    sim.stop()
    with pytest.raises(ConnectError):
        FAMILIES[family][1](ep).connect()


def test_silent_is_timeout(family: str, sim: RouterSimulator, tmp_path: Path) -> None:
    with FAMILIES[family][1](endpoint(sim, tmp_path / "kh", timeout=0.5)) as drv:
        sim.set_fault("silent")
        started = time.monotonic()
        with pytest.raises(DeviceTimeout):
            drv.uplink()
        assert time.monotonic() - started < 0.5 + 1.5


def test_garbage_is_protocol_error(family: str, sim: RouterSimulator, tmp_path: Path) -> None:
    with FAMILIES[family][1](endpoint(sim, tmp_path / "kh", timeout=0.5)) as drv:
        sim.set_fault("garbage")
        with pytest.raises(ProtocolError):
            drv.uplink()


def test_drop_is_disconnected(family: str, sim: RouterSimulator, tmp_path: Path) -> None:
    with FAMILIES[family][1](endpoint(sim, tmp_path / "kh", timeout=0.5)) as drv:
        sim.set_fault("drop")
        with pytest.raises(Disconnected):
            drv.identify()
        assert not drv.connected


def test_secrets_stay_out_of_transcript(driver: NetmikoRouterDriver) -> None:
    driver.uplink()
    rendered = driver.transcript.render()
    assert "ip interface brief" in rendered
    assert PASSWORD not in rendered
    assert PASSWORD not in repr(driver) and PASSWORD not in repr(driver.endpoint)


def test_from_spec(loopback: str) -> None:
    spec = SimSpec(device_id="lhasa.router", driver="huawei-vrp", transport="ssh", host=loopback,
                   username="admin", password=PASSWORD, identity={"serial": "2102ESN42", "model": "AR1220"},
                   options={"hostname": "LHASA", "uplink": "GigabitEthernet0/0/1",
                            "interfaces": {"GigabitEthernet0/0/1": {"address": "100.64.0.2/30"}},
                            "reachable": ["10.0.0.1"]})
    sim = HuaweiVrpSimulator.from_spec(spec, None)
    assert (sim.running.hostname, sim.uplink, sim.serial, sim.model) == \
        ("LHASA", "GigabitEthernet0/0/1", "2102ESN42", "AR1220")
    assert sim.ping_results("10.0.0.1", 2) == [2.0, 2.0]
    assert sim.ping_results("10.0.0.2", 2) == [None, None]


def test_long_hostname_beyond_netmikos_16_character_base_prompt(family: str, loopback: str,
                                                                 tmp_path: Path) -> None:
    """netmiko cuts an IOS base prompt to 16 characters; a site router named like
    ``shanghai-hq-router`` must still be driven (it once failed every command)."""
    sim_cls, drv_cls, _ = FAMILIES[family]
    with sim_cls(host=loopback, username="admin", password=PASSWORD, hostname="shanghai-hq-router") as sim:
        with drv_cls(endpoint(sim, tmp_path / "known_hosts")) as drv:
            assert drv.identify().serial
            assert drv.read_config()["hostname"] == "shanghai-hq-router"
