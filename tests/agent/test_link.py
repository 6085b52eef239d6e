"""The link to central and the outbox: ordered, acknowledged, survives central outages and kill -9."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from agent.outbox import Outbox
from agent.runtime import Agent, AgentConfig
from agent.site import SiteSpec
from contracts.messages import Event
from tests.agent.central_fake import FakeCentral

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "site-token-0123456789"


def test_outbox_order_and_ack(tmp_path) -> None:
    box = Outbox(tmp_path / "o.sqlite")
    ids = [box.put(Event(site="s", kind="k", data={"n": i})) for i in range(5)]
    assert [p.msg_id for p in box.pending()] == ids
    box.ack(ids[:2])
    assert [p.msg_id for p in box.pending()] == ids[2:]
    box.close()
    again = Outbox(tmp_path / "o.sqlite")
    assert [p.msg_id for p in again.pending()] == ids[2:] and len(again) == 3
    again.close()


def _agent(tmp_path: Path, central: str, token: str = TOKEN) -> Agent:
    return Agent(SiteSpec(id="linksite", devices=()),
                 AgentConfig(state_dir=tmp_path, central=central, token=token, poll_interval=0,
                             link_backoff_initial=0.05, link_backoff_cap=0.3, heartbeat_interval=0.2))


async def test_reports_queue_while_central_is_down_and_arrive_in_order(tmp_path, loopback) -> None:
    central = FakeCentral(loopback, TOKEN)
    await central.start()
    port = central.port
    await central.stop()                       # central is down
    agent = _agent(tmp_path, f"http://{loopback}:{port}")
    await agent.start()
    try:
        sent = [agent.emit(Event(site="linksite", kind="test", data={"n": i})) for i in range(30)]
        await asyncio.sleep(0.3)
        assert len(agent.outbox) == 30 and not agent.link.connected.is_set()
        central = FakeCentral(loopback, TOKEN, port=port)
        await central.start()                  # central is back
        await central.wait_for(lambda: len(central.ingested) == 30)
        assert [m.msg_id for m in central.ingested] == sent
        await central.wait_for(lambda: len(agent.outbox) == 0)
        assert central.hellos >= 1
        # heartbeats flow both ways once connected: clock offset learned from central's frames
        await central.send(Event(site="linksite", kind="noop"))  # unexpected types are ignored
    finally:
        await agent.stop()
        await central.stop()


async def test_wrong_token_is_refused_and_nothing_is_lost(tmp_path, loopback) -> None:
    central = await FakeCentral(loopback, TOKEN).start()
    agent = _agent(tmp_path, central.url, token="Zq9-not-the-token")
    await agent.start()
    try:
        agent.emit(Event(site="linksite", kind="test"))
        await central.wait_for(lambda: central.refused >= 1)
        assert not central.ingested and len(agent.outbox) == 1
        assert "401" in agent.link.last_error
        assert "Zq9" not in repr(agent.link) and "Zq9" not in repr(agent.config)
    finally:
        await agent.stop()
        await central.stop()


def _start(state: Path, central: str, first: int, count: int) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "tests.agent.agent_proc", str(state), central, TOKEN,
                             str(first), str(count)], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)


def _kill(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    if proc.stdout:
        proc.stdout.close()


@pytest.mark.slow
async def test_every_report_arrives_exactly_once_across_kill_9(tmp_path, loopback) -> None:
    probe = await FakeCentral(loopback, TOKEN).start()
    port = probe.port
    await probe.stop()
    url = f"http://{loopback}:{port}"
    # 1. central down: the agent queues 100 reports, then dies hard.
    proc = _start(tmp_path, url, 0, 100)
    line = await asyncio.to_thread(proc.stdout.readline)
    assert line.strip() == "QUEUED"
    _kill(proc)
    # 2. central up but not acknowledging yet: a new agent process sends the backlog and queues
    #    100 more; it dies hard with 50 delivered (its window) and none acknowledged.
    central = await FakeCentral(loopback, TOKEN, port=port).start()
    central.hold_acks = True
    try:
        proc = _start(tmp_path, url, 100, 100)
        line = await asyncio.to_thread(proc.stdout.readline)
        assert line.strip() == "QUEUED"
        await central.wait_for(lambda: len(central.ingested) >= 50, timeout=30)
        _kill(proc)
        # 3. restarted once more, central acknowledging again: everything is delivered, and what
        #    arrived twice on the wire is ingested once.
        central.hold_acks = False
        proc = _start(tmp_path, url, 0, 0)
        await central.wait_for(lambda: len(central.ingested) >= 200, timeout=30)
        await asyncio.sleep(0.3)
        _kill(proc)
        ids = [m.msg_id for m in central.ingested]
        assert ids == [f"evt-{i:04d}" for i in range(200)]   # all, once, in order
        assert central.wire_duplicates >= 50                  # unacknowledged ones were resent
        left = Outbox(tmp_path / "outbox.sqlite")
        assert len(left) == 0
        left.close()
    finally:
        await central.stop()


async def test_rejected_message_is_deleted_only_when_central_kept_it(tmp_path, loopback) -> None:
    central = await FakeCentral(loopback, TOKEN).start()
    central.reject = {"kept-1": ("invalid", True), "lost-1": ("invalid", False)}
    agent = _agent(tmp_path, central.url)
    await agent.start()
    try:
        for msg_id in ("kept-1", "lost-1", "fine-1"):
            agent.emit(Event(msg_id=msg_id, site="linksite", kind="test"))
        await central.wait_for(lambda: len(agent.outbox) == 0)
        assert [m.msg_id for m in central.ingested] == ["fine-1"]
        # central did not keep "lost-1": it stays on the agent, parked with the reason, not resent
        assert [(p.msg_id, p.reason) for p in agent.outbox.parked()] == [("lost-1", "invalid")]
        await agent.outbox.durable()
    finally:
        await agent.stop()
        await central.stop()
    again = Outbox(tmp_path / "outbox.sqlite")
    assert len(again) == 0 and [p.msg_id for p in again.parked()] == ["lost-1"]
    again.close()


async def test_offline_outbox_keeps_the_newest_status_per_device_and_every_event(tmp_path) -> None:
    from contracts.messages import DeviceStatus, Status

    box = Outbox(tmp_path / "o.sqlite")

    def status(n: int, *devices: str) -> Status:
        return Status(msg_id=f"st-{n}", site="s", devices=[DeviceStatus(id=d, up=n % 2 == 0)
                                                            for d in devices])

    box.put(status(1, "s.codec", "s.display"))
    box.put(Event(msg_id="ev-1", site="s", kind="device_down", device="s.codec"))
    box.put(status(2, "s.codec"))                  # covers only part of st-1: both stay
    box.put(status(3, "s.codec", "s.display"))     # covers st-1 and st-2: they go
    box.mark_sent(["st-3"])                        # handed to a link: no longer replaced
    box.put(status(4, "s.codec", "s.display"))
    box.put(Event(msg_id="ev-2", site="s", kind="device_up", device="s.codec"))
    assert [p.msg_id for p in box.pending()] == ["ev-1", "st-3", "st-4", "ev-2"]
    assert box.replaced == 2
    box.close()
    again = Outbox(tmp_path / "o.sqlite")         # and so on disk
    assert [p.msg_id for p in again.pending()] == ["ev-1", "st-3", "st-4", "ev-2"]
    again.put(status(5, "s.codec", "s.display"))   # after a restart nothing counts as sent: st-3, st-4 go
    assert [p.msg_id for p in again.pending()] == ["ev-1", "ev-2", "st-5"]
    again.close()


async def test_incompatible_version_close_waits_the_longest_and_says_why(tmp_path, loopback) -> None:
    from contracts.messages import CLOSE_INCOMPATIBLE

    central = await FakeCentral(loopback, TOKEN).start()
    central.close_on_hello = (CLOSE_INCOMPATIBLE, "schema version 1 is not supported")
    agent = Agent(SiteSpec(id="linksite", devices=()),
                  AgentConfig(state_dir=tmp_path, central=central.url, token=TOKEN, poll_interval=0,
                              link_backoff_initial=0.05, link_backoff_cap=30, heartbeat_interval=0.2))
    await agent.start()
    try:
        agent.emit(Event(site="linksite", kind="test"))
        await central.wait_for(lambda: central.hellos >= 1 and "4010" in agent.link.last_error)
        assert "not supported" in agent.link.last_error
        await asyncio.sleep(1.0)
        assert central.hellos == 1          # no retry after 0.05 s, 0.1 s ...: the backoff is at its cap
        assert len(agent.outbox) == 1       # and nothing was lost
    finally:
        await agent.stop()
        await central.stop()


def test_a_report_over_the_frame_limit_is_parked_not_sent(tmp_path) -> None:
    from contracts.messages import CheckResult, SelftestReport, utcnow

    box = Outbox(tmp_path / "o.sqlite")
    checks = [CheckResult(device="s.codec", name=f"c{i}", status="pass", evidence=["x" * 8000] * 20)
              for i in range(10)]                  # 1.6 MB of transcripts: over the 1 MiB limit
    huge = SelftestReport(site="s", trigger="on_demand", started_at=utcnow(), finished_at=utcnow(),
                          verdict="ready", checks=checks)
    box.put(huge)
    box.put(Event(site="s", kind="test"))
    assert [p.type for p in box.pending()] == ["event"]
    [parked] = box.parked()
    assert parked.msg_id == huge.msg_id and "limit" in parked.reason
    box.close()
