"""Benchmark: the agent's event-loop lag while it writes 50 reports a second.

A probe on the agent's event loop asks to wake every 5 ms and records how late it woke (the lag:
what a heartbeat or a device deadline would wait). Meanwhile 50 reports a second go into the
outbox (statuses of six devices and events, as a busy room sends them). Two ways side by side:
the agent's outbox (the disk writer thread, group commit, ``synchronous=FULL``), and the way it
was before, a ``synchronous=FULL`` commit on the event loop for every report. The state
directory is on the machine's disk (``/var/tmp``), not on a RAM disk, so the fsyncs are real.
"""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from agent.disk import DiskWriter
from agent.outbox import Outbox
from contracts.messages import DeviceStatus, Event, Status, dump_message
from roomops.bench.report import Section
from roomops.bench.sizes import Sizes
from roomops.bench.stats import Summary, ms

RATE = 50.0          # reports per second
PROBE = 0.005        # the probe's period, seconds
DEVICES = ("codec", "camera", "switcher", "display", "recorder", "pdu")


def _report(n: int) -> Status | Event:
    if n % 2:
        return Event(site="bench", kind="call_state", device="bench.codec",
                     data={"n": n, "state": "connected"})
    return Status(site="bench", devices=[DeviceStatus(id=f"bench.{d}", up=True, verdict="ok",
                                                      details={"n": n}) for d in DEVICES])


async def _measure(put: Callable[[Status | Event], None], seconds: float,
                   put_times: list[float]) -> list[float]:
    """Probe lags; ``put_times`` gets how long each write held the event loop."""
    loop = asyncio.get_running_loop()
    lags: list[float] = []
    stop = loop.time() + seconds

    async def probe() -> None:
        while loop.time() < stop:
            asked = loop.time()
            await asyncio.sleep(PROBE)
            lags.append(max(0.0, loop.time() - asked - PROBE))

    async def writer() -> None:
        n = 0
        next_at = loop.time()
        while loop.time() < stop:
            report = _report(n)
            t0 = time.perf_counter()
            put(report)
            put_times.append(time.perf_counter() - t0)
            n += 1
            next_at += 1 / RATE
            await asyncio.sleep(max(0.0, next_at - loop.time()))

    await asyncio.gather(probe(), writer())
    return lags


def _inline_outbox(path: Path) -> tuple[sqlite3.Connection, Callable[[Status | Event], None]]:
    """Before: every report committed (fsync) on the event loop."""
    db = sqlite3.connect(str(path), isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, msg_id TEXT UNIQUE, type TEXT, "
               "body TEXT, queued REAL)")

    def put(msg: Status | Event) -> None:
        db.execute("INSERT INTO outbox (msg_id, type, body, queued) VALUES (?, ?, ?, ?)",
                   (msg.msg_id, msg.type, dump_message(msg), time.time()))
    return db, put


def run(sizes: Sizes) -> Section:
    started = time.monotonic()
    seconds = float(getattr(sizes, "agent_lag_seconds", 20.0))
    rounds = 4      # the two ways alternate, so the shared machine's load falls on both alike
    base = Path("/var/tmp") if Path("/var/tmp").is_dir() else None
    after_lags: list[float] = []
    before_lags: list[float] = []
    after_puts: list[float] = []
    before_puts: list[float] = []
    commits = jobs = 0
    with tempfile.TemporaryDirectory(prefix="roomops-bench-agent-", dir=base) as tmp:
        for n in range(rounds):
            inline_db, inline_put = _inline_outbox(Path(tmp) / f"inline-{n}.sqlite")
            try:
                before_lags += asyncio.run(_measure(inline_put, seconds / rounds, before_puts))
            finally:
                inline_db.close()
            writer = DiskWriter("bench-disk")
            outbox = Outbox(Path(tmp) / f"outbox-{n}.sqlite", writer)
            try:
                after_lags += asyncio.run(_measure(outbox.put, seconds / rounds, after_puts))
                writer.barrier().result(timeout=60)
                commits, jobs = commits + writer.commits, jobs + writer.jobs
            finally:
                outbox.close()
                writer.close()
    after, before = Summary.of(after_lags), Summary.of(before_lags)
    after_put, before_put = Summary.of(after_puts), Summary.of(before_puts)
    rows = [["agent outbox: disk writer thread, group commit", ms(after.median), ms(after.p99),
             ms(max(after_lags)), ms(after_put.median), ms(after_put.p99), str(after.n)],
            ["before: a commit on the event loop per report", ms(before.median), ms(before.p99),
             ms(max(before_lags)), ms(before_put.median), ms(before_put.p99), str(before.n)]]
    notes = [f"{RATE:.0f} reports/s for {seconds:.0f} s each way, in {rounds} alternating rounds; the writer "
             f"thread wrote {jobs} jobs in {commits} commits ({jobs / max(commits, 1):.1f} per commit)",
             f"event-loop lag p99 {ms(after.p99)} with the writer thread, {ms(before.p99)} before; "
             f"each write held the loop {ms(after_put.p99)} (p99) instead of {ms(before_put.p99)} "
             "(the commit's fsync); what lag remains is the shared CPU, measured the same way both ways"]
    return Section(title="Agent event-loop lag while writing 50 reports/s", method=__doc__ or "",
                   header=["outbox writes", "lag median", "lag p99", "lag max", "write holds loop (median)",
                           "(p99)", "probes"], rows=rows,
                   notes=notes, seconds=time.monotonic() - started)
