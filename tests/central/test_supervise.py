"""Central's long-running tasks are supervised: a fault injected into the sweeper or hub delivery
is counted in /metrics, /healthz says degraded meanwhile, and each loop
recovers (real uvicorn, real SQLite). The dashboard feed has no loop of its own any more: it is
driven by the change bus of committed units."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

import central.hub.delivery
import central.sweeper
from central.db import make_session_factory, transaction
from central.services import commands
from tests.central.helpers import FakeAgent, RunningServer, Seeded, wait_for


def _failing(times: int, real: Any, error: Exception) -> Any:
    left = [times]

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if left[0] > 0:
            left[0] -= 1
            raise error
        return real(*args, **kwargs)
    return wrapper


async def test_sweeper_recovers_and_healthz_says_degraded_meanwhile(server: RunningServer, seeded: Seeded,
                                                                     monkeypatch) -> None:
    gate = asyncio.Event()
    real = central.sweeper.sweep_once

    def broken(ctx: Any) -> int:
        if not gate.is_set():
            raise RuntimeError("sweeper bug")
        return real(ctx)

    monkeypatch.setattr(central.sweeper, "sweep_once", broken)
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
        async def degraded() -> dict[str, Any] | None:
            body = (await http.get("/healthz")).json()
            return body if body["status"] == "degraded" else None

        body = await wait_for(degraded, what="degraded")
        assert "sweeper bug" in body["tasks"]["sweeper"]
        with transaction(make_session_factory(server.engine)) as session:
            command_id = commands.enqueue(session, site_id="lhasa", kind="standby", requested_by="t",
                                          deadline=commands.deadline_in(0.2)).id
        gate.set()      # the fault goes away: the next restart sweeps

        async def ok() -> bool:
            return (await http.get("/healthz")).json() == {"status": "ok"}

        await wait_for(ok, timeout=20, what="healthy again")

        async def expired() -> bool:
            with transaction(make_session_factory(server.engine)) as session:
                return session.get(commands.CommandRow, command_id).state == "expired"

        await wait_for(expired, what="expiry after the recovery")
        metrics = (await http.get("/metrics")).text
    key = 'roomops_task_restarts_total{task="sweeper"}'
    restarts = next(line for line in metrics.splitlines() if line.startswith(key))
    assert float(restarts.split()[-1]) >= 1
    gauge = 'roomops_task_failing{task="sweeper"}'
    failing = next(line for line in metrics.splitlines() if line.startswith(gauge))
    assert float(failing.split()[-1]) == 0


async def test_hub_delivery_recovers_from_a_failed_round(server: RunningServer, seeded: Seeded,
                                                         monkeypatch) -> None:
    monkeypatch.setattr(central.hub.delivery, "collect",
                        _failing(1, central.hub.delivery.collect, RuntimeError("delivery bug")))
    async with FakeAgent(server.ws_url, "kunming", seeded.tokens["kunming"], handlers={}) as agent:
        # the first round (the hello's schedule) fails; the poll tick's next round delivers
        await agent.wait(lambda: agent.schedules, timeout=20, what="schedule after the failed round")
        with server.ctx.unit() as session:
            command_id = commands.enqueue(session, site_id="kunming", kind="standby", requested_by="t",
                                          deadline=commands.deadline_in(30)).id
        await agent.wait(lambda: any(c.command_id == command_id for c in agent.commands), what="command")
    assert server.ctx.metrics.tasks.restarts()["hub-delivery"] == 1
    assert "hub-delivery" not in server.ctx.metrics.tasks.degraded()
