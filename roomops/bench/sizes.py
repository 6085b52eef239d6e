"""How much each benchmark does: full by default, small with ``--quick``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Sizes:
    ssh_requests: int = 500
    netmiko_requests: int = 100
    visca_requests: int = 100
    selftest_repeats: int = 5
    ingest_links: int = 50
    ingest_messages: int = 40           # per link
    held_links: int = 500
    fanout_sites: tuple[int, ...] = (6, 500)
    fanout_repeats: int = 3
    agent_lag_seconds: float = 20.0     # agent event-loop lag under 50 reports/s, each way


FULL = Sizes()
QUICK = Sizes(ssh_requests=100, netmiko_requests=20, visca_requests=20, selftest_repeats=2, ingest_links=10,
              ingest_messages=20, held_links=100, fanout_sites=(6, 100), fanout_repeats=1,
              agent_lag_seconds=5.0)
