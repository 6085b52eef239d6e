"""PJLink with a password: the digest once (the spec, pypjlink, us by default) or before every
command (another implementation): the simulator takes both, checks each digest, and with the
quirk ``digest-every-command`` demands it every time; the driver offers it as an option. The
digest never appears in a transcript."""

from __future__ import annotations

import hashlib
import re

import pytest

from drivers.errors import AuthError
from tests.peripherals.test_pjlink import Raw, driver_for, make_sim

PASSWORD = "pj-secret"


def digest_for(greeting: bytes) -> str:
    challenge = re.fullmatch(rb"PJLINK 1 ([0-9a-f]{8})\r", greeting)
    assert challenge is not None, greeting
    return hashlib.md5(challenge.group(1) + PASSWORD.encode()).hexdigest()


def test_simulator_accepts_the_digest_before_every_command(loopback: str) -> None:
    with make_sim(loopback, password=PASSWORD) as sim:
        raw = Raw(sim)
        try:
            digest = digest_for(raw.line())
            assert raw.ask(f"{digest}%1POWR ?\r".encode()) == b"%1POWR=0\r"
            assert raw.ask(f"{digest}%1INF1 ?\r".encode()).startswith(b"%1INF1=")   # again: accepted
            assert raw.ask(b"%1CLSS ?\r") == b"%1CLSS=1\r"                         # or left out
            assert raw.ask(b"0" * 32 + b"%1POWR ?\r") == b"PJLINK ERRA\r"           # but checked
        finally:
            raw.close()


@pytest.mark.parametrize("every", [False, True])
def test_driver_with_and_without_the_option(loopback: str, every: bool) -> None:
    with make_sim(loopback, password=PASSWORD) as sim:
        with driver_for(sim, PASSWORD, digest_every_command=every) as display:
            for _ in range(3):
                assert display.power_state() == "standby"
            assert display.query("INF1")
            text = " ".join(e.text for e in display.transcript.entries())
            assert "%1POWR ?" in text
            assert not re.search(r"[0-9a-f]{32}", text)   # the digest is redacted wherever it went


def test_unit_that_demands_the_digest_every_time(loopback: str) -> None:
    with make_sim(loopback, password=PASSWORD) as sim:
        sim.set_fault("digest-every-command")
        with driver_for(sim, PASSWORD, digest_every_command=True) as display:
            display.query("INF1")
            display.query("NAME")          # a second command on the same session works
        once = driver_for(sim, PASSWORD)
        with pytest.raises(AuthError):
            once.connect()
            once.query("INF1")
            once.query("NAME")             # without the option the unit refuses the second one
        once.close()


def test_lamp_hours_with_latin1_digits_is_a_protocol_error(loopback: str) -> None:
    """``'\\xb2'.isdigit()`` is true but int() refuses it: the parser must say ProtocolError."""
    from drivers.errors import ProtocolError

    with make_sim(loopback) as sim, driver_for(sim) as display:
        assert display.lamp_hours() == [sim.lamp_hours]
        display.query = lambda cmd, cls="1": "\xb2 1"  # type: ignore[method-assign]
        with pytest.raises(ProtocolError):
            display.lamp_hours()
