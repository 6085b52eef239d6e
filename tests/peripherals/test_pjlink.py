"""PJLink: the simulator against the literal exchanges of the protocol notes, and every driver
operation against the simulator over real TCP."""

from __future__ import annotations

import hashlib
import socket

import pytest

from drivers.errors import AuthError, CommandRejected, DeviceTimeout, ProtocolError
from drivers.pjlink import PJLinkDisplayDriver
from drivers.roles import CheckStatus, Display, Endpoint, Verdict
from simulators.pjlink import PJLinkSimulator
from simulators.spec import SimSpec


def make_sim(host: str, **kw: object) -> PJLinkSimulator:
    kw.setdefault("warmup", 0.3)
    kw.setdefault("cooldown", 0.3)
    return PJLinkSimulator(host=host, port=0, **kw)  # type: ignore[arg-type]


def driver_for(sim: PJLinkSimulator, password: str = "", **options: object) -> PJLinkDisplayDriver:
    port = sim.servers[0].port  # type: ignore[attr-defined]
    ep = Endpoint(transport="tcp", host=sim.host, port=port, password=password, timeout=1.0,
                  options={"poll_interval": 0.05, "warmup_timeout": 3.0, **options})
    return PJLinkDisplayDriver(ep, name="display")


class Raw:
    """A bare TCP client for golden exchanges."""

    def __init__(self, sim: PJLinkSimulator) -> None:
        self.sock = socket.create_connection((sim.host, sim.servers[0].port), timeout=2)  # type: ignore[attr-defined]
        self.buf = b""

    def line(self) -> bytes:
        while b"\r" not in self.buf:
            chunk = self.sock.recv(1024)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk
        out, _, self.buf = self.buf.partition(b"\r")
        return out + b"\r"

    def ask(self, data: bytes) -> bytes:
        self.sock.sendall(data)
        return self.line()

    def close(self) -> None:
        self.sock.close()


# -- golden exchanges from protocols.md §6 ---------------------------------------------------------
def test_golden_open_session_power_and_errors(loopback: str, no_leaks: None) -> None:
    with make_sim(loopback, warmup=5.0) as sim:
        raw = Raw(sim)
        try:
            assert raw.line() == b"PJLINK 0\r"
            assert raw.ask(b"%1POWR 1\r") == b"%1POWR=OK\r"
            assert raw.ask(b"%1POWR ?\r") == b"%1POWR=3\r"   # warming
            assert raw.ask(b"%1ERST ?\r") == b"%1ERST=000000\r"
            assert raw.ask(b"%1XXXX ?\r") == b"%1XXXX=ERR1\r"
            assert raw.ask(b"%1POWR 7\r") == b"%1POWR=ERR2\r"
            assert raw.ask(b"%1INPT 31\r") == b"%1INPT=ERR3\r"  # not on yet
            assert raw.ask(b"%2SNUM ?\r") == b"%2SNUM=ERR1\r"   # a class 1 unit
            assert raw.ask(b"%1CLSS ?\r") == b"%1CLSS=1\r"
        finally:
            raw.close()


def test_golden_authentication(loopback: str) -> None:
    with make_sim(loopback, password="secret") as sim:
        raw = Raw(sim)
        try:
            greeting = raw.line()
            assert greeting.startswith(b"PJLINK 1 ") and len(greeting) == len(b"PJLINK 1 498e4a67\r")
            wrong = hashlib.md5(b"00000000" + b"nope").hexdigest().encode()
            assert raw.ask(wrong + b"%1POWR ?\r") == b"PJLINK ERRA\r"
            assert raw.sock.recv(10) == b""  # closed after ERRA
        finally:
            raw.close()
        raw = Raw(sim)
        try:
            rnd = raw.line()[9:17]
            good = hashlib.md5(rnd + b"secret").hexdigest().encode()
            assert raw.ask(good + b"%1POWR ?\r") == b"%1POWR=0\r"
            assert raw.ask(b"%1INF1 ?\r") == b"%1INF1=EPSON\r"   # digest only on the first command
        finally:
            raw.close()


# -- driver operations -------------------------------------------------------------------------------
def test_power_cycle_with_warmup_and_cooldown(loopback: str, no_leaks: None) -> None:
    with make_sim(loopback) as sim, driver_for(sim) as drv:
        assert isinstance(drv, Display)
        assert drv.power_state() == "standby"
        drv.power(True)
        assert drv.power_state() == "warming"
        with pytest.raises(CommandRejected) as info:
            drv.power(False)  # refused while warming
        assert info.value.code == "ERR3"
        assert drv.wait_power("on", 3.0) == "on"
        drv.power(False)
        assert drv.power_state() == "cooling"
        with pytest.raises(CommandRejected) as info:
            drv.power(True)
        assert info.value.code == "ERR3"
        assert drv.wait_power("standby", 3.0) == "standby"


def test_input_mute_lamp_identity_and_config(loopback: str) -> None:
    with make_sim(loopback, powered_on=True, lamp_hours=1234, pjlink_class=2) as sim, driver_for(sim) as drv:
        drv.select_input("32")
        assert drv.current_input() == "32"
        with pytest.raises(CommandRejected) as info:
            drv.select_input("59")
        assert info.value.code == "ERR2" and "parameter" in info.value.text
        drv.av_mute(True)
        assert sim.av_mute == "31"
        assert drv.lamp_hours() == [1234]
        ident = drv.identify()
        assert (ident.vendor, ident.model) == ("EPSON", "EB-L1000")
        assert (ident.serial, ident.firmware) == ("PJ0001", "1.00")
        assert drv.read_config() == {"input": "32"}
        report = drv.apply_config({"input": "31"})
        assert report.changed and report.verified and sim.input == "31"
        assert not drv.apply_config({"input": "31"}).changed


@pytest.mark.parametrize(("knob", "field", "level"), [
    ("fan-error", "fan", "error"), ("lamp-error", "lamp", "error"), ("temp-error", "temperature", "error"),
    ("cover-open", "cover", "error"), ("filter-error", "filter", "warning"),
])
def test_error_status_knobs(loopback: str, knob: str, field: str, level: str, within) -> None:
    with make_sim(loopback, powered_on=True) as sim, driver_for(sim) as drv:
        assert set(drv.errors().values()) == {"ok"}
        sim.set_fault(knob)
        with within(1.0):
            errs = drv.errors()
        assert errs[field] == level
        assert [v for k, v in errs.items() if k != field] == ["ok"] * 5
        health = drv.health()
        assert health.verdict == (Verdict.DEGRADED if level == "error" else Verdict.OK)
        assert any(field in r for r in health.reasons)
        check = next(c for c in drv.selftest_checks({}) if c.name == "display.errors")
        assert check.run().status == (CheckStatus.FAIL if level == "error" else CheckStatus.WARN)


def test_display_failure_and_lamp_error_answer_err4(loopback: str) -> None:
    with make_sim(loopback) as sim, driver_for(sim) as drv:
        sim.set_fault("lamp-error")
        with pytest.raises(CommandRejected) as info:
            drv.power(True)
        assert info.value.code == "ERR4" and "failure" in info.value.text
        sim.clear_faults()
        sim.set_fault("display-failure")
        with pytest.raises(CommandRejected):
            drv.power(True)


def test_authentication_and_digest_never_in_transcript(loopback: str) -> None:
    with make_sim(loopback, password="s3cret-pw") as sim:
        drv = driver_for(sim, password="s3cret-pw")
        with drv:
            assert drv.power_state() == "standby"
            rendered = drv.transcript.render()
        assert "s3cret-pw" not in rendered
        assert "%1CLSS ?" in rendered
        for secret in drv.transcript._secrets:   # the digest was registered and is masked
            assert secret.decode() not in rendered
        assert len(drv.transcript._secrets) == 2
        with pytest.raises(AuthError):
            driver_for(sim, password="wrong").connect()
        with pytest.raises(AuthError):
            driver_for(sim, password="").connect()


def test_bad_password_fault(loopback: str) -> None:
    with make_sim(loopback, password="pw") as sim:
        sim.set_fault("bad-password")
        with pytest.raises(AuthError):
            driver_for(sim, password="pw").connect()


def test_idle_disconnect_is_survived(loopback: str) -> None:
    with make_sim(loopback, idle_timeout=0.2) as sim:
        drv = driver_for(sim)  # driver's own idle limit is longer than the unit's
        with drv:
            assert drv.power_state() == "standby"
            sim.close_sessions()  # the unit hangs up, as after its idle timeout
            assert drv.power_state() == "standby"
        drv = driver_for(sim, idle_timeout=0.1)
        with drv:
            drv.power_state()
            threading_wait(0.15)
            assert drv.power_state() == "standby"  # reopened proactively
            assert "idle" in drv.transcript.render()


def threading_wait(seconds: float) -> None:
    import threading
    threading.Event().wait(seconds)


def test_silent_garbage_and_refused(loopback: str, within) -> None:
    from drivers.errors import ConnectError
    with make_sim(loopback) as sim:
        drv = driver_for(sim)
        drv.connect()
        sim.set_fault("silent")
        with within(1.5), pytest.raises(DeviceTimeout):
            drv.power_state()
        sim.clear_faults()
        sim.set_fault("garbage")
        with within(0.8), pytest.raises(ProtocolError):
            drv.power_state()
        drv.close()
        sim.clear_faults()
        sim.set_fault("refuse")
        threading_wait(0.15)
        with pytest.raises(ConnectError):
            drv.connect()


def test_selftest_power_and_input(loopback: str) -> None:
    with make_sim(loopback) as sim, driver_for(sim) as drv:
        checks = {c.name: c for c in drv.selftest_checks({"input": "31", "lamp_hours_max": 1000})}
        assert set(checks) == {"display.power", "display.errors", "display.input", "display.lamp"}
        assert checks["display.power"].run().status == CheckStatus.PASS
        assert checks["display.input"].run().status == CheckStatus.PASS
        assert checks["display.lamp"].run().status == CheckStatus.WARN   # 1200 h >= 1000


def test_from_spec(loopback: str) -> None:
    spec = SimSpec(device_id="lhasa.display", driver="pjlink", host=loopback, port=0, password="x",
                   identity={"vendor": "NEC", "model": "P554U", "serial": "S1"},
                   options={"warmup": 0.1, "lamp_hours": 7, "name": "Lhasa-Proj"})
    with PJLinkSimulator.from_spec(spec, None) as sim, driver_for(sim, password="x") as drv:
        assert drv.identify().model == "P554U"
        assert drv.identify().extra["name"] == "Lhasa-Proj"
        assert drv.lamp_hours() == [7]
