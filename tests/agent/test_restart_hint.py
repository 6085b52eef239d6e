"""A planned central restart: the agent waits the delay central named instead of its backoff."""

from __future__ import annotations

import asyncio

from tests.agent.central_fake import FakeCentral
from tests.agent.test_link import TOKEN, _agent

HINT_SECONDS = 3.0


async def test_the_agent_comes_back_after_the_hinted_delay(tmp_path, loopback) -> None:
    central = await FakeCentral(loopback, TOKEN).start()
    agent = _agent(tmp_path, central.url)      # its own backoff is 0.05..0.3 s
    await agent.start()
    try:
        await central.wait_for(lambda: central.hellos == 1 and central.connections)
        loop = asyncio.get_running_loop()
        closed_at = loop.time()
        for ws in list(central.connections):
            await ws.close(4012, f"central restarting; retry_after_ms={round(HINT_SECONDS * 1000)}")
        await central.wait_for(lambda: central.hellos == 2, timeout=10)
        waited = loop.time() - closed_at
        assert waited >= HINT_SECONDS - 0.1, f"reconnected after {waited:.2f} s, before the hint"
        # an ordinary close is not a hint: the agent is back within its short backoff
        closed_at = loop.time()
        for ws in list(central.connections):
            await ws.close(1011, "internal error")
        await central.wait_for(lambda: central.hellos == 3, timeout=10)
        assert loop.time() - closed_at < HINT_SECONDS, "an unhinted close waited like a restart"
    finally:
        await agent.stop()
        await central.stop()
