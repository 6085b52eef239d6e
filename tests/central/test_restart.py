"""A planned restart: links closed with a retry hint, /healthz draining; the agent honours the hint."""

from __future__ import annotations

import asyncio

import httpx

from agent.link import RESTART_CLOSE_CODE, restart_delay
from central.hub.connection import CLOSE_RESTART, restart_reason
from contracts.messages import CLOSE_REVOKED
from tests.central.helpers import FakeAgent, RunningServer, Seeded


def test_the_agent_reads_the_hint_central_writes() -> None:
    assert RESTART_CLOSE_CODE == CLOSE_RESTART
    assert restart_delay(CLOSE_RESTART, restart_reason(2.5)) == 2.5
    assert restart_delay(1001, restart_reason(2.5)) is None        # not a planned restart
    assert restart_delay(CLOSE_RESTART, "no hint here") is None
    assert restart_delay(CLOSE_RESTART, "retry_after_ms=999999999") == 60.0   # capped


async def test_drain_closes_every_link_with_its_own_hint_and_healthz_says_draining(
        server: RunningServer, seeded: Seeded) -> None:
    hub = server.app.state.hub
    agents = [await FakeAgent(server.ws_url, site, seeded.tokens[site]).connect()
              for site in ("urumqi", "lhasa", "xining")]
    try:
        for agent in agents:
            await agent.wait(lambda agent=agent: agent.schedules, what="schedule")
        server.ctx.draining = True
        async with httpx.AsyncClient(base_url=server.base_url) as http:
            assert (await http.get("/healthz")).status_code == 503
        drained = await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(hub.drain(5.0), hub.loop))
        assert drained == 3
        for agent in agents:
            await agent.wait(lambda agent=agent: agent.closed_code is not None, what="close")
        assert {agent.closed_code for agent in agents} == {CLOSE_RESTART}
        delays = [restart_delay(CLOSE_RESTART, agent.ws.close_reason) for agent in agents if agent.ws]
        assert all(d is not None and 0.5 <= d <= 5.0 for d in delays), delays
    finally:
        server.ctx.draining = False
        for agent in agents:
            await agent.close()


async def test_revoking_a_token_closes_the_link_that_used_it(server: RunningServer, seeded: Seeded) -> None:
    from central.security import site_token_id
    from tests.central.helpers import login

    async with FakeAgent(server.ws_url, "lhasa", seeded.tokens["lhasa"]) as agent:
        await agent.wait(lambda: agent.schedules, what="schedule")
        async with httpx.AsyncClient(base_url=server.base_url) as http:
            headers = await login(http, "admin")
            token_id = site_token_id(seeded.tokens["lhasa"])
            reply = await http.delete(f"/api/v1/sites/lhasa/tokens/{token_id}", headers=headers)
            assert reply.status_code == 204, reply.text
        await agent.wait(lambda: agent.closed_code is not None, what="the link to close")
        assert agent.closed_code == CLOSE_REVOKED
