"""A real agent process for the kill -9 test: ``python -m tests.agent.agent_proc STATE CENTRAL
TOKEN FIRST COUNT`` queues events ``evt-FIRST`` .. ``evt-(FIRST+COUNT-1)`` (one every few ms),
prints QUEUED, and keeps the link running until killed."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from agent.runtime import Agent, AgentConfig
from agent.site import SiteSpec
from contracts.messages import Event


async def main(state: str, central: str, token: str, first: int, count: int) -> None:
    agent = Agent(SiteSpec(id="killsite", devices=()),
                  AgentConfig(state_dir=Path(state), central=central, token=token, poll_interval=0,
                              link_backoff_initial=0.05, link_backoff_cap=0.3, heartbeat_interval=1.0))
    await agent.start()
    for i in range(first, first + count):
        agent.emit(Event(msg_id=f"evt-{i:04d}", site="killsite", kind="test", data={"n": i}))
        await asyncio.sleep(0.002)
    await agent.outbox.durable()     # the disk writer has committed them
    print("QUEUED", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])))
