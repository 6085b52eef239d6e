"""Every fault knob of the harness over every transport it applies to."""

from __future__ import annotations

import time

import pytest

from drivers.errors import AuthError, ConnectError, DeviceTimeout, Disconnected
from drivers.transports import prompt_login
from tests.foundation.conftest import (
    ALL_KINDS,
    CONNECTED_KINDS,
    PASSWORD,
    PROMPT,
    STREAM_KINDS,
    TOLERANCE,
    eventually,
)


def ask(t, text: bytes, timeout: float = 2.0) -> bytes:
    """One command, its answer (a datagram, or a line for streams)."""
    t.write(text + (b"" if t.scheme == "udp" else b"\n"))
    return t.read_packet(timeout) if t.scheme == "udp" else t.read_until(b"\r\n", timeout)


# -- refuse -----------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", CONNECTED_KINDS)
def test_refuse_makes_open_fail_with_connect_error(serve, kind: str) -> None:
    served = serve(kind)
    served.sim.set_fault("refuse")
    t = served.transport()
    with pytest.raises(ConnectError) as caught:
        t.open()
    assert caught.value.retryable
    assert not t.is_open
    served.sim.clear_faults()
    with served.connect() as t:
        assert ask(t, b"back") == b"ECHO back\r\n"


@pytest.mark.parametrize("kind", ["serial", "udp"])
def test_refuse_on_a_line_without_sessions_is_silence(serve, kind: str) -> None:
    served = serve(kind)
    with served.connect() as t:
        served.sim.set_fault("refuse")  # a unit that is off: what we send is lost
        with pytest.raises(DeviceTimeout):
            ask(t, b"anyone", 0.3)
        served.sim.clear_faults()
        t.write(b"there\n")
        # Switched on again: a fresh session may greet with a prompt first.
        assert t.read_until(b"\r\n", 2.0).endswith(b"ECHO there\r\n")


# -- slow ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ALL_KINDS)
def test_slow_reply_arrives_after_the_delay(serve, kind: str) -> None:
    served = serve(kind)
    with served.connect() as t:
        served.sim.set_fault("slow", "0.3")
        start = time.monotonic()
        assert ask(t, b"slowly") == b"ECHO slowly\r\n"
        assert time.monotonic() - start >= 0.3


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_slow_reply_misses_a_shorter_deadline(serve, kind: str) -> None:
    served = serve(kind)
    with served.connect() as t:
        served.sim.set_fault("slow", "0.5")
        start = time.monotonic()
        with pytest.raises(DeviceTimeout):
            ask(t, b"too slow", 0.2)
        assert 0.2 <= time.monotonic() - start <= 0.2 + TOLERANCE


# -- silent ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ALL_KINDS)
def test_silent_device_times_out_on_time(serve, kind: str) -> None:
    served = serve(kind)
    with served.connect() as t:
        served.sim.set_fault("silent")
        start = time.monotonic()
        with pytest.raises(DeviceTimeout):
            ask(t, b"hello?", 0.3)
        assert 0.3 <= time.monotonic() - start <= 0.3 + TOLERANCE
        assert t.is_open


# -- garbage --------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ALL_KINDS)
def test_garbage_is_a_complete_reply_that_is_not_the_expected_one(serve, kind: str) -> None:
    served = serve(kind)
    with served.connect() as t:
        served.sim.set_fault("garbage")
        reply = ask(t, b"status")
        assert reply.endswith(b"\r\n")
        assert reply != b"ECHO status\r\n"
        assert not reply.startswith(b"ECHO")


# -- drop ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", CONNECTED_KINDS)
def test_drop_mid_reply_is_disconnected(serve, kind: str) -> None:
    served = serve(kind)
    with served.connect() as t:
        served.sim.set_fault("drop")
        with pytest.raises(Disconnected) as caught:
            ask(t, b"a rather long command so that half a reply is something")
        assert caught.value.retryable
        assert not t.is_open
        with pytest.raises(Disconnected):
            t.write(b"more\n")


@pytest.mark.parametrize("kind", ["serial", "socket"])
def test_drop_on_a_serial_line_leaves_half_a_reply(serve, kind: str) -> None:
    served = serve(kind)
    with served.connect() as t:
        served.sim.set_fault("drop")
        t.write(b"half of this\n")
        if kind == "socket":  # socket:// is TCP underneath: the peer closing is a disconnect
            with pytest.raises(Disconnected):
                t.read_until(b"\r\n", 1.0)
            return
        with pytest.raises(DeviceTimeout) as caught:
            t.read_until(b"\r\n", 0.3)
        # Half of "ECHO half of this\r\n", then the device restarting its session over and
        # over (each new prompt dropped half-way too).
        assert caught.value.partial.startswith(b"ECHO half")
        assert b"ECHO half of this" not in caught.value.partial


# -- bad password ---------------------------------------------------------------------------------
def test_ssh_wrong_password_is_auth_error(serve) -> None:
    served = serve("ssh")
    t = served.transport(password="not-the-password")
    with pytest.raises(AuthError) as caught:
        t.open()
    assert not caught.value.retryable
    assert caught.value.reason == "auth_failed"
    assert "not-the-password" not in str(caught.value)
    assert not t.is_open


def test_ssh_bad_password_fault_refuses_the_right_password(serve) -> None:
    served = serve("ssh")
    served.sim.set_fault("bad-password")
    with pytest.raises(AuthError):
        served.transport().open()
    served.sim.clear_faults()
    with served.connect() as t:
        assert ask(t, b"in") == b"ECHO in\r\n"


@pytest.mark.parametrize("kind", ["telnet", "serial"])
def test_password_prompt_login(serve, kind: str) -> None:
    served = serve(kind, login=True)
    with served.transport() as t:
        if kind == "serial":
            t.write(b"\n")  # wake the line: the prompt went out before we opened it
        prompt_login(t, password=PASSWORD, ready=PROMPT, timeout=2.0)
        assert ask(t, b"logged in") == b"ECHO logged in\r\n"
        assert PASSWORD not in t.transcript.render()


@pytest.mark.parametrize("fault", [False, True])
def test_telnet_bad_password_is_auth_error(serve, fault: bool) -> None:
    served = serve("telnet", login=True)
    if fault:
        served.sim.set_fault("bad-password")
    with served.transport() as t:
        password = PASSWORD if fault else "wrong-one"
        with pytest.raises(AuthError) as caught:
            prompt_login(t, password=password, ready=PROMPT, timeout=2.0)
        assert "Login incorrect" in str(caught.value)
        assert password not in t.transcript.render()


# -- reboot ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", CONNECTED_KINDS)
def test_reboot_disconnects_then_refuses_then_serves_again(serve, kind: str) -> None:
    served = serve(kind)
    t = served.connect()
    started = time.monotonic()
    served.sim.set_fault("reboot", "0.6")
    with pytest.raises(Disconnected):
        ask(t, b"are you there")
    assert not t.is_open
    with pytest.raises(ConnectError):
        t.open()

    def reopened() -> bool:
        try:
            t.open()
        except ConnectError:
            return False
        return True

    eventually(reopened, timeout=5.0)
    assert time.monotonic() - started >= 0.6 - 0.05
    t.read_until(PROMPT, 2.0)
    assert ask(t, b"welcome back") == b"ECHO welcome back\r\n"
    assert served.sim.boot_count == 1
    t.close()


@pytest.mark.parametrize("kind", ["serial", "udp"])
def test_reboot_of_a_line_device_is_silence_for_the_boot_time(serve, kind: str) -> None:
    served = serve(kind)
    with served.connect() as t:
        served.sim.set_fault("reboot", "0.5")
        with pytest.raises(DeviceTimeout):
            ask(t, b"booting?", 0.2)

        def answers() -> bool:
            try:
                return ask(t, b"up?", 0.2) == b"ECHO up?\r\n"
            except DeviceTimeout:
                return False

        eventually(answers, timeout=5.0)


# -- lossy (UDP only) -------------------------------------------------------------------------------
def test_lossy_udp_drops_some_datagrams(serve) -> None:
    served = serve("udp", seed=7)
    with served.connect() as t:
        served.sim.set_fault("lossy", "0.3")  # each way: about half the questions get an answer
        answered = 0
        for i in range(20):
            try:
                ask(t, f"n{i}".encode(), 0.1)
                answered += 1
            except DeviceTimeout:
                pass
        assert 0 < answered < 20


@pytest.mark.parametrize("kind", STREAM_KINDS)
def test_clear_faults_restores_normal_service(serve, kind: str) -> None:
    served = serve(kind)
    with served.connect() as t:
        served.sim.set_fault("garbage")
        assert ask(t, b"x") != b"ECHO x\r\n"
        served.sim.clear_faults()
        t.write(b"y\n")
        # The garbled prompt may still be on its way: what matters is that the answer is right.
        assert t.read_until(b"ECHO y\r\n", 2.0).endswith(b"ECHO y\r\n")
