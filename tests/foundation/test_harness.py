"""The simulator harness itself: refusal takes effect at once, addresses move, power cycles,
errors inside a handler are recorded instead of killing the server."""

from __future__ import annotations

import socket

import pytest

from drivers.errors import ConnectError, Disconnected
from drivers.transports import TcpTransport
from simulators.echo import EchoSimulator
from simulators.faults import COMMON_KNOBS, garble, parse_knob
from simulators.harness import DeviceSimulator, SimConnection, TcpServer
from tests.foundation.conftest import PROMPT, eventually, thread_names


@pytest.mark.parametrize("kind", ["tcp", "ssh"])
def test_refuse_applies_before_set_fault_returns(serve, kind: str) -> None:
    served = serve(kind)
    for _ in range(20):  # no window in which the old listener still accepts
        served.sim.set_fault("refuse")
        with pytest.raises(ConnectError):
            served.transport().open()
        served.sim.clear_faults()
        t = served.transport()
        t.open()
        t.close()


def test_move_to_serves_on_the_new_address_only(serve, loopback_factory) -> None:
    served = serve("tcp")
    old_host, port = served.host, served.port
    new_host = loopback_factory()
    with served.connect() as t:
        served.sim.move_to(new_host)
        with pytest.raises(Disconnected):
            t.write(b"x\n")
            t.read_until(b"\r\n", 1.0)
    with pytest.raises(ConnectError):
        TcpTransport(old_host, port, connect_timeout=1.0).open()
    with TcpTransport(new_host, port, connect_timeout=1.0) as t:
        assert t.read_until(PROMPT, 2.0) == PROMPT
    assert served.sim.urls() == [f"tcp://{new_host}:{port}"]


def test_power_off_refuses_until_power_on_and_boot(serve) -> None:
    served = serve("tcp", boot_time=0.3)
    served.sim.power_off()
    with pytest.raises(ConnectError):
        served.transport().open()
    served.sim.power_on()
    with pytest.raises(ConnectError):
        served.transport().open()  # still booting

    def answers() -> bool:
        try:
            served.transport().open()
        except ConnectError:
            return False
        return True

    assert eventually(answers, timeout=5.0) >= 0.2
    assert served.sim.boot_count == 1


class _Broken(DeviceSimulator):
    def handle_connection(self, conn: SimConnection) -> None:
        raise RuntimeError("simulator bug")


def test_a_failing_handler_is_recorded_and_the_server_keeps_serving(loopback: str) -> None:
    with _Broken(host=loopback) as sim:
        port = sim.servers[0].port  # type: ignore[attr-defined]
        for _ in range(2):
            with socket.create_connection((loopback, port), timeout=2) as s:
                s.settimeout(2)
                assert s.recv(10) == b""  # the session ends: closed, not hung
        assert len(sim.errors) == 2 and "simulator bug" in sim.errors[0]


def test_start_fails_loudly_when_the_address_is_taken(loopback: str) -> None:
    before = thread_names()
    with EchoSimulator(host=loopback) as first:
        port = first.servers[0].port  # type: ignore[attr-defined]
        second = EchoSimulator(host=loopback, port=port)
        with pytest.raises(OSError):
            second.start()
    assert thread_names() == before


def test_tcp_server_url_and_scheme(loopback: str) -> None:
    sim = EchoSimulator(host=loopback)
    assert TcpServer(sim, loopback, 23, telnet=True).url() == f"telnet://{loopback}:23"
    assert TcpServer(sim, loopback, 2001).url() == f"tcp://{loopback}:2001"


def test_unknown_fault_knob_is_an_error(loopback: str) -> None:
    with pytest.raises(ValueError, match="no fault knob"):
        EchoSimulator(host=loopback).set_fault("lamp-error")


def test_knob_names_and_garbage() -> None:
    assert parse_knob("slow=2.5") == ("slow", "2.5")
    assert parse_knob(" silent ") == ("silent", "")
    assert set(COMMON_KNOBS) >= {"refuse", "slow", "silent", "garbage", "drop", "bad-password", "reboot"}
    for reply in (b"OK\r\n", b"%1POWR=1\r", b"\x90\x41\xff", b"x"):
        junk = garble(reply)
        assert junk != reply
        assert junk[-1:] == reply[-1:] or reply == b"x"
        assert not junk.startswith(b"\x90")
