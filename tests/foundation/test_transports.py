"""Every transport against the echo simulator over the real link: round trips, deadlines and
the state a transport is left in after a timeout."""

from __future__ import annotations

import re
import time

import pytest

from drivers.errors import DeviceTimeout, Disconnected
from drivers.transports import UdpTransport
from tests.foundation.conftest import PROMPT, STREAM_KINDS, TOLERANCE


@pytest.mark.parametrize("kind", STREAM_KINDS)
def test_round_trip_until_bytes_terminator(serve, kind: str) -> None:
    served = serve(kind)
    t = served.connect()
    assert t.is_open
    t.write(b"hello world\n")
    assert t.read_until(b"\r\n", 2.0) == b"ECHO hello world\r\n"
    assert t.read_until(PROMPT, 2.0) == PROMPT
    t.close()
    assert not t.is_open
    with pytest.raises(Disconnected):
        t.write(b"after close\n")


@pytest.mark.parametrize("kind", STREAM_KINDS)
def test_round_trip_until_regex_and_read_exactly(serve, kind: str) -> None:
    served = serve(kind)
    with served.connect() as t:
        t.write(b"count 42\n")
        line = t.read_until(re.compile(rb"ECHO count (\d+)\r\n"), 2.0)
        assert re.fullmatch(rb"ECHO count 42\r\n", line)
        t.read_until(PROMPT, 2.0)
        t.write(b"blob 25\n")
        assert t.read_exactly(27, 2.0) == b"0123456789012345678901234\r\n"
        assert t.read_exactly(2, 2.0) == PROMPT


@pytest.mark.parametrize("kind", STREAM_KINDS)
def test_a_terminator_split_over_two_chunks_is_found(serve, kind: str) -> None:
    served = serve(kind)
    with served.connect() as t:
        t.write(b"abc\n")
        # "\r\n" arrives inside one chunk but we look for a terminator spanning reply and prompt.
        assert t.read_until(b"\n> ", 2.0) == b"ECHO abc\r\n> "


@pytest.mark.parametrize("kind", STREAM_KINDS)
def test_timeout_fires_on_time_and_keeps_the_link(serve, kind: str) -> None:
    served = serve(kind)
    with served.connect() as t:
        t.write(b"partial\n")
        start = time.monotonic()
        with pytest.raises(DeviceTimeout) as caught:
            t.read_until(b"never comes", 0.3)
        elapsed = time.monotonic() - start
        assert 0.3 <= elapsed <= 0.3 + TOLERANCE
        assert isinstance(caught.value, TimeoutError)
        assert caught.value.reason == "timeout"
        # What had arrived is on the exception, and gone from the buffer.
        assert caught.value.partial == b"ECHO partial\r\n> "
        assert t.is_open
        t.write(b"again\n")
        assert t.read_until(b"\r\n", 2.0) == b"ECHO again\r\n"


@pytest.mark.parametrize("kind", STREAM_KINDS)
def test_read_exactly_times_out_on_time(serve, kind: str) -> None:
    served = serve(kind)
    with served.connect() as t:
        start = time.monotonic()
        with pytest.raises(DeviceTimeout):
            t.read_exactly(5, 0.3)
        assert 0.3 <= time.monotonic() - start <= 0.3 + TOLERANCE


@pytest.mark.parametrize("kind", STREAM_KINDS)
def test_late_reply_after_a_timeout_is_drained_before_the_next_command(serve, kind: str) -> None:
    served = serve(kind)
    with served.connect() as t:
        served.sim.set_fault("slow", "0.25")
        t.write(b"late\n")
        with pytest.raises(DeviceTimeout):
            t.read_until(b"\r\n", 0.1)
        assert served.sim.wait_for_answer(b"late", 3.0), "the late reply was never sent"
        served.sim.clear_faults()
        t.write(b"fresh\n")
        assert t.read_until(b"\r\n", 2.0) == b"ECHO fresh\r\n"


@pytest.mark.parametrize("kind", STREAM_KINDS)
def test_read_some_returns_what_arrives(serve, kind: str) -> None:
    served = serve(kind)
    with served.connect() as t:
        assert t.read_some(0.05) == b""
        t.write(b"x\n")
        got = b""
        deadline = time.monotonic() + 2.0
        while not got.endswith(PROMPT) and time.monotonic() < deadline:
            got += t.read_some(0.5)
        assert got == b"ECHO x\r\n> "


def test_unread_puts_bytes_back_in_front(serve) -> None:
    served = serve("tcp")
    with served.connect() as t:
        t.write(b"one\n")
        line = t.read_until(b"\r\n", 2.0)
        t.unread(line)
        assert t.read_until(PROMPT, 2.0) == b"ECHO one\r\n> "


# -- UDP: one datagram per message ---------------------------------------------------------------
def test_udp_round_trip_and_deadline(serve) -> None:
    served = serve("udp")
    with served.connect() as t:
        assert isinstance(t, UdpTransport)
        t.write(b"ping")
        assert t.read_packet(2.0) == b"ECHO ping\r\n"
        t.write(b"two")
        assert t.read_until(b"\r\n", 2.0) == b"ECHO two\r\n"
        start = time.monotonic()
        with pytest.raises(DeviceTimeout):
            t.read_packet(0.3)
        assert 0.3 <= time.monotonic() - start <= 0.3 + TOLERANCE
        assert t.is_open


def test_udp_late_datagram_is_drained_before_the_next_command(serve) -> None:
    served = serve("udp")
    with served.connect() as t:
        served.sim.set_fault("slow", "0.3")
        t.write(b"late")
        with pytest.raises(DeviceTimeout):
            t.read_packet(0.1)
        assert served.sim.wait_for_answer(b"late", 3.0)
        served.sim.clear_faults()
        t.write(b"fresh")
        assert t.read_packet(2.0) == b"ECHO fresh\r\n"


def test_udp_to_a_closed_port_is_silence_not_a_crash(loopback: str) -> None:
    with UdpTransport(loopback, 9, local_host=loopback) as t:
        t.write(b"anyone?")
        with pytest.raises(DeviceTimeout):
            t.read_packet(0.2)
        t.write(b"still there?")  # the ICMP error from the first datagram must not break us
        assert t.is_open
