"""Runs for days: a bounded soak of health polling against the real simulators, with the devices
dropping their sessions over and over, must not grow threads, open descriptors or memory.

1,000+ polls and 50 forced reconnects (the simulator closes every session of one unit; the
agent's session reconnects and retries) in well under half a minute. Measured after a warm-up
(first connects, first allocations of caches and pools), then compared at the end: the thread
count and descriptor count must be back where they were, and traced memory must not keep
climbing from one third of the run to the next.
"""

from __future__ import annotations

import asyncio
import gc
import os
import threading
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from tests.agent.real_sites import agent_for, make_test_site, served

pytestmark = pytest.mark.timeout(180)

SITE = "urumqi"
#: units that keep one session open, which the simulator can drop (serial and UDP have none;
#: the PJLink driver connects per exchange). The router is left out: a netmiko login takes about
#: a second, which would make this test long without exercising anything the others do not.
DROPPABLE = ("codec", "switcher", "pdu")
POLLED = (*DROPPABLE, "display1", "display2", "camera1", "camera2")
ROUNDS = 150                       # x 7 devices = 1,050 polls
DROP_EVERY = 2                     # rounds between forced reconnects: 75 of them
WARMUP = 15
#: per third of the run (~315 polls, 25 reconnects): measured 20-28 KB here; a leak of 1 KB per poll
#: adds about 310 KB and fails (checked by planting one)
MAX_GROWTH_BYTES = 100_000


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def traced() -> int:
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


@pytest.fixture
def soak_site(tmp_path: Path) -> Any:
    ts = make_test_site(tmp_path)
    site = ts.load()
    keep = {f"{SITE}.{d}" for d in POLLED}
    return ts, site.__class__(**{**site.__dict__, "devices": [d for d in site.devices if d.id in keep]})


def test_polling_and_reconnects_leak_nothing(soak_site: Any, tmp_path: Path) -> None:
    _, site = soak_site
    before = {"threads": threading.active_count(), "fds": open_fds()}
    tracemalloc.start(1)
    try:
        with served(site) as sim:
            samples, polls, drops, down, connects = asyncio.run(_soak(site, sim, tmp_path / "state"))
    finally:
        tracemalloc.stop()
    after = _sample()
    base, third, two_thirds, end = samples
    assert polls >= 1000 and drops >= 50
    assert down == [], down                  # every drop was bridged by a reconnect and retry
    assert connects >= drops
    # threads and descriptors: back to the warmed-up baseline
    assert end["threads"] == base["threads"], (base, end)
    assert end["fds"] <= base["fds"] + 2, (base, end)
    # memory: no steady climb (each third of the run adds no more than allocator noise)
    growth = [third["mem"] - base["mem"], two_thirds["mem"] - third["mem"], end["mem"] - two_thirds["mem"]]
    assert max(growth[1:]) < MAX_GROWTH_BYTES, growth
    assert end["mem"] - third["mem"] < 2 * MAX_GROWTH_BYTES, growth
    # and everything stopped leaves nothing behind
    assert (after["threads"], after["fds"]) == (before["threads"], before["fds"]), (before, after)


async def _soak(site: Any, sim: Any, state: Path) -> tuple[list[dict[str, int]], int, int, list[str], int]:
    agent = agent_for(site, state)
    samples: list[dict[str, int]] = []
    down: list[str] = []
    drops = 0
    checkpoints = {WARMUP, WARMUP + (ROUNDS - WARMUP) // 3, WARMUP + 2 * (ROUNDS - WARMUP) // 3}
    try:
        for round_no in range(ROUNDS):
            if round_no in checkpoints:
                samples.append(_sample())
            if round_no % DROP_EVERY == 0:
                victim = DROPPABLE[(round_no // DROP_EVERY) % len(DROPPABLE)]
                sim.simulators[f"{SITE}.{victim}"].close_sessions()
                drops += 1
            status = await agent.poll_all()
            down += [f"round {round_no}: {d.id} {d.reasons}" for d in status.devices if not d.up]
        samples.append(_sample())
        polls = sum(c.polls for c in agent.coordinators.values())
        connects = sum(s.connects for s in agent.sessions.values())
    finally:
        await agent.stop()
    return samples, polls, drops, down, connects


def _sample() -> dict[str, int]:
    # simulator session threads end a moment after their connection closes: let them finish
    for thread in threading.enumerate():
        if thread.name.startswith("sim-session") or thread.name.startswith("sim-ssh"):
            thread.join(0.5)
    return {"threads": threading.active_count(), "fds": open_fds(),
            "mem": traced() if tracemalloc.is_tracing() else 0}


# -- the Cisco codec driver alone: 10,000 polls, finished calls capped ---------------------------
CISCO_POLLS = 10_000
#: a call placed and hung up every this many polls: 100 finished calls, twice what is remembered
CALL_EVERY = 100
#: traced growth allowed per third of the run; a 100-byte leak per poll would add about 330 KB
CISCO_MAX_GROWTH = 120_000


def _rss_kb() -> int:
    with open("/proc/self/statm", encoding="ascii") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


@pytest.mark.slow                  # about 40 s per transport on a shared machine
@pytest.mark.timeout(400)
@pytest.mark.parametrize("transport", ["ssh", "https"])
def test_cisco_driver_soak_is_flat(transport: str, tmp_path: Path, loopback_factory) -> None:
    from drivers.cisco_roomos import CiscoRoomOSDriver
    from drivers.cisco_roomos.calls import FINISHED_CAP
    from simulators.fabric import CallFabric
    from tests.codecs.conftest import cisco_endpoint, make_cisco_sim

    fabric = CallFabric()
    before = {"threads": threading.active_count(), "fds": open_fds()}
    with make_cisco_sim(loopback_factory(), fabric, transport) as near, \
            make_cisco_sim(loopback_factory(), fabric, "ssh", uri="far@roomops.test") as far:
        driver = CiscoRoomOSDriver(cisco_endpoint(near, tmp_path), name="soak")
        samples: list[dict[str, int]] = []
        tracemalloc.start(1)
        try:
            with driver:
                checkpoints = {CISCO_POLLS // 10, CISCO_POLLS * 4 // 10, CISCO_POLLS * 7 // 10}
                for n in range(CISCO_POLLS):
                    if n in checkpoints:
                        samples.append({**_sample(), "rss": _rss_kb()})
                    if n % CALL_EVERY == CALL_EVERY - 1:
                        driver.hangup(driver.dial("far@roomops.test", "sip", 1920))
                    else:
                        assert driver.calls() == []
                samples.append({**_sample(), "rss": _rss_kb()})
                finished = len(driver.tracker.ended)
        finally:
            tracemalloc.stop()
        assert not near.errors and not far.errors, (near.errors, far.errors)
    assert finished == FINISHED_CAP      # 99 calls ended; only the last 50 are remembered
    base, third, two_thirds, end = samples
    assert (end["threads"], end["fds"]) == (base["threads"], base["fds"]), (base, end)
    growth = [third["mem"] - base["mem"], two_thirds["mem"] - third["mem"], end["mem"] - two_thirds["mem"]]
    assert max(growth[1:]) < CISCO_MAX_GROWTH, growth
    assert end["rss"] - third["rss"] < 8 * 1024, (third["rss"], end["rss"])   # KB: allocator noise only
    after = _sample()
    assert (after["threads"], after["fds"]) == (before["threads"], before["fds"]), (before, after)
