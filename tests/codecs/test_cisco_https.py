"""The xAPI over HTTPS against the simulator's own self-signed certificate: TLS is verified
every way a profile can ask (pinned fingerprint, CA file, trust on first use) and never skipped;
the session cookie carries the login; software without the session API gets Basic auth."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from drivers.cisco_roomos import CiscoRoomOSDriver
from drivers.errors import AuthError, HostKeyError
from drivers.roles import Endpoint
from simulators.cisco_roomos import CiscoRoomOSSimulator
from simulators.fabric import CallFabric
from tests.codecs.conftest import CISCO_PASSWORD, make_cisco_sim


@pytest.fixture
def https_sim(loopback: str, fabric: CallFabric) -> Iterator[CiscoRoomOSSimulator]:
    sim = make_cisco_sim(loopback, fabric, "https")
    with sim:
        yield sim
    assert not sim.errors, sim.errors


def endpoint(sim: CiscoRoomOSSimulator, **kw: object) -> Endpoint:
    options = dict(kw.pop("options", {}))  # type: ignore[call-overload]
    return Endpoint("https", host=sim.host, port=sim.servers[0].port, username="admin",  # type: ignore[attr-defined]
                    password=CISCO_PASSWORD, timeout=2.0, boot_time=3.0, options=options, **kw)  # type: ignore[arg-type]


def test_pinned_fingerprint_and_session_cookie(https_sim: CiscoRoomOSSimulator) -> None:
    pin = https_sim.servers[0].fingerprint  # type: ignore[attr-defined]
    colon_form = "SHA256:" + ":".join(pin[i:i + 2].upper() for i in range(0, len(pin), 2))
    with CiscoRoomOSDriver(endpoint(https_sim, options={"tls_fingerprint": colon_form}), name="gz") as drv:
        assert drv.identify().serial == "FOC2145N0AB"
        (cookie,) = https_sim.http_sessions()
        rendered = drv.transcript.render()
        assert "getxml" in rendered and cookie not in rendered and CISCO_PASSWORD not in rendered
    assert https_sim.http_sessions() == set()


def test_wrong_fingerprint_is_refused(https_sim: CiscoRoomOSSimulator) -> None:
    drv = CiscoRoomOSDriver(endpoint(https_sim, options={"tls_fingerprint": "ab" * 32}), name="gz")
    with pytest.raises(HostKeyError, match="does not match the pinned"):
        drv.connect()
    assert https_sim.http_sessions() == set()   # nothing was sent before the check


def test_no_pin_and_no_ca_means_system_trust_not_none(https_sim: CiscoRoomOSSimulator) -> None:
    with pytest.raises(HostKeyError, match="does not verify"):
        CiscoRoomOSDriver(endpoint(https_sim), name="gz").connect()


def test_ca_file_verifies_chain_and_address(https_sim: CiscoRoomOSSimulator, tmp_path: Path,
                                            loopback_factory, fabric: CallFabric) -> None:
    ca = tmp_path / "codec.pem"
    https_sim.servers[0].identity.write_cert(ca)  # type: ignore[attr-defined]
    with CiscoRoomOSDriver(endpoint(https_sim, options={"tls_ca_file": str(ca)}), name="gz") as drv:
        assert drv.identify().model == "Cisco Room Kit"
    # Another unit's certificate does not verify against this one.
    with make_cisco_sim(loopback_factory(), fabric, "https", uri="other@roomops.test") as other:
        with pytest.raises(HostKeyError):
            CiscoRoomOSDriver(endpoint(other, options={"tls_ca_file": str(ca)}), name="x").connect()


def test_trust_on_first_use_pins_and_refuses_a_change(https_sim: CiscoRoomOSSimulator, tmp_path: Path,
                                                      fabric: CallFabric) -> None:
    known = tmp_path / "state" / "known_hosts"
    ep = endpoint(https_sim, known_hosts=str(known), trust_on_first_use=True)
    with CiscoRoomOSDriver(ep, name="gz") as drv:
        drv.identify()
    pins = Path(f"{known}.tls")
    fingerprint = https_sim.servers[0].fingerprint  # type: ignore[attr-defined]
    assert pins.read_text() == f"{https_sim.host}:{ep.port} sha256:{fingerprint}\n"
    assert stat.S_IMODE(os.stat(pins).st_mode) == 0o600
    with CiscoRoomOSDriver(ep, name="gz") as drv:   # pinned now: same unit, accepted
        drv.identify()
    https_sim.stop()
    # A replacement unit (new certificate) on the same address and port is refused.
    with make_cisco_sim(https_sim.host, fabric, "https", uri="swap@roomops.test") as swapped:
        swapped.servers[0].stop()
        swapped.servers[0].port = ep.port  # type: ignore[attr-defined]
        swapped.servers[0].start()
        with pytest.raises(HostKeyError, match="does not match"):
            CiscoRoomOSDriver(ep, name="gz").connect()
    https_sim.start()


def test_basic_auth_without_session_api(https_sim: CiscoRoomOSSimulator) -> None:
    https_sim.set_fault("no-session-api")
    pin = https_sim.servers[0].fingerprint  # type: ignore[attr-defined]
    with CiscoRoomOSDriver(endpoint(https_sim, options={"tls_fingerprint": pin}), name="gz") as drv:
        assert drv.identify().serial == "FOC2145N0AB"
        assert https_sim.http_sessions() == set()
    wrong = Endpoint("https", host=https_sim.host, port=https_sim.servers[0].port,  # type: ignore[attr-defined]
                     username="admin", password="nope", timeout=2.0, options={"tls_fingerprint": pin})
    with pytest.raises(AuthError):
        CiscoRoomOSDriver(wrong, name="gz").connect()


def test_garbled_and_hostile_xml_are_protocol_errors(https_sim: CiscoRoomOSSimulator) -> None:
    from drivers.cisco_roomos.http_channel import HttpChannel
    from drivers.errors import ProtocolError
    from drivers.transports.http import HttpReply

    pin = https_sim.servers[0].fingerprint  # type: ignore[attr-defined]
    with CiscoRoomOSDriver(endpoint(https_sim, options={"tls_fingerprint": pin}), name="gz") as drv:
        channel = drv.channel
        assert isinstance(channel, HttpChannel)
        bomb = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><Status>&a;</Status>'
        for body in (bomb, b"<Status><Call>", b"#garbage\r\n"):
            with pytest.raises(ProtocolError):
                channel._document(HttpReply(200, body), "xStatus Call")


def test_ca_file_wins_over_a_site_wide_trust_on_first_use(https_sim: CiscoRoomOSSimulator, tmp_path: Path,
                                                          loopback_factory, fabric: CallFabric) -> None:
    ca = tmp_path / "other.pem"
    with make_cisco_sim(loopback_factory(), fabric, "https", uri="other@roomops.test") as other:
        other.servers[0].identity.write_cert(ca)  # type: ignore[attr-defined]
    ep = endpoint(https_sim, known_hosts=str(tmp_path / "known_hosts"), trust_on_first_use=True,
                  options={"tls_ca_file": str(ca)})
    with pytest.raises(HostKeyError):
        CiscoRoomOSDriver(ep, name="gz").connect()
    assert not Path(f"{tmp_path / 'known_hosts'}.tls").exists()
