"""The agent against a shipped site served by the real simulators over real transports.

The urumqi profile (Cisco codec over SSH, VISCA cameras on a pty and over UDP, Extron switcher
over Telnet, two PJLink displays, a Cisco IOS router over SSH through netmiko, an APC PDU over
SSH) is copied onto a private 127.251/127.252 range (``tests.agent.real_sites``), so these tests
never collide with a demo on the machine. No stand-in devices: every check talks to a simulator
written independently of its driver.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from agent.actions import reboot
from agent.runtime import Agent
from contracts.messages import CheckResult, SelftestReport
from tests.agent.real_sites import SiteCopy, agent_for, make_test_site, served

pytestmark = pytest.mark.timeout(120)

SITE = "urumqi"
DEVICES = {"codec", "camera1", "camera2", "switcher", "display1", "display2", "router", "pdu"}
#: site checks that need central (uplink measured against it, its clock) or an NTP server: the
#: shipped demo sites name neither, so without central they are skipped with that reason
SITE_CHECKS_WITHOUT_CENTRAL = {"site.uplink", "site.time"}


def run_selftest(ts: SiteCopy, state: Path, **kw: Any) -> SelftestReport:
    async def go() -> SelftestReport:
        agent = agent_for(ts.load(), state)
        try:
            return await agent.runner().run(**kw)
        finally:
            await agent.stop()

    return asyncio.run(go())


def by_device(report: SelftestReport) -> dict[str, list[CheckResult]]:
    out: dict[str, list[CheckResult]] = {}
    for check in report.checks:
        out.setdefault(check.device.removeprefix(f"{SITE}."), []).append(check)
    return out


def not_passed(checks: Sequence[CheckResult]) -> list[str]:
    return [f"{c.device} {c.name}: {c.status} {c.reason}" for c in checks if c.status != "pass"]


@pytest.fixture
def site_copy(tmp_path: Path) -> SiteCopy:
    return make_test_site(tmp_path)


# -- a healthy room ---------------------------------------------------------------------------------
def test_full_selftest_of_a_simulated_site_is_ready(site_copy: SiteCopy, tmp_path: Path) -> None:
    with served(site_copy.load()) as sim:
        assert not sim.skipped, sim.skipped
        report = run_selftest(site_copy, tmp_path / "state")
    checks = by_device(report)
    assert set(checks) == DEVICES | {SITE}
    for device in DEVICES:
        assert not_passed(checks[device]) == [], device
        assert any(c.name == "reachable" for c in checks[device])
    assert {c.name for c in checks[SITE]} == SITE_CHECKS_WITHOUT_CENTRAL
    assert all(c.status == "skip" and c.reason for c in checks[SITE])
    assert report.verdict == "ready"
    names = {f"{c.device.removeprefix(SITE + '.')}:{c.name}" for c in report.checks}
    # the checks that need the rest of the world really ran: a test call through the bridge,
    # the router's ping to head office, the display input the profile wants
    assert {"codec:codec.test_call", "codec:codec.registered", "router:router.ping.target",
            "display1:display.input", "pdu:pdu.identity"} <= names
    call = next(c for c in report.checks if c.name == "codec.test_call")
    assert call.reason.startswith("connected at 1920 kbps"), call
    serials = {i.id: i.identity.get("serial") for i in report.inventory}
    assert serials[f"{SITE}.codec"] == "FOC2220N1A1"
    assert serials[f"{SITE}.pdu"] == "ZA1920001"


# -- one broken device -----------------------------------------------------------------------------
FAULTS = [
    # (device, knob, extra profile lines for that device, words expected in the reason)
    pytest.param("codec", "refuse", [], "refused", id="codec-ssh-refuse"),
    pytest.param("codec", "bad-password", [], "auth_failed", id="codec-ssh-bad-password"),
    pytest.param("pdu", "bad-password", [], "auth_failed", id="pdu-ssh-bad-password"),
    pytest.param("switcher", "silent", [], "timeout", id="switcher-telnet-silent"),
    # junk is a protocol error at once, not a timeout after skipping it
    pytest.param("display1", "garbage", [], "protocol_error", id="pjlink-tcp-garbage"),
    pytest.param("camera1", "garbage", [], "protocol_error", id="visca-serial-garbage"),
    pytest.param("camera2", "garbage", [], "protocol_error", id="visca-udp-garbage"),
    pytest.param("switcher", "garbage", [], "protocol_error", id="extron-telnet-garbage"),
    pytest.param("router", "drop", [], "", id="router-ssh-drop"),
    pytest.param("camera2", "silent", [], "timeout", id="visca-udp-silent"),  # UDP has no link to drop
    pytest.param("display2", "slow=2", ["timeout: 0.5"], "timeout", id="pjlink-slow-beyond-deadline"),
    pytest.param("switcher", "slow=2", ["timeout: 0.5"], "timeout", id="telnet-slow-beyond-deadline"),
]


@pytest.mark.parametrize(("device", "knob", "lines", "words"), FAULTS)
def test_a_fault_fails_that_device_only(tmp_path: Path, device: str, knob: str, lines: list[str],
                                         words: str) -> None:
    ts = make_test_site(tmp_path, devices={device: lines} if lines else None)
    with served(ts.load(), faults={f"{SITE}.{device}": [knob]}):
        report = run_selftest(ts, tmp_path / "state")
    checks = by_device(report)
    failed = [c for c in checks[device] if c.status == "fail"]
    assert failed, checks[device]
    for check in failed:
        assert check.reason and words in check.reason, check
        assert check.evidence, check                  # what went over the wire, or the error
    # the device's later checks are skipped with the reason, not run against a dead unit
    assert all(c.status in ("fail", "skip") for c in checks[device])
    for other in DEVICES - {device}:
        assert not_passed(checks[other]) == [], other
    critical = device in ("codec", "switcher", "display1", "display2")
    assert report.verdict == ("not_ready" if critical else "degraded")


def test_slow_replies_within_the_deadline_still_pass(tmp_path: Path) -> None:
    """The knob really slows the device: a delay under the deadline is no failure (else the
    slow cases above could pass for the wrong reason)."""
    ts = make_test_site(tmp_path, devices={"switcher": ["timeout: 2"]})
    with served(ts.load(), faults={f"{SITE}.switcher": ["slow=0.2"]}):
        report = run_selftest(ts, tmp_path / "state", devices=[f"{SITE}.switcher"])
    checks = by_device(report)["switcher"]
    assert not_passed(checks) == []
    reach = next(c for c in checks if c.name == "reachable")
    assert reach.duration_ms >= 200


def test_passwords_never_reach_the_report(tmp_path: Path) -> None:
    ts = make_test_site(tmp_path)
    site = ts.load()
    secrets = [d.password() for d in site.devices if d.password()]
    assert secrets
    with served(site, faults={f"{SITE}.codec": ["bad-password"], f"{SITE}.pdu": ["drop"]}):
        report = run_selftest(ts, tmp_path / "state")
    text = report.model_dump_json()
    assert "evidence" in text
    for secret in secrets:
        assert secret not in text


# -- reboot with the PDU fallback ------------------------------------------------------------------
@pytest.fixture
def quick_reboot_site(tmp_path: Path) -> SiteCopy:
    # short waits: the codec may ignore the command for 1 s, its outlet stays off 0.3 s
    return make_test_site(tmp_path, devices={"codec": [
        "options: {reboot_drop_timeout: 1, reboot_ack_seconds: 1, power_off_seconds: 0.3}"]})


def _reboot(ts: SiteCopy, state: Path, device: str) -> tuple[dict[str, Any], Agent]:
    async def go() -> tuple[dict[str, Any], Agent]:
        agent = agent_for(ts.load(), state)
        try:
            result = await reboot(agent, f"{SITE}.{device}")
            ident = await agent.session(f"{SITE}.{device}").call(lambda d: d.identify(), 10.0)
            result["serial_after"] = ident.serial
            return result, agent
        finally:
            await agent.stop()

    return asyncio.run(go())


def test_ignored_reboot_falls_back_to_the_pdu_outlet(quick_reboot_site: SiteCopy, tmp_path: Path) -> None:
    with served(quick_reboot_site.load(), faults={f"{SITE}.codec": ["ignore-reboot"]}) as sim:
        codec, pdu = sim.simulators[f"{SITE}.codec"], sim.simulators[f"{SITE}.pdu"]
        result, _ = _reboot(quick_reboot_site, tmp_path / "state", "codec")
        commands = list(pdu.commands)
        assert codec.powered
    assert result["method"] == "power_cycle" and result["fallback"] is True
    assert result["pdu"] == f"{SITE}.pdu" and result["outlet"] == 1
    assert "ignored the reboot" in result["reason"]
    assert result["serial_after"] == "FOC2220N1A1"            # the codec answers again
    assert any("olOff" in c and "1" in c for c in commands), commands
    assert any("olOn" in c and "1" in c for c in commands), commands


def test_a_reboot_the_codec_obeys_needs_no_pdu(quick_reboot_site: SiteCopy, tmp_path: Path) -> None:
    with served(quick_reboot_site.load()) as sim:
        pdu = sim.simulators[f"{SITE}.pdu"]
        result, _ = _reboot(quick_reboot_site, tmp_path / "state", "codec")
        commands = list(pdu.commands)
    assert result["method"] == "reboot"
    assert result["serial_after"] == "FOC2220N1A1"
    assert not any(c.startswith(("olOff", "olReboot")) for c in commands), commands


@pytest.fixture(autouse=True)
def _no_thread_left() -> Iterator[None]:
    import threading

    before = {t.ident for t in threading.enumerate()}
    yield
    left = [t for t in threading.enumerate() if t.ident not in before and t.is_alive()]
    for t in left:
        t.join(2.0)
    assert [t.name for t in left if t.is_alive()] == []
