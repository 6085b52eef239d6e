"""A real agent process of another minor schema version, for the version-skew tests:
``python -m tests.agent.skew_proc STATE CENTRAL TOKEN SITE MODE COUNT``.

MODE ``ahead`` makes this agent one minor version newer than the contracts it runs with: every
frame it sends carries ``schema_minor + 1`` and a field the current schema does not have (in the
envelope and in the payload). MODE ``current`` runs it as it is. It queues COUNT events
(``skew-0000`` ...), prints QUEUED once they are on disk, and keeps the link until killed."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import agent.link
import agent.outbox
from agent.runtime import Agent, AgentConfig
from agent.site import SiteSpec
from contracts import messages
from contracts.messages import Event


def _ahead(dump: Any) -> Any:
    def dump_newer(msg: Any, peer_minor: int | None = None) -> str:
        body = json.loads(dump(msg, peer_minor))
        body["schema_minor"] = messages.SCHEMA_MINOR + 1
        body["added_in_next_minor"] = {"priority": "high"}
        if body.get("type") == "event":
            body["data"] = {**body.get("data", {}), "newer_detail": [1, 2, 3]}
        return json.dumps(body)
    return dump_newer


async def main(state: str, central: str, token: str, site: str, mode: str, count: int) -> None:
    if mode == "ahead":
        agent.outbox.dump_message = _ahead(agent.outbox.dump_message)  # type: ignore[attr-defined]
        agent.link.dump_message = _ahead(agent.link.dump_message)      # type: ignore[attr-defined]
    running = Agent(SiteSpec(id=site, devices=()),
                    AgentConfig(state_dir=Path(state), central=central, token=token, poll_interval=0,
                                link_backoff_initial=0.05, link_backoff_cap=0.3, heartbeat_interval=1.0))
    await running.start()
    for i in range(count):
        running.emit(Event(msg_id=f"skew-{i:04d}", site=site, kind="test", data={"n": i}))
    await running.outbox.durable()
    print("QUEUED", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6])))
