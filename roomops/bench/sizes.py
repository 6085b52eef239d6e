"""How much each benchmark does: the issue's goal sizes by default, small with ``--quick``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Sizes:
    ssh_requests: int = 500
    netmiko_requests: int = 100
    visca_requests: int = 100
    selftest_repeats: int = 5
    ingest_links: int = 500
    ingest_messages: int = 20           # per link
    held_links: int = 10_000
    fanout_sites: tuple[int, ...] = (6, 1000)
    fanout_repeats: int = 3
    agent_lag_seconds: float = 20.0     # agent event-loop lag under 50 reports/s, each way
    #: restart central with every held link up and time how long until all are back
    reconnect: bool = True


FULL = Sizes()
QUICK = Sizes(ssh_requests=100, netmiko_requests=20, visca_requests=20, selftest_repeats=2, ingest_links=10,
              ingest_messages=20, held_links=100, fanout_sites=(6, 100), fanout_repeats=1,
              agent_lag_seconds=5.0)
