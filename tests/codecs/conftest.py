"""Fixtures for codec tests: simulators on their own loopback address, a private call fabric
per test (so tests never see each other's registrations), drivers built from endpoints."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from drivers.poly_group import PolyGroupDriver
from drivers.roles import Endpoint
from simulators.codec_common import CodecOptions
from simulators.fabric import CallFabric
from simulators.poly_group import PolyGroupSimulator

POLY_PASSWORD = "s3cret-Poly"


@pytest.fixture
def fabric() -> CallFabric:
    return CallFabric()


def poly_options(uri: str = "poly@roomops.test", **kw: object) -> CodecOptions:
    base: dict[str, object] = {"serial": "8213460ABCDE", "model": "RealPresence Group 500",
                               "firmware": "6.2.2", "system_name": "Lhasa Room", "sip_uri": uri,
                               "sip_proxy": "sip.roomops.test", "max_rate": 4096, "multisite": 1}
    base.update(kw)
    return CodecOptions(**base)  # type: ignore[arg-type]


def poly_endpoint(sim: PolyGroupSimulator, **options: object) -> Endpoint:
    opts: dict[str, object] = {"pacing_ms": 5}
    opts.update(options)
    return Endpoint("telnet", host=sim.host, port=sim.servers[0].port, password=sim.password,  # type: ignore[attr-defined]
                    timeout=2.0, boot_time=3.0, options=opts)


@pytest.fixture
def poly_sim(loopback: str, fabric: CallFabric) -> Iterator[PolyGroupSimulator]:
    sim = PolyGroupSimulator(name="lhasa.codec", host=loopback, password=POLY_PASSWORD, boot_time=0.5,
                             options=poly_options(), fabric=fabric)
    with sim:
        yield sim
    assert not sim.errors, sim.errors


@pytest.fixture
def poly(poly_sim: PolyGroupSimulator) -> Iterator[PolyGroupDriver]:
    driver = PolyGroupDriver(poly_endpoint(poly_sim), name="lhasa.codec")
    driver.connect()
    yield driver
    driver.close()
