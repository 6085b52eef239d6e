"""Fixtures for codec tests: simulators on their own loopback address, a private call fabric
per test (so tests never see each other's registrations), drivers built from endpoints."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from drivers.cisco_roomos import CiscoRoomOSDriver
from drivers.poly_group import PolyGroupDriver
from drivers.roles import Endpoint
from simulators.cisco_roomos import CiscoRoomOSSimulator
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


# -- Cisco ------------------------------------------------------------------------------------------
CISCO_PASSWORD = "s3cret-Cisco"


def cisco_options(uri: str = "cisco@roomops.test", **kw: object) -> CodecOptions:
    base: dict[str, object] = {"serial": "FOC2145N0AB", "model": "Cisco Room Kit", "firmware": "ce9.15.3.17",
                               "system_name": "Urumqi Room", "sip_uri": uri, "sip_proxy": "sip.roomops.test",
                               "max_rate": 6000, "multisite": 4}
    base.update(kw)
    return CodecOptions(**base)  # type: ignore[arg-type]


def cisco_endpoint(sim: CiscoRoomOSSimulator, tmp_path: Path, **options: object) -> Endpoint:
    server = sim.servers[0]
    if sim.transport == "ssh":
        known = tmp_path / f"known_hosts_{sim.host}"
        server.write_known_hosts(str(known))  # type: ignore[attr-defined]
        return Endpoint("ssh", host=sim.host, port=server.port, username="admin",  # type: ignore[attr-defined]
                        password=sim.password, known_hosts=str(known), timeout=2.0, boot_time=3.0,
                        options=dict(options))
    if sim.transport == "https":
        # The simulator's own self-signed certificate, pinned by its SHA-256 fingerprint.
        options = {"tls_fingerprint": server.fingerprint, **options}  # type: ignore[attr-defined]
    if sim.transport == "serial":
        return Endpoint("serial", serial_url=server.path, baudrate=115200, username="admin",  # type: ignore[attr-defined]
                        password=sim.password, timeout=2.0, boot_time=3.0,
                        options={"serial_prompt_window": 0.3, **options})
    return Endpoint(sim.transport, host=sim.host, port=server.port, username="admin",  # type: ignore[attr-defined]
                    password=sim.password, timeout=2.0, boot_time=3.0, options=dict(options))


def make_cisco_sim(host: str, fabric: CallFabric, transport: str = "ssh",
                   **kw: object) -> CiscoRoomOSSimulator:
    uri = str(kw.pop("uri", "cisco@roomops.test"))
    return CiscoRoomOSSimulator(name="urumqi.codec", host=host, password=CISCO_PASSWORD, boot_time=0.5,
                                options=cisco_options(uri, **kw), fabric=fabric, transport=transport)


#: One driver suite over every way to reach a Cisco codec: SSH (JSON and terminal output), a TC
#: unit over TCP, the xAPI over HTTPS (getxml/putxml) and plain HTTP, and RS-232 (login on).
CISCO_FLAVOURS = ["ssh-json", "ssh-terminal", "tcp-tc", "https", "http", "serial"]


@pytest.fixture(params=CISCO_FLAVOURS)
def cisco_flavour(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def cisco_sim(loopback: str, fabric: CallFabric, cisco_flavour: str) -> Iterator[CiscoRoomOSSimulator]:
    kw: dict[str, object] = {}
    transports = {"tcp-tc": "tcp", "https": "https", "http": "http", "serial": "serial"}
    transport = transports.get(cisco_flavour, "ssh")
    if cisco_flavour == "tcp-tc":
        kw["firmware"] = "TC7.3.6"
    sim = make_cisco_sim(loopback, fabric, transport, **kw)
    with sim:
        yield sim
    assert not sim.errors, sim.errors


@pytest.fixture
def cisco(cisco_sim: CiscoRoomOSSimulator, cisco_flavour: str, tmp_path: Path) -> Iterator[CiscoRoomOSDriver]:
    options = {"output_mode": "terminal"} if cisco_flavour == "ssh-terminal" else {}
    driver = CiscoRoomOSDriver(cisco_endpoint(cisco_sim, tmp_path, **options), name="urumqi.codec")
    driver.connect()
    yield driver
    driver.close()
