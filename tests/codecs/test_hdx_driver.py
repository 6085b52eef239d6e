"""Polycom HDX driver against its simulator over real Telnet (port 24 API) and a real pty (RS-232)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest

from drivers.errors import AuthError, CommandRejected
from drivers.poly_group import PolyGroupDriver
from drivers.polycom_hdx import PolycomHdxDriver
from drivers.roles import Endpoint, Verdict
from simulators.codec_common import CodecOptions
from simulators.fabric import CallFabric
from simulators.poly_group import PolyGroupSimulator
from simulators.polycom_hdx import PolycomHdxSimulator

HDX_PASSWORD = "s3cret-HDX"
SERIAL = "82091305A1B2"


def hdx_options(uri: str = "xining@roomops.test", **kw: object) -> CodecOptions:
    base: dict[str, object] = {"serial": SERIAL, "model": "HDX 8000", "firmware": "3.1.14",
                               "system_name": "Xining Room", "sip_uri": uri, "sip_proxy": "sip.roomops.test",
                               "max_rate": 2048, "max_resolution": "704x576"}
    base.update(kw)
    return CodecOptions(**base)  # type: ignore[arg-type]


def make_hdx(host: str, fabric: CallFabric, *, serial: bool = False, serial_login: bool = False,
             **kw: object) -> PolycomHdxSimulator:
    return PolycomHdxSimulator(name="xining.codec", host=host, password=HDX_PASSWORD, boot_time=0.5,
                               options=hdx_options(**kw), fabric=fabric, serial=serial,  # type: ignore[arg-type]
                               serial_login=serial_login, baudrate=115200)


def hdx_endpoint(sim: PolycomHdxSimulator, transport: str, password: str = HDX_PASSWORD) -> Endpoint:
    opts = {"pacing_ms": 5}
    if transport == "serial":
        return Endpoint("serial", serial_url=sim.serial_path, baudrate=115200, password=password,
                        timeout=3.0, boot_time=3.0, options=opts)
    return Endpoint("telnet", host=sim.host, port=sim.servers[0].port, password=password,  # type: ignore[attr-defined]
                    timeout=3.0, boot_time=3.0, options=opts)


@pytest.fixture(params=["telnet", "serial", "serial-login"])
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def hdx_sim(loopback: str, fabric: CallFabric, transport: str) -> Iterator[PolycomHdxSimulator]:
    sim = make_hdx(loopback, fabric, serial=transport != "telnet", serial_login=transport == "serial-login")
    with sim:
        yield sim
    assert not sim.errors, sim.errors


@pytest.fixture
def hdx(hdx_sim: PolycomHdxSimulator, transport: str) -> Iterator[PolycomHdxDriver]:
    driver = PolycomHdxDriver(hdx_endpoint(hdx_sim, transport.split("-")[0]), name="xining.codec")
    driver.connect()
    yield driver
    driver.close()


def test_identity_from_the_welcome(hdx: PolycomHdxDriver) -> None:
    ident = hdx.identify()
    assert (ident.vendor, ident.model, ident.serial, ident.firmware) == (
        "Polycom", "HDX 8000", SERIAL, "3.1.14")
    assert ident.extra["system_name"] == "Xining Room"
    assert ident.extra["software"].startswith("Release 3.1.14")


def test_health_and_controls_through_the_echo(hdx: PolycomHdxDriver, hdx_sim: PolycomHdxSimulator) -> None:
    assert hdx.health().verdict == Verdict.OK
    hdx.mute(True)
    assert hdx_sim.mic_mute is True
    hdx.set_volume(40)
    assert hdx_sim.volume == 20
    hdx_sim.camera_position = 7
    hdx.preset_store(3)
    hdx_sim.camera_position = 0
    hdx.preset_activate(3)
    assert hdx_sim.camera_position == 7
    hdx.standby(True)
    assert hdx_sim.standby is True
    hdx.standby(False)
    assert hdx_sim.standby is False


def test_the_echo_of_an_invalid_command_is_not_its_acknowledgement(hdx: PolycomHdxDriver) -> None:
    # The HDX echoes "preset near go 150" before refusing it: a driver that took the echo as
    # the acknowledgement would report success.
    with pytest.raises(CommandRejected) as info:
        hdx.preset_activate(150)
    assert "preset" in str(info.value)
    assert hdx.health().verdict == Verdict.OK   # the session is still in step


def test_group_series_driver_is_fooled_by_the_echo(hdx_sim: PolycomHdxSimulator, transport: str) -> None:
    """Why HDX needs its own driver: the Group Series one accepts the echo of a refused command."""
    if transport != "telnet":
        pytest.skip("one transport shows it")
    driver = PolyGroupDriver(hdx_endpoint(hdx_sim, "telnet"), name="xining.codec")
    driver.connect()
    try:
        driver.preset_activate(150)   # no error: the echo was taken as the acknowledgement
    finally:
        driver.close()


def test_sd_call_with_a_group_series_codec(hdx: PolycomHdxDriver, fabric: CallFabric,
                                           loopback_factory: Callable[[], str]) -> None:
    far = PolyGroupSimulator(name="lhasa.codec", host=loopback_factory(), password="pw", boot_time=0.5,
                             options=CodecOptions(serial="8213", model="RealPresence Group 500",
                                                  sip_uri="lhasa@roomops.test", sip_proxy="sip.roomops.test"),
                             fabric=fabric)
    with far:
        call_id = hdx.dial("lhasa@roomops.test", "sip", 1920)
        info = hdx.wait_for_call(call_id, ("connected",), 10.0)
        assert info is not None and info.state == "connected"
        assert info.rate_kbps == 1920
        assert info.resolution == "704x576" and not info.is_hd
        [listed] = hdx.calls()
        assert listed.resolution == "704x576"
        [far_call] = far.active_calls()
        assert far_call.resolution == "704x576"   # the far end negotiated SD too
        hdx.hangup(call_id)
        assert hdx.calls() == []


def test_reconnect_finds_the_line_ready(hdx: PolycomHdxDriver, hdx_sim: PolycomHdxSimulator) -> None:
    hdx.close()
    hdx.connect()
    assert hdx.identify().serial == SERIAL
    hdx.close()
    hdx.connect()
    assert hdx.health().verdict == Verdict.OK


def test_wrong_password(hdx_sim: PolycomHdxSimulator, transport: str) -> None:
    if transport == "serial":
        pytest.skip("this serial port has no login")
    driver = PolycomHdxDriver(hdx_endpoint(hdx_sim, transport.split("-")[0], password="wrong"),
                              name="xining.codec")
    with pytest.raises(AuthError):
        driver.connect()
    driver.close()


def test_reboot_and_back(hdx: PolycomHdxDriver, hdx_sim: PolycomHdxSimulator) -> None:
    boots = hdx_sim.boot_count
    hdx_sim.boot_time = 2.5   # long enough for the serial probe to meet the silence of a restart
    away = hdx.reboot(wait=True, timeout=20.0)
    assert away is not None and hdx_sim.boot_count == boots + 1
    assert hdx.identify().serial == SERIAL


def test_unit_without_echo(loopback: str, fabric: CallFabric) -> None:
    """A unit (or firmware) that does not echo: ``api_echo: false`` and the acknowledgement is
    the first line; errors are still errors."""
    sim = make_hdx(loopback, fabric)
    sim.api_echo = False
    with sim:
        ep = hdx_endpoint(sim, "telnet")
        driver = PolycomHdxDriver(replace(ep, options={**ep.options, "api_echo": False}), name="xining.codec")
        with driver:
            driver.mute(True)
            assert sim.mic_mute is True
            with pytest.raises(CommandRejected):
                driver.preset_activate(150)
            assert driver.identify().serial == SERIAL
