"""An inspection asked for by central (a ``selftest`` command with the ``inspection`` trigger) is the
whole monthly inspection, configuration drift included; every self-test hands its uplink figures
to central (the annual report's uplink section)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from agent.runtime import Agent, AgentConfig
from agent.selftest import UPLINK_CHECK, uplink_of
from contracts.messages import CheckResult, Command
from tests.agent.central_fake import FakeCentral
from tests.agent.conftest import SITE, SimSite

TOKEN = "tok-inspection-command"


def config(tmp_path, central: str) -> AgentConfig:
    return AgentConfig(state_dir=tmp_path, central=central, token=TOKEN, poll_interval=0,
                       link_backoff_initial=0.05, link_backoff_cap=0.3, heartbeat_interval=0.5)


async def test_inspection_command_runs_the_inspection_with_drift(sim_site: SimSite, tmp_path,
                                                                 loopback) -> None:
    codec = sim_site.spec.device("codec")
    spec = sim_site.spec.replace_device(replace(codec, desired={"volume": "50"}))
    central = await FakeCentral(loopback, TOKEN).start()
    agent = Agent(spec, config(tmp_path, central.url))
    await agent.start()
    try:
        await central.wait_for(lambda: len(central.connections) == 1)
        args = {"trigger": "inspection", "run_id": "run-from-central"}
        cmd = Command(site=SITE, kind="selftest", args=args,
                      deadline=datetime.now(UTC) + timedelta(seconds=30))
        await central.send(cmd)
        await central.wait_for(lambda: central.of_type("selftest"), timeout=20)
        [report] = central.of_type("selftest")
        assert report.trigger == "inspection" and report.command_id == cmd.command_id
        assert report.run_id == "run-from-central"
        assert report.drift == [{"device": f"{SITE}.codec", "key": "volume", "desired": "50", "actual": None}]
        assert {i.identity["serial"] for i in report.inventory} >= {"COD-1", "SW-1"}
        await central.wait_for(lambda: [r for r in central.of_type("command_result")
                                        if r.command_id == cmd.command_id and r.state == "succeeded"])
    finally:
        await agent.stop()
        await central.stop()


def uplink_result(status: str, measured: dict[str, object]) -> CheckResult:
    return CheckResult(device=SITE, name=UPLINK_CHECK, status=status, measured=measured)  # type: ignore[arg-type]


def test_uplink_figures_of_a_run() -> None:
    measured = {"up_mbps": 3.5, "down_mbps": 40.0, "rtt_ms": 12.0, "loss": 0.0, "probes": 5,
                "minimum_mbps": 6.0}
    other = CheckResult(device=f"{SITE}.codec", name="codec.registered", status="pass",
                        measured={"up_mbps": 1})
    # below the site's minimum is still a measurement central keeps
    assert uplink_of([other, uplink_result("fail", measured)]) == {
        "up_mbps": 3.5, "down_mbps": 40.0, "rtt_ms": 12.0, "loss": 0.0}
    assert uplink_of([uplink_result("fail", {})]) is None            # the measurement failed
    assert uplink_of([uplink_result("skip", {})]) is None            # no probe on this agent
    assert uplink_of([other]) is None
