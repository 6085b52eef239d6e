"""RS-232 through a pty: baud-rate pacing, stable symlinks, URLs pyserial understands."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from drivers.errors import ConnectError, Disconnected
from drivers.transports import SerialTransport
from simulators.echo import EchoSimulator
from simulators.harness import PtyServer


def test_9600_baud_paces_the_bytes(serve) -> None:
    served = serve("serial")
    with served.connect() as t:
        t.write(b"blob 100\n")
        start = time.monotonic()
        reply = t.read_until(b"\r\n", 2.0)
        elapsed = time.monotonic() - start
    assert len(reply) == 102
    # 102 bytes at 10 bits each is 106 ms on the wire; a pty alone would take well under 1 ms.
    assert elapsed >= 0.100


def test_stable_symlink_names_the_port(loopback: str, tmp_path: Path) -> None:
    link = str(tmp_path / "dev" / "ttyUSB0")
    with EchoSimulator(serve="serial", host=loopback, serial_link=link, baudrate=None) as sim:
        server = sim.server(PtyServer)
        assert isinstance(server, PtyServer)
        assert server.url() == f"serial://{link}"
        assert Path(link).resolve() == Path(server.slave_path).resolve()
        with SerialTransport(link, baudrate=9600) as t:
            t.write(b"via link\n")
            assert t.read_until(b"ECHO via link\r\n", 2.0).endswith(b"ECHO via link\r\n")
    assert not Path(link).exists(), "stop() removes the symlink"


def test_socket_url_reaches_a_tcp_server(serve) -> None:
    served = serve("socket")
    with served.connect() as t:
        assert t.describe().startswith("serial:socket://")
        t.write(b"over socket\n")
        assert t.read_until(b"\r\n", 2.0) == b"ECHO over socket\r\n"


@pytest.mark.parametrize("url", ["/dev/ttyNOPE-roomops", "socket://127.0.0.1:1", "bogus://x"])
def test_a_port_that_cannot_open_is_connect_error(url: str) -> None:
    t = SerialTransport(url)
    with pytest.raises(ConnectError):
        t.open()
    assert not t.is_open


def test_the_port_going_away_is_disconnected(loopback: str) -> None:
    sim = EchoSimulator(serve="serial", host=loopback, baudrate=None).start()
    try:
        t = SerialTransport(sim.server(PtyServer).path)  # type: ignore[attr-defined]
        t.open()
    finally:
        sim.stop()  # closes the pty: the adapter was unplugged
    with pytest.raises(Disconnected):
        t.read_until(b"\r\n", 1.0)
    assert not t.is_open


def test_drain_takes_a_trickling_reply_whole(serve) -> None:
    served = serve("serial")
    with served.connect() as t:
        t.write(b"blob 200\n")  # about 210 ms on the wire at 9600 baud
        assert t.read_exactly(10, 2.0) == b"0123456789"
        rest = t.drain()
        assert rest.endswith(b"\r\n> ")
        assert len(rest) == 200 - 10 + 2 + 2
        assert t.read_some(0.05) == b""
