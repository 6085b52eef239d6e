"""An outlet cycle through the real PDU driver really powers the real codec simulator plugged
into it: the codec's driver cannot connect while the outlet is off, cannot connect while the
unit boots, and logs in again once its boot time has passed."""

from __future__ import annotations

import time

import pytest

from drivers.apc_pdu import ApcPduDriver
from drivers.errors import ConnectError
from drivers.poly_group import PolyGroupDriver
from drivers.roles import Endpoint
from simulators.apc_pdu import ApcPduSimulator
from simulators.fabric import CallFabric
from simulators.poly_group import PolyGroupSimulator
from tests.codecs.conftest import poly_endpoint, poly_options

PDU_PASSWORD = "apc-s3cret"
BOOT = 0.6


def pdu_endpoint(sim: ApcPduSimulator) -> Endpoint:
    return Endpoint(transport="telnet", host=sim.host, port=sim.servers[0].port,  # type: ignore[attr-defined]
                    username="apc", password=PDU_PASSWORD, timeout=2.0)


def codec_answers(sim: PolyGroupSimulator) -> bool:
    driver = PolyGroupDriver(poly_endpoint(sim), name="lhasa.codec")
    try:
        driver.connect()
        return bool(driver.identify().serial)
    except ConnectError:
        return False
    finally:
        driver.close()


@pytest.mark.timeout(30)
def test_outlet_cycle_takes_the_codec_down_and_it_boots_back(loopback_factory) -> None:
    codec = PolyGroupSimulator(name="lhasa.codec", host=loopback_factory(), password="s3cret-Poly",
                               boot_time=BOOT, options=poly_options(), fabric=CallFabric())
    pdu = ApcPduSimulator(host=loopback_factory(), username="apc", password=PDU_PASSWORD)
    with codec, pdu:
        pdu.wire(1, codec)
        assert codec_answers(codec)
        with ApcPduDriver(pdu_endpoint(pdu)) as drv:
            drv.outlet_off(1)
            assert drv.outlet_status(1) == {1: False}
            # The codec's listener closes on the simulator's next poll tick.
            deadline = time.monotonic() + 2.0
            while codec_answers(codec):
                assert time.monotonic() < deadline, "codec still answers with its outlet off"
            drv.outlet_on(1)
            powered_at = time.monotonic()
            assert not codec_answers(codec), "codec answered before it could have booted"
            deadline = powered_at + BOOT + 3.0
            while not codec_answers(codec):
                assert time.monotonic() < deadline, "codec did not come back after its boot time"
            assert time.monotonic() - powered_at >= BOOT
            assert codec.boot_count == 1
