"""Scheduled jobs: pre-meeting self-tests run without central, persist across restarts, run late."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from agent.runtime import Agent, AgentConfig
from agent.scheduler import next_inspection
from contracts.messages import Command, MeetingSchedule, Schedule, SelftestReport, parse_message
from tests.agent.central_fake import FakeCentral
from tests.agent.conftest import SITE, SimSite

TOKEN = "tok-schedule-test"


def meeting(mid: str, start_in: float) -> MeetingSchedule:
    start = datetime.now(UTC) + timedelta(seconds=start_in)
    return MeetingSchedule(id=mid, title="t", start=start, end=start + timedelta(hours=1), host_site=SITE,
                           sites=[SITE], mode="bridge", bridge_uri="meet@bridge.example")


def config(tmp_path, central: str = "", **kw) -> AgentConfig:
    base = dict(state_dir=tmp_path, central=central, token=TOKEN, poll_interval=0, premeeting_lead=2.0,
                late_after=0.5, link_backoff_initial=0.05, link_backoff_cap=0.3, heartbeat_interval=0.5)
    base.update(kw)
    return AgentConfig(**base)


def queued_reports(agent: Agent) -> list[SelftestReport]:
    return [m for m in (parse_message(p.body) for p in agent.outbox.pending(limit=10_000))
            if isinstance(m, SelftestReport)]


async def until(predicate, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def test_premeeting_selftest_runs_while_central_is_down(sim_site: SimSite, tmp_path, loopback) -> None:
    central = await FakeCentral(loopback, TOKEN).start()
    port = central.port
    agent = Agent(sim_site.spec, config(tmp_path, central.url))
    await agent.start()
    try:
        await central.wait_for(lambda: len(central.connections) == 1)
        sched = Schedule(site=SITE, meetings=[meeting("m1", 3.0)])   # test due in about 1 s
        await central.send(sched)
        await central.wait_for(lambda: sched.msg_id in central.acks_from_agent)
        await central.stop()                                         # central goes away
        await until(lambda: agent.last_selftest is not None, timeout=10)
        report = agent.last_selftest
        assert report.trigger == "pre_meeting" and report.meeting_id == "m1" and not report.late
        assert report.verdict == "ready", [(c.device, c.name, c.reason) for c in report.checks
                                           if c.status != "pass"]
        central = await FakeCentral(loopback, TOKEN, port=port).start()   # central is back
        await central.wait_for(lambda: central.of_type("selftest"), timeout=10)
        got = central.of_type("selftest")[0]
        assert got.run_id == report.run_id and got.meeting_id == "m1"
    finally:
        await agent.stop()
        await central.stop()


async def test_job_missed_while_down_runs_on_start_and_is_late(sim_site: SimSite, tmp_path) -> None:
    first = Agent(sim_site.spec, config(tmp_path))
    await first.start()
    await first.on_schedule(Schedule(site=SITE, meetings=[meeting("m2", 4.0)]))   # due in about 2 s
    assert any(job == "premeeting:m2" for job, _ in first.scheduler.jobs())
    await first.stop()                                           # the agent is down at that time
    await asyncio.sleep(2.8)
    second = Agent(sim_site.spec, config(tmp_path))
    await second.start()                                         # back before the meeting starts
    try:
        await until(lambda: second.last_selftest is not None, timeout=10)
        report = second.last_selftest
        assert report.meeting_id == "m2" and report.late is True
        kinds = [parse_message(p.body) for p in second.outbox.pending(limit=1000)]
        assert any(getattr(m, "kind", "") == "job_late" for m in kinds)
    finally:
        await second.stop()


async def test_schedule_replaces_meetings(sim_site: SimSite, tmp_path) -> None:
    agent = Agent(sim_site.spec, config(tmp_path, premeeting_lead=1800))
    await agent.start()
    try:
        await agent.on_schedule(Schedule(site=SITE, meetings=[meeting("a", 7200), meeting("b", 9000)]))
        await agent.on_schedule(Schedule(site=SITE, meetings=[meeting("b", 9000), meeting("old", -60)]))
        jobs = {job: at for job, at in agent.scheduler.jobs()}
        assert "premeeting:b" in jobs and "premeeting:a" not in jobs and "premeeting:old" not in jobs
        assert "inspection" in jobs
    finally:
        await agent.stop()


def test_next_inspection_is_monthly_in_site_time() -> None:
    now = datetime(2025, 12, 20, 0, 0, tzinfo=UTC)
    due = next_inspection(now, "Asia/Urumqi", day=1, hour=3)
    assert due == datetime(2025, 12, 31, 21, 0, tzinfo=UTC)       # 1 Jan 03:00 at UTC+6
    assert next_inspection(datetime(2025, 3, 1, 0, 0, tzinfo=UTC), "Asia/Shanghai", 1, 3) == \
        datetime(2025, 3, 31, 19, 0, tzinfo=UTC)


async def test_inspection_reports_inventory_and_drift(sim_site: SimSite, tmp_path) -> None:
    from dataclasses import replace

    codec = sim_site.spec.device("codec")
    spec = sim_site.spec.replace_device(replace(codec, desired={"volume": "50", "sip.status": "Registered"}))
    agent = Agent(spec, config(tmp_path))
    await agent.start()
    try:
        report = await agent.inspection()
        assert report.trigger == "inspection"
        assert {i.identity["serial"] for i in report.inventory} >= {"COD-1", "SW-1"}
        assert report.drift == [{"device": f"{SITE}.codec", "key": "volume", "desired": "50", "actual": None}]
    finally:
        await agent.stop()


async def test_command_over_the_link(sim_site: SimSite, tmp_path, loopback) -> None:
    central = await FakeCentral(loopback, TOKEN).start()
    agent = Agent(sim_site.spec, config(tmp_path, central.url))
    await agent.start()
    try:
        await central.wait_for(lambda: len(central.connections) == 1)
        cmd = Command(site=SITE, kind="selftest", deadline=datetime.now(UTC) + timedelta(seconds=30))
        await central.send(cmd)
        await central.send(cmd)                                       # a repeat runs nothing new
        await central.wait_for(lambda: [r for r in central.of_type("command_result")
                                        if r.state == "succeeded"], timeout=15)
        await asyncio.sleep(0.3)
        done = [r for r in central.of_type("command_result") if r.command_id == cmd.command_id]
        assert [r.state for r in done].count("succeeded") >= 1
        assert len(central.of_type("selftest")) == 1
        assert central.of_type("selftest")[0].command_id == cmd.command_id
    finally:
        await agent.stop()
        await central.stop()
