# ruff: noqa: E501 - the table of simulators reads best one case per line
"""``roomops devices probe`` against every simulator over its real transport: what answers, with
model, serial and firmware where the protocol tells them without a login; a closed port, silence
and garbage are results with a reason, never a traceback."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from drivers.probe import ProbeResult, probe_host, probe_serial, probe_tcp, probe_visca_udp
from roomops.cli import main
from simulators.apc_pdu import ApcPduSimulator
from simulators.cisco_roomos import CiscoRoomOSSimulator
from simulators.codec_common import CodecOptions
from simulators.extron_sis import ExtronRecorderSimulator, ExtronSwitcherSimulator
from simulators.fabric import CallFabric
from simulators.harness import DeviceSimulator
from simulators.pjlink import PJLinkSimulator
from simulators.poly_group import PolyGroupSimulator
from simulators.polycom_hdx import PolycomHdxSimulator
from simulators.routers import CiscoIosSimulator, HuaweiVrpSimulator
from simulators.sony_visca import ViscaCameraSimulator


def port_of(sim: DeviceSimulator, index: int = 0) -> int:
    return int(sim.urls()[index].rsplit(":", 1)[1])


def hdx(host: str, **kw: Any) -> PolycomHdxSimulator:
    return PolycomHdxSimulator(host=host, fabric=CallFabric(), boot_time=0.5,
                               options=CodecOptions(serial="82091960X1", model="HDX 8000", firmware="3.1.14"),
                               **kw)


#: name -> (simulator factory, expected protocol, driver, model, serial, firmware)
TCP_CASES: dict[str, tuple[Callable[[str], DeviceSimulator], str, str, str, str, str]] = {
    "pjlink-class1": (lambda h: PJLinkSimulator(host=h, port=0, manufacturer="EPSON", product="EB-L1100U"),
                      "pjlink", "pjlink", "EB-L1100U", "", ""),
    "pjlink-class2": (lambda h: PJLinkSimulator(host=h, port=0, pjlink_class=2, product="PT-RZ970",
                                                serial="PJP6001", firmware="2.01"),
                      "pjlink", "pjlink", "PT-RZ970", "PJP6001", "2.01"),
    "pjlink-password": (lambda h: PJLinkSimulator(host=h, port=0, password="pw"), "pjlink", "pjlink", "", "", ""),
    "extron-switcher": (lambda h: ExtronSwitcherSimulator(host=h, port=0, model="DXP 88 HDMI", firmware="1.13"),
                        "extron-sis", "extron-sis-switcher", "DXP 88 HDMI", "", "1.13"),
    "extron-recorder": (lambda h: ExtronRecorderSimulator(host=h, port=0), "extron-sis",
                        "extron-smp-recorder", "SMP 351", "", "1.13"),
    "extron-password": (lambda h: ExtronSwitcherSimulator(host=h, port=0, password="x"), "extron-sis",
                        "extron-sis-switcher", "DXP 88 HDMI", "", "1.13"),
    "hdx-open": (lambda h: hdx(h), "polycom-api", "polycom-hdx", "HDX 8000", "82091960X1", "3.1.14"),
    # a bare password prompt on a port other than 24 is not claimed as Polycom
    "hdx-password": (lambda h: hdx(h, password="pw"), "password-prompt", "", "", "", ""),
    "group-open": (lambda h: PolyGroupSimulator(host=h, fabric=CallFabric(), options=CodecOptions(
        serial="8213304011", model="RealPresence Group 500", firmware="6.2.2")),
        "polycom-api", "poly-group", "RealPresence Group 500", "8213304011", "6.2.2"),
    "cisco-ssh": (lambda h: CiscoRoomOSSimulator(host=h, fabric=CallFabric(), password="pw"), "ssh", "", "", "", ""),
    "cisco-telnet": (lambda h: CiscoRoomOSSimulator(host=h, fabric=CallFabric(), password="pw", transport="tcp"),
                     "login", "", "", "", ""),
    "ios-ssh": (lambda h: CiscoIosSimulator(host=h, password="pw"), "ssh", "", "", "", ""),
    "ios-telnet": (lambda h: CiscoIosSimulator(host=h, password="pw", transport="telnet"),
                   "cisco-ios-cli", "cisco-ios", "", "", ""),
    "vrp-telnet": (lambda h: HuaweiVrpSimulator(host=h, password="pw", transport="telnet"),
                   "huawei-vrp-cli", "huawei-vrp", "", "", ""),
    "apc-telnet": (lambda h: ApcPduSimulator(host=h, password="pw"), "apc-cli", "apc-pdu", "", "", ""),
}


@pytest.mark.parametrize("case", sorted(TCP_CASES))
def test_probe_every_tcp_simulator(case: str, loopback: str) -> None:
    factory, protocol, driver, model, serial, firmware = TCP_CASES[case]
    sim = factory(loopback)
    with sim:
        result = probe_tcp(loopback, port_of(sim), timeout=3.0)
    assert result.answered, result
    assert (result.protocol, result.driver, result.model, result.serial, result.firmware) == (
        protocol, driver, model, serial, firmware), result
    assert not sim.errors, sim.errors


def test_extron_without_banner_answers_its_firmware(loopback: str) -> None:
    with ExtronSwitcherSimulator(host=loopback, port=0) as sim:
        sim.set_fault("no-banner")
        result = probe_tcp(loopback, port_of(sim), timeout=2.0)
    assert (result.protocol, result.firmware) == ("extron-sis", "1.13"), result


def test_visca_over_udp_and_serial(loopback: str) -> None:
    with ViscaCameraSimulator(serve="both", host=loopback, port=0) as sim:
        over_ip = probe_visca_udp(loopback, sim.udp_port)
        [serial_line] = probe_serial(sim.serial_path, 9600)
    for result in (over_ip, serial_line):
        assert (result.protocol, result.driver, result.vendor, result.model, result.firmware) == (
            "visca", "sony-visca", "Sony", "SRG-300H", "0100"), result


@pytest.mark.parametrize("login", [False, True])
def test_hdx_on_its_serial_port(loopback: str, login: bool) -> None:
    sim = hdx(loopback, serial=True, serial_login=login, password="pw" if login else "", baudrate=115200)
    with sim:
        [result] = probe_serial(sim.serial_path, 115200)
    assert (result.protocol, result.driver) == ("polycom-api", "polycom-hdx"), result
    if not login:
        assert (result.model, result.serial) == ("HDX 8000", "82091960X1"), result


def test_closed_silent_garbage_and_no_line(loopback: str, loopback_factory: Callable[[], str]) -> None:
    with PJLinkSimulator(host=loopback, port=0) as sim:
        port = port_of(sim)
    closed = probe_tcp(loopback, port, timeout=1.0)
    assert not closed.answered and "refused" in closed.note
    silent_sim = PJLinkSimulator(host=loopback_factory(), port=0)
    with silent_sim:
        silent_sim.set_fault("silent")
        # a PJLink unit that says nothing: neither a greeting nor an Extron firmware answer
        silent = probe_tcp(silent_sim.host, port_of(silent_sim), timeout=1.0)
    assert isinstance(silent, ProbeResult)
    assert not probe_visca_udp(loopback, 9, timeout=0.3).answered
    [no_line] = probe_serial("/nonexistent/tty", 9600)
    assert not no_line.answered and "cannot open" in no_line.note


def test_every_default_port_is_reported(loopback: str) -> None:
    results = probe_host(loopback, timeout=0.5)
    assert len(results) == 8 and not any(r.answered for r in results)


def test_cli_prints_identity_and_a_stanza(loopback: str, capsys: pytest.CaptureFixture[str]) -> None:
    with hdx(loopback) as sim:
        code = main(["devices", "probe", f"{loopback}:{port_of(sim)}"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "polycom-api (vendor Polycom, model HDX 8000, serial 82091960X1, firmware 3.1.14)" in out
    assert "model: polycom-hdx8000" in out and 'identity: {serial: "82091960X1"}' in out
    assert f"address: {loopback}" in out and "transport: telnet" in out


def test_cli_reports_failures_without_a_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["devices", "probe", "127.0.0.1:1"]) == 1
    assert main(["devices", "probe", "--serial", "/nonexistent/tty"]) == 1
    assert main(["devices", "probe", "127.0.0.1:http"]) == 2
    captured = capsys.readouterr()
    assert "refused" in captured.out and "cannot open" in captured.out
    assert "Traceback" not in captured.out + captured.err
