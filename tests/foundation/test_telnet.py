"""Our Telnet client: option refusal, IAC split across TCP segments, doubled 0xFF, CR NUL."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from drivers.transports import TelnetTransport
from drivers.transports.telnet import DO, DONT, IAC, SB, SE, WILL, WONT, TelnetParser
from simulators.harness import SocketConnection
from tests.foundation.conftest import PROMPT

ECHO, SGA, TTYPE = 1, 3, 24


@contextmanager
def raw_server(host: str,
               script: Callable[[socket.socket], None]) -> Iterator[tuple[int, list[BaseException]]]:
    """A one-connection TCP server that runs ``script`` on the accepted socket: byte-exact
    control over what goes on the wire, segment by segment."""
    listener = socket.create_server((host, 0))
    errors: list[BaseException] = []

    def run() -> None:
        try:
            conn, _ = listener.accept()
            with conn:
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                script(conn)
        except BaseException as exc:  # noqa: BLE001 - handed to the test to re-raise
            errors.append(exc)

    thread = threading.Thread(target=run, name="raw-telnet-server", daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], errors
    finally:
        thread.join(timeout=5)
        listener.close()
    assert not thread.is_alive()
    if errors:
        raise errors[0]


def recv_exactly(conn: socket.socket, n: int, timeout: float = 2.0) -> bytes:
    conn.settimeout(timeout)
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            break
        data += chunk
    return data


def send_byte_by_byte(conn: socket.socket, data: bytes, pause: threading.Event) -> None:
    for b in data:
        conn.sendall(bytes((b,)))
        pause.wait(0.002)  # separate TCP segments (NODELAY): the client sees one byte per read


def test_do_and_will_are_refused_even_when_split_across_segments(loopback: str) -> None:
    received: dict[str, bytes] = {}
    pause = threading.Event()

    def script(conn: socket.socket) -> None:
        send_byte_by_byte(conn, bytes((IAC, DO, ECHO, IAC, WILL, SGA, IAC, DONT, TTYPE)), pause)
        send_byte_by_byte(conn, b"hello\r\n", pause)
        received["answers"] = recv_exactly(conn, 7)  # 6 bytes, then the client closing

    with raw_server(loopback, script) as (port, _errors), TelnetTransport(loopback, port) as t:
        # The answers went out while reading, before the data behind them arrived.
        assert t.read_until(b"\r\n", 2.0) == b"hello\r\n"
    # DO ECHO -> WONT ECHO, WILL SGA -> DONT SGA, DONT is already our state: no answer.
    assert received["answers"] == bytes((IAC, WONT, ECHO, IAC, DONT, SGA))


def test_doubled_ff_split_across_segments_is_one_data_byte(loopback: str) -> None:
    pause = threading.Event()

    def script(conn: socket.socket) -> None:
        send_byte_by_byte(conn, b"A" + bytes((IAC, IAC)) + b"B\r\n", pause)
        # Subnegotiation with an escaped IAC inside, then data.
        send_byte_by_byte(conn, bytes((IAC, SB, TTYPE, 1, IAC, IAC, IAC, SE)) + b"C\r\n", pause)

    with raw_server(loopback, script) as (port, _errors), TelnetTransport(loopback, port) as t:
        assert t.read_until(b"\r\n", 2.0) == b"A\xffB\r\n"
        assert t.read_until(b"\r\n", 2.0) == b"C\r\n"


def test_outgoing_ff_is_doubled(loopback: str) -> None:
    received: dict[str, bytes] = {}

    def script(conn: socket.socket) -> None:
        received["data"] = recv_exactly(conn, 6)

    with raw_server(loopback, script) as (port, _errors), TelnetTransport(loopback, port) as t:
        t.write(b"\xff1\xff\n")
        # Transcript shows what we meant, the wire carries it escaped.
        assert "\\xff1\\xff\\n" in t.transcript.render()
    assert received["data"] == b"\xff\xff1\xff\xff\n"


def test_cr_nul_is_a_bare_carriage_return(loopback: str) -> None:
    pause = threading.Event()

    def script(conn: socket.socket) -> None:
        send_byte_by_byte(conn, b"one\r\x00two\r\n", pause)

    with raw_server(loopback, script) as (port, _errors), TelnetTransport(loopback, port) as t:
        assert t.read_until(b"\r\n", 2.0) == b"one\rtwo\r\n"


def test_echo_simulator_negotiation_is_answered(serve) -> None:
    served = serve("telnet", negotiate=bytes((IAC, DO, TTYPE, IAC, WILL, ECHO)))
    with served.connect() as t:
        t.write(b"ff\n")
        assert t.read_until(b"\r\n", 2.0) == b"A\xffB\r\n"  # doubled by the device, undoubled by us
        t.read_until(PROMPT, 2.0)
        sessions = list(served.sim.iter_sessions())
        assert len(sessions) == 1 and isinstance(sessions[0], SocketConnection)
        assert sessions[0].negotiations == [bytes((IAC, WONT, TTYPE)), bytes((IAC, DONT, ECHO))]


@pytest.mark.parametrize("chunking", [1, 2, 3, 7])
def test_parser_gives_the_same_result_however_the_stream_is_cut(chunking: int) -> None:
    stream = (b"ab" + bytes((IAC, DO, ECHO)) + b"c" + bytes((IAC, IAC)) + b"d\r\x00e"
              + bytes((IAC, SB, TTYPE, 0, IAC, IAC, IAC, SE)) + bytes((IAC, 241)) + b"f"
              + bytes((IAC, WILL, SGA)))
    parser = TelnetParser()
    data = reply = b""
    for i in range(0, len(stream), chunking):
        d, r = parser.feed(stream[i:i + chunking])
        data += d
        reply += r
    assert data == b"abc\xffd\ref"
    assert reply == bytes((IAC, WONT, ECHO, IAC, DONT, SGA))
