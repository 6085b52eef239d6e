"""Every long-running task of the agent is supervised: a fault injected into each loop is logged,
counted, reported to central, and the loop recovers (real link to a real WebSocket server)."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from agent.runtime import Agent, AgentConfig
from agent.scheduler import run_premeeting
from agent.site import SiteSpec
from agent.supervise import TaskHealth, supervise
from contracts.messages import Event
from tests.agent.central_fake import FakeCentral

TOKEN = "site-token-0123456789"


def _agent(tmp_path: Path, central: str, **config: Any) -> Agent:
    values: dict[str, Any] = dict(state_dir=tmp_path, central=central, token=TOKEN, poll_interval=0,
                                  link_backoff_initial=0.05, link_backoff_cap=0.3, heartbeat_interval=0.2)
    values.update(config)
    return Agent(SiteSpec(id="supsite", devices=()), AgentConfig(**values))


def _failing(times: int, real: Any, error: Exception) -> Any:
    """``real`` that raises ``error`` on its first ``times`` calls."""
    left = [times]

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if left[0] > 0:
            left[0] -= 1
            raise error
        return real(*args, **kwargs)
    return wrapper


async def test_link_loop_recovers_from_an_outbox_error(tmp_path, loopback, monkeypatch) -> None:
    central = await FakeCentral(loopback, TOKEN).start()
    agent = _agent(tmp_path, central.url)
    # the sender's read of the outbox fails twice (an sqlite error the link's own retry never caught)
    monkeypatch.setattr(agent.outbox, "pending",
                        _failing(2, agent.outbox.pending, sqlite3.OperationalError("disk I/O error")))
    await agent.start()
    try:
        sent = agent.emit(Event(site="supsite", kind="test"))
        await central.wait_for(lambda: any(m.msg_id == sent for m in central.ingested), timeout=20)
        assert agent.tasks.restarts()["central-link"] == 2
        await central.wait_for(lambda: agent.health()["status"] == "ok", timeout=20)
        # central heard of it: the failures went out as events once the link was back
        def failed_events() -> list[Any]:
            return [m for m in central.of_type("event") if m.kind == "task_failed"]

        await central.wait_for(lambda: len(failed_events()) == 2)
        failed = failed_events()
        assert failed[0].data["task"] == "central-link" and "disk I/O error" in failed[0].data["error"]
    finally:
        await agent.stop()
        await central.stop()


async def test_coordinator_polls_recover_and_the_agent_says_degraded_meanwhile(tmp_path, monkeypatch) -> None:
    agent = _agent(tmp_path, "", poll_interval=0.05)
    gate = asyncio.Event()
    calls = {"n": 0}
    real = agent.poll_all

    async def flaky() -> Any:
        calls["n"] += 1
        if calls["n"] <= 3:
            raise RuntimeError("driver bug")
        await gate.wait()
        return await real()

    monkeypatch.setattr(agent, "poll_all", flaky)
    await agent.start()
    try:
        for _ in range(200):
            if calls["n"] > 3:
                break
            await asyncio.sleep(0.05)
        assert agent.tasks.restarts()["coordinators"] == 3
        health = agent.health()
        assert health["status"] == "degraded" and "driver bug" in health["failing"]["coordinators"]
        gate.set()
        for _ in range(200):
            if agent.health()["status"] == "ok":
                break
            await asyncio.sleep(0.05)
        assert agent.health()["status"] == "ok"
        await agent.outbox.durable()
        assert any(p.type == "status" for p in agent.outbox.pending(limit=1000))
    finally:
        await agent.stop()


async def test_a_failing_scheduled_job_is_counted_and_the_next_one_runs(tmp_path, monkeypatch) -> None:
    agent = _agent(tmp_path, "")
    await agent.start()
    try:
        real = agent.selftest
        monkeypatch.setattr(agent, "selftest", _failing_async(1, real, OSError("no space left")))
        due = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
        await run_premeeting("supsite", "m1", due)           # the job as APScheduler runs it
        assert agent.tasks.restarts()["job:premeeting"] == 1
        assert agent.health()["status"] == "degraded"
        await run_premeeting("supsite", "m2", due)
        assert agent.health()["status"] == "ok"
        kinds = [(p.type, p.body) for p in agent.outbox.pending(limit=100)]
        assert any(t == "event" and "task_failed" in b and "no space left" in b for t, b in kinds)
        assert any(t == "selftest" and "m2" in b for t, b in kinds)
    finally:
        await agent.stop()


def _failing_async(times: int, real: Any, error: Exception) -> Any:
    left = [times]

    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        if left[0] > 0:
            left[0] -= 1
            raise error
        return await real(*args, **kwargs)
    return wrapper


async def test_supervisor_logs_a_repeated_failure_once_with_traceback(
        caplog: pytest.LogCaptureFixture) -> None:
    health = TaskHealth()
    runs = {"n": 0}

    async def loop() -> None:
        runs["n"] += 1
        if runs["n"] <= 3:
            raise ValueError("same thing")

    caplog.set_level(logging.WARNING, logger="contracts.supervise")
    await asyncio.wait_for(supervise("demo", loop, health, initial=0.01, cap=0.02), 5)
    tracebacks = [r for r in caplog.records if r.exc_info]
    assert len(tracebacks) == 1 and health.restarts() == {"demo": 3}
    assert len([r for r in caplog.records if "failed again" in r.getMessage()]) == 2
