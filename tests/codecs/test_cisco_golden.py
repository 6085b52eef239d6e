"""The literal exchanges of protocols.md section 1 against the Cisco simulator, on a raw socket
(the simulator's Telnet-style login first), plus per-session state and spec wiring."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from drivers.cisco_roomos import CiscoRoomOSDriver
from drivers.registry import driver_class
from simulators.cisco_roomos import CiscoRoomOSSimulator
from simulators.fabric import CallFabric
from simulators.registry import simulator_class
from simulators.spec import SimSpec
from tests.codecs.conftest import CISCO_PASSWORD, cisco_endpoint, make_cisco_sim


class Raw:
    def __init__(self, host: str, port: int) -> None:
        self.sock = socket.create_connection((host, port), timeout=2)
        self.buf = b""

    def until(self, pattern: bytes) -> bytes:
        rx = re.compile(pattern)
        while not (m := rx.search(self.buf)):
            chunk = self.sock.recv(65536)
            assert chunk, f"closed while waiting for {pattern!r}; got {self.buf!r}"
            self.buf += chunk
        out, self.buf = self.buf[: m.end()], self.buf[m.end():]
        return out

    def send(self, line: str) -> None:
        self.sock.sendall(line.encode() + b"\n")

    def login(self) -> bytes:
        self.until(rb"login: ")
        self.send("admin")
        self.until(rb"Password: ")
        self.send(CISCO_PASSWORD)
        return self.until(rb"\*r Login successful\r\n\r\nOK\r\n")


@pytest.fixture
def tc_raw(loopback: str, fabric: CallFabric) -> Iterator[tuple[CiscoRoomOSSimulator, Raw]]:
    with make_cisco_sim(loopback, fabric, "tcp", firmware="TC7.3.6") as sim:
        raw = Raw(sim.host, sim.servers[0].port)  # type: ignore[attr-defined]
        try:
            yield sim, raw
        finally:
            raw.sock.close()


def test_banner_and_echo_off(tc_raw: tuple[CiscoRoomOSSimulator, Raw]) -> None:
    _, raw = tc_raw
    banner = raw.login()
    assert re.search(rb"Welcome to .*\r\nCisco Codec Release TC7\.3\.6\r\nSW Release Date: .*\r\n"
                     rb"\*r Login successful\r\n\r\nOK\r\n$", banner)
    raw.send("echo off")
    assert raw.until(rb"OK\r\n").endswith(b"echo off\r\nOK\r\n")   # echo is still on for that line


def test_standby_status_terminal(tc_raw: tuple[CiscoRoomOSSimulator, Raw]) -> None:
    sim, raw = tc_raw
    raw.login()
    raw.send("echo off")
    raw.until(rb"OK\r\n")
    sim.standby = True
    raw.send("xStatus Standby Active")
    assert raw.until(rb"OK\r\n") == b"*s Standby Active: On\r\n** end\r\n\r\nOK\r\n"


def test_dial_and_disconnect_event(tc_raw: tuple[CiscoRoomOSSimulator, Raw]) -> None:
    _, raw = tc_raw
    raw.login()
    raw.send("echo off")
    raw.until(rb"OK\r\n")
    raw.send("xFeedback register /Event/CallDisconnect")
    assert raw.until(rb"OK\r\n") == b"** end\r\n\r\nOK\r\n"
    raw.send("xCommand Dial Number: 95458458")
    reply = raw.until(rb"\r\nOK\r\n")
    assert reply.startswith(b"*r DialResult (status=OK):\r\n")
    assert re.search(rb"CallId: \d+\r\n", reply) and b"ConferenceId:" in reply and b"** end" in reply
    event = raw.until(rb"\*\* end\r\n")   # nobody has that number: the call ends
    assert event.startswith(b"*e CallDisconnect CauseValue: ")
    assert b'*e CallDisconnect CauseType: "UnknownRemoteSite"' in event


def test_errors(tc_raw: tuple[CiscoRoomOSSimulator, Raw]) -> None:
    _, raw = tc_raw
    raw.login()
    raw.send("echo off")
    raw.until(rb"OK\r\n")
    raw.send("xFoo")
    assert raw.until(rb"\r\n") == b"Command not recognized.\r\n"
    raw.send("xStatus Foo")
    assert raw.until(rb"ERROR\r\n") == (
        b'*r Status (status=Error):\r\n*r Status Reason: "No match on address expression."\r\n'
        b'*r Status XPath: "Status/Foo"\r\n** end\r\n\r\nERROR\r\n')
    raw.send("xpreferences outputmode json")    # TC has no JSON
    assert b"xpreferences usage:" in raw.until(rb"OK\r\n")


def test_json_standby_deactivate(loopback: str, fabric: CallFabric) -> None:
    with make_cisco_sim(loopback, fabric, "tcp") as sim:
        raw = Raw(sim.host, sim.servers[0].port)  # type: ignore[attr-defined]
        with raw.sock:
            raw.login()
            raw.send("echo off")
            raw.until(rb"OK\r\n")
            raw.send("xPreferences OutputMode JSON")
            raw.until(rb"OK\r\n")
            raw.send('xCommand Standby Deactivate | resultId="u1"')
            reply = raw.until(rb"\r\n}\r\n")
            assert json.loads(reply) == {"CommandResponse": {"StandbyDeactivateResult": {"status": "OK"}},
                                         "ResultId": "u1"}
            raw.send('xCommand Video Input SetMainVideoSource ConnectorId: 1 SourceId: 1 | resultId="u2"')
            err = json.loads(raw.until(rb"\r\n}\r\n"))
            reason = "Must supply either SourceId or ConnectorId (but not both.)"
            assert err["CommandResponse"]["SetMainVideoSourceResult"] == {
                "status": "Error", "Reason": {"Value": reason}}


def test_output_mode_and_feedback_are_per_session(cisco_sim: CiscoRoomOSSimulator, tmp_path: Path,
                                                   cisco_flavour: str) -> None:
    driver = CiscoRoomOSDriver(cisco_endpoint(cisco_sim, tmp_path), name="x")
    if cisco_flavour in ("http", "https"):
        # The web session (cookie) is per login and forgotten by a reboot: the driver logs in again.
        with driver:
            (cookie,) = cisco_sim.http_sessions()
            cisco_sim.reboot(0.3)
            driver.reconnect_until(__import__("time").monotonic() + 3.0)
            (fresh,) = cisco_sim.http_sessions()
            assert fresh != cookie
            assert driver.identify().serial == cisco_sim.opts.serial
        assert cisco_sim.http_sessions() == set()   # closing ends the web session
        return
    with driver:
        (session,) = list(cisco_sim.iter_sessions())
        assert session.state["feedback"] == ["status/call", "event/calldisconnect"]
        assert session.state["mode"] == ("terminal" if cisco_flavour == "tcp-tc" else "json")
        cisco_sim.reboot(0.3)
        driver.reconnect_until(__import__("time").monotonic() + 3.0)
        (fresh,) = list(cisco_sim.iter_sessions())
        assert fresh is not session
        assert fresh.state["feedback"] == ["status/call", "event/calldisconnect"]   # registered again


def test_bare_session_has_no_feedback(loopback: str, fabric: CallFabric) -> None:
    with make_cisco_sim(loopback, fabric, "tcp") as sim:
        raw = Raw(sim.host, sim.servers[0].port)  # type: ignore[attr-defined]
        with raw.sock:
            raw.login()
            raw.send("xFeedback list")
            assert raw.until(rb"OK\r\n").strip() == b"xFeedback list\r\n** end\r\n\r\nOK"


def test_from_spec_and_registries(loopback: str, fabric: CallFabric, tmp_path: Path) -> None:
    class Site:
        pass

    site = Site()
    site.fabric = fabric  # type: ignore[attr-defined]
    spec = SimSpec(device_id="kunming.codec", driver="cisco-roomos", model="cisco-roomkit", transport="ssh",
                   host=loopback, port=0, password="pw", boot_time=0.4,
                   identity={"serial": "FOCKM1", "model": "Cisco Room Kit Pro", "firmware": "ce9.14.1"},
                   options={"sip_uri": "kunming@roomops.test", "multisite": 3, "max_rate": 3072})
    sim_cls = simulator_class("cisco-roomos")
    assert sim_cls is CiscoRoomOSSimulator
    with sim_cls.from_spec(spec, site) as sim:
        assert fabric.lookup("kunming@roomops.test") is sim
        assert sim.opts.multisite == 3 and sim.max_rate == 3072
        with driver_class("cisco-roomos")(cisco_endpoint(sim, tmp_path), name="k") as driver:
            ident = driver.identify()
            assert (ident.serial, ident.model, ident.firmware) == ("FOCKM1", "Cisco Room Kit Pro", "ce9.14.1")
    poly_spec = SimSpec(device_id="xining.codec", driver="poly-group", transport="telnet", host=loopback,
                        port=0, password="pw", options={"sip_uri": "xining@roomops.test"})
    with simulator_class("poly-group").from_spec(poly_spec, site) as psim:
        assert fabric.lookup("xining@roomops.test") is psim
        assert driver_class("poly-group").__name__ == "PolyGroupDriver"


def test_ssh_exec_answers_one_command_and_closes(loopback: str, fabric: CallFabric) -> None:
    """``ssh admin@codec 'xStatus SystemUnit ProductId'``: one answer in terminal mode, then the
    channel closes with exit status 0 (a shell session is not needed)."""
    import paramiko

    with make_cisco_sim(loopback, fabric, "ssh") as sim:
        server = sim.servers[0]
        client = paramiko.SSHClient()
        client.get_host_keys().add(server.known_hosts_name(), server.host_key.get_name(),  # type: ignore[attr-defined]
                                   server.host_key)  # type: ignore[attr-defined]
        client.connect(sim.host, port=server.port, username="admin", password=CISCO_PASSWORD,  # type: ignore[attr-defined]
                       look_for_keys=False, allow_agent=False, timeout=5)
        try:
            _, stdout, _ = client.exec_command("xStatus SystemUnit ProductId", timeout=5)
            out = stdout.read()
            assert out == b'*s SystemUnit ProductId: "Cisco Room Kit"\r\n** end\r\n\r\nOK\r\n'
            assert stdout.channel.recv_exit_status() == 0
        finally:
            client.close()
        assert not sim.errors, sim.errors
