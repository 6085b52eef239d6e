"""Extron SIS: the simulators against the literal exchanges of the protocol notes, and every
switcher and recorder operation over real Telnet and a real pty."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest

from drivers.errors import AuthError, CommandRejected, DeviceTimeout, ProtocolError
from drivers.extron_sis import ExtronRecorderDriver, ExtronSwitcherDriver
from drivers.roles import CheckStatus, Endpoint, Recorder, Switcher, Verdict
from simulators.extron_sis import ExtronRecorderSimulator, ExtronSwitcherSimulator
from simulators.spec import SimSpec


def switcher(host: str, **kw: object) -> ExtronSwitcherSimulator:
    return ExtronSwitcherSimulator(host=host, port=0, **kw)  # type: ignore[arg-type]


def telnet_endpoint(sim: ExtronSwitcherSimulator | ExtronRecorderSimulator, password: str = "",
                    **options: object) -> Endpoint:
    fast = {"password_prompt_wait": 0.3, "reconnect_interval": 0.05}
    return Endpoint(transport="telnet", host=sim.host, port=sim.tcp_port, password=password, timeout=1.0,
                    boot_time=3.0, options={**fast, **options})


class Raw:
    def __init__(self, sim: ExtronSwitcherSimulator | ExtronRecorderSimulator) -> None:
        self.sock = socket.create_connection((sim.host, sim.tcp_port), timeout=2)
        self.buf = b""

    def until(self, end: bytes) -> bytes:
        while end not in self.buf:
            chunk = self.sock.recv(1024)
            if not chunk:
                raise ConnectionError(f"closed; got {self.buf!r}")
            self.buf += chunk
        out, _, self.buf = self.buf.partition(end)
        return out + end

    def ask(self, data: bytes) -> bytes:
        self.sock.sendall(data)
        return self.until(b"\r\n")

    def close(self) -> None:
        self.sock.close()


# -- golden exchanges (protocols.md §4) --------------------------------------------------------------
def test_golden_switcher_exchanges(loopback: str, no_leaks: None) -> None:
    with switcher(loopback, model="DXP 88 HDMI", firmware="1.13") as sim:
        raw = Raw(sim)
        try:
            copyright_line = rb"\(c\) Copyright \d{4}, Extron Electronics, DXP 88 HDMI, V1\.13, 60-882-01\r\n"
            assert re.fullmatch(copyright_line, raw.until(b"\r\n"))
            assert re.fullmatch(rb"\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d\r\n", raw.until(b"\r\n"))
            assert raw.ask(b"1*2!") == b"Out2 In1 All\r\n"
            assert raw.ask(b"\x1b+Q1*2!1*3!1*4!\r") == b"Qik\r\n"
            assert raw.ask(b"99*1!") == b"E01\r\n"
            assert raw.ask(b"\x1b3CV\r") == b"Vrb3\r\n"
            assert raw.ask(b"I") == b"V8X8 A8X8\r\n"
            assert raw.ask(b"2*5%") == b"Out5 In2 Vid\r\n"
            assert raw.ask(b"3*5$") == b"Out5 In3 Aud\r\n"
            assert raw.ask(b"1*9!") == b"E12\r\n"
            assert raw.ask(b"7.") == b"E11\r\n"
            assert raw.ask(b"\x1b1BOOT\r") == b"Boot1\r\n"
        finally:
            raw.close()


def test_golden_password_login(loopback: str) -> None:
    with switcher(loopback, password="adm", user_password="usr") as sim:
        raw = Raw(sim)
        try:
            raw.until(b"\r\n")
            raw.until(b"\r\n")
            assert raw.until(b"Password:") == b"\r\nPassword:"
            raw.sock.sendall(b"wrong\r")
            assert raw.until(b"Password:") == b"\r\nPassword:"
            raw.sock.sendall(b"usr\r")
            assert raw.until(b"Login User\r\n") == b"\r\nLogin User\r\n"
            assert raw.ask(b"\x1bnewnameCN\r") == b"E24\r\n"   # a user may not rename the unit
        finally:
            raw.close()


# -- switcher driver ---------------------------------------------------------------------------------
def test_switcher_operations_over_telnet(loopback: str, no_leaks: None) -> None:
    with switcher(loopback, inputs=4, outputs=6) as sim, ExtronSwitcherDriver(telnet_endpoint(sim)) as sw:
        assert isinstance(sw, Switcher)
        assert sw.size() == (4, 6)
        sw.route(2, 1)
        sw.route(3, 2, plane="video")
        sw.route(4, 2, plane="audio")
        sw.route(1, 3, plane="rgb")
        assert sw.routes() == {1: 2, 2: 3, 3: 1, 4: 0, 5: 0, 6: 0}
        assert sw.audio_routes() == {1: 2, 2: 4, 3: 0, 4: 0, 5: 0, 6: 0}
        sw.route_to_all(4)
        assert set(sim.video.values()) == {4}
        sw.quick_ties({1: 1, 2: 2, 3: 3})
        assert sw.routes() == {1: 1, 2: 2, 3: 3, 4: 4, 5: 4, 6: 4}
        sw.preset_save(5)
        sw.route(1, 1)
        sw.route(1, 2)
        sw.preset_recall(5)
        assert sw.routes()[2] == 2
        with pytest.raises(CommandRejected) as info:
            sw.preset_recall(6)
        assert info.value.code == "E11" and "preset" in info.value.text
        with pytest.raises(CommandRejected) as info:
            sw.route(9, 1)
        assert info.value.code == "E01" and info.value.text == "invalid input number"
        with pytest.raises(CommandRejected) as info:
            sw.route(1, 7)
        assert info.value.code == "E12"
        sw.video_mute(2, True)
        assert sw.video_muted(2) and sim.video_mute[2] == 1
        sw.video_mute(2, False)
        sw.audio_mute(3, True)
        assert sim.audio_mute[3] == 1
        ident = sw.identify()
        assert (ident.vendor, ident.model, ident.firmware) == ("Extron", "DXP 88 HDMI", "1.13.0001")
        assert ident.extra["part"] == "60-882-01"
        health = sw.health()
        assert health.verdict == Verdict.OK and health.details["outputs"] == 6


def test_switcher_config_and_selftest(loopback: str) -> None:
    with switcher(loopback) as sim, ExtronSwitcherDriver(telnet_endpoint(sim)) as sw:
        report = sw.apply_config({"routes": {1: 3, 2: 4}, "name": "Urumqi-Matrix"})
        assert report.changed and report.verified
        assert sim.video[1] == 3 and sim.audio[2] == 4 and sim.device_name == "Urumqi-Matrix"
        config = sw.read_config()
        assert config["name"] == "Urumqi-Matrix" and config["routes"][1] == 3
        assert not sw.apply_config({"routes": {1: 3}}).changed
        checks = {c.name: c for c in sw.selftest_checks({"routes": {1: 3, 2: 4}})}
        assert checks["switcher.alive"].run().status == CheckStatus.PASS
        assert checks["switcher.routes"].run().status == CheckStatus.PASS
        sim.front_panel_tie(5, 2)
        outcome = checks["switcher.routes"].run()
        assert outcome.status == CheckStatus.FAIL and "out 2: in 5" in outcome.reason


def test_unsolicited_messages_are_never_replies(loopback: str) -> None:
    with switcher(loopback) as sim, ExtronSwitcherDriver(telnet_endpoint(sim)) as sw:
        sw.preset_save(3)
        sim.front_panel_preset(3)          # Rpr03 arrives unasked
        sim.front_panel_tie(2, 8)          # Qik arrives unasked
        sw.quick_ties({1: 6})              # its own Qik is the one it waits for
        assert sw.tie_view(8) == 2
        sw.route(1, 1)
        assert sw.events[:2] == ["Rpr03", "Qik"]


def test_switcher_over_serial_and_from_spec(no_leaks: None) -> None:
    spec = SimSpec(device_id="kunming.switcher", driver="extron-sis-switcher", transport="serial",
                   options={"inputs": 8, "outputs": 4}, identity={"model": "XTP II CrossPoint 1600"})
    with ExtronSwitcherSimulator.from_spec(spec, None) as sim:
        ep = Endpoint(transport="serial", serial_url=sim.serial_path, timeout=1.0)
        with ExtronSwitcherDriver(ep) as sw:
            sw.route(7, 4)
            assert sw.routes() == {1: 0, 2: 0, 3: 0, 4: 7}
            assert sw.identify().extra["part"] == "60-882-01"


def test_login_passwords(loopback: str) -> None:
    with switcher(loopback, password="adm", user_password="usr") as sim:
        with ExtronSwitcherDriver(telnet_endpoint(sim, password="adm")) as sw:
            assert sw.identify().extra["login"] == "Administrator"
            assert "adm" not in sw.transcript.render().replace("Administrator", "")
        with ExtronSwitcherDriver(telnet_endpoint(sim, password="usr")) as sw:
            assert sw.session.login_level == "User"
            with pytest.raises(CommandRejected) as info:
                sw.set_device_name("x")
            assert info.value.code == "E24" and "privilege" in info.value.text
        with pytest.raises(AuthError):
            ExtronSwitcherDriver(telnet_endpoint(sim, password="nope")).connect()
        with pytest.raises(AuthError):
            ExtronSwitcherDriver(telnet_endpoint(sim)).connect()
        sim.set_fault("bad-password")
        with pytest.raises(AuthError):
            ExtronSwitcherDriver(telnet_endpoint(sim, password="adm")).connect()


def test_password_configured_but_unit_has_none(loopback: str) -> None:
    with switcher(loopback) as sim, ExtronSwitcherDriver(telnet_endpoint(sim, password="x")) as sw:
        assert sw.size() == (8, 8)


def test_reboot_and_faults(loopback: str, within) -> None:
    with switcher(loopback, boot_time=0.3) as sim:
        sw = ExtronSwitcherDriver(telnet_endpoint(sim))
        sw.connect()
        sw.route(3, 3)
        away = sw.reboot(wait=True, timeout=3.0)
        assert away is not None and away >= 0.3 and sim.boot_count == 1
        assert sw.tie_view(3) == 3       # ties survive a reboot
        sim.set_fault("silent")
        with within(1.5), pytest.raises(DeviceTimeout):
            sw.route(1, 1)
        sim.clear_faults()
        sim.set_fault("garbage")
        with within(1.5), pytest.raises(ProtocolError):
            sw.route(1, 1)
        sw.close()


# -- recorder ------------------------------------------------------------------------------------------
def test_recorder_writes_a_file_per_recording(loopback: str, tmp_path: Path, no_leaks: None) -> None:
    with ExtronRecorderSimulator(host=loopback, port=0, recordings_dir=str(tmp_path)) as sim, \
            ExtronRecorderDriver(telnet_endpoint(sim)) as rec:
        assert isinstance(rec, Recorder)
        assert rec.record_status()["state"] == "stopped"
        rec.record_start()
        status = rec.record_status()
        assert status["state"] == "recording" and status["file"].endswith(".m4v")
        assert (tmp_path / Path(status["file"]).name).read_bytes().startswith(b"ROOMOPS-SIMULATED-RECORDING")
        sim._elapsed_banked = 75.0
        assert rec.record_status()["elapsed"] >= 75
        rec.record_pause()
        assert rec.record_state() == "paused"
        rec.record_start()
        rec.record_stop()
        status = rec.record_status()
        assert status == {**status, "state": "stopped", "elapsed": 0, "file": ""}
        rec.record_start()
        rec.record_stop()
        assert len(list(tmp_path.glob("*.m4v"))) == 2
        assert rec.record_status()["last_file"].endswith("_002.m4v")
        with pytest.raises(CommandRejected) as info:
            rec.record_pause()           # nothing to pause
        assert info.value.code == "E13"
        ident = rec.identify()
        assert (ident.model, ident.extra["part"]) == ("SMP 351", "60-1324-01")
        assert rec.health().verdict == Verdict.OK
        assert rec.selftest_checks({})[0].run().status == CheckStatus.PASS
        assert rec.selftest_checks({"min_free_kb": 10**12})[0].run().status == CheckStatus.FAIL


def test_recorder_faults_and_front_panel(loopback: str, within) -> None:
    spec = SimSpec(device_id="shanghai.recorder", driver="extron-smp-recorder", host=loopback, port=0)
    with ExtronRecorderSimulator.from_spec(spec, None) as sim, \
            ExtronRecorderDriver(telnet_endpoint(sim)) as rec:
        sim.set_fault("storage-missing")
        with within(1.0), pytest.raises(CommandRejected) as info:
            rec.record_start()
        assert info.value.code == "E25" and info.value.text == "device not present"
        sim.clear_faults()
        sim.front_panel_record(1)       # RcdrY1 unasked: must not answer our stop
        rec.record_stop()
        assert sim.state == 0 and "RcdrY1" in rec.events
        recordings = Path(sim.recordings_dir)
    assert not recordings.exists()      # the temp folder goes with the simulator
