"""Benchmark 4: central under many agent links, on SQLite and on PostgreSQL.

Central runs as its own process (``roomops central serve``, one uvicorn worker) so its memory can
be read from /proc and the load generator does not share its interpreter. The agents are
``FakeLink``s in this process: real WebSockets speaking the contracts messages.

- ingest: L links each send M ``status`` messages (8 devices each) one after another, all links at
  once; latency is send -> central's ``ack`` (stored by then), throughput is messages / wall time;
- held links: N links connected with their ``hello`` stored; central's RSS before and after;
- fan-out: a bridge meeting of S sites is started through the API while all N links are held; the
  time from sending the start request until every site's link has received its ``connect`` command
  (each fake agent reports its ``prepare`` done at once, so this is central's own path: prepare
  out, result in, connect out);
- reconnect: central is stopped (SIGTERM) with all N links up and started again; every link dials
  again at once (at most RECONNECT_CONCURRENCY handshakes in flight) and the time from the new
  process answering ``/healthz`` until every link has its ``hello`` acknowledged is measured.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from roomops.bench.fake_links import FakeLink
from roomops.bench.report import Section
from roomops.bench.sizes import Sizes
from roomops.bench.stats import Summary, ms, percentile

PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
HOST = "127.0.0.1"
PASSWORD = "bench-password-1"
OPEN_CONCURRENCY = 100
RECONNECT_CONCURRENCY = 500
#: several instances on PostgreSQL need one shared key; the bench passes one to every process
BENCH_SECRET = "bench-secret-key-not-for-production-0123456789"


@dataclass
class Backend:
    name: str
    url: str            # SQLAlchemy URL; "" = SQLite file in the data dir


@dataclass
class Result:
    backend: str
    ingest_latencies: list[float] = field(default_factory=list)
    ingest_seconds: float = 0.0
    ingest_links: int = 0
    held: int = 0
    open_seconds: float = 0.0
    rss_idle_kb: int = 0
    rss_held_kb: int = 0
    fanout: dict[int, list[float]] = field(default_factory=dict)
    reconnect_seconds: float | None = None
    restart_seconds: float | None = None

    def figures(self) -> dict[str, object]:
        """The ``--json`` shape of this backend's results."""
        per_s = len(self.ingest_latencies) / self.ingest_seconds if self.ingest_seconds else None
        return {
            "held_links": self.held,
            "rss_idle_mb": round(self.rss_idle_kb / 1024, 1),
            "rss_held_mb": round(self.rss_held_kb / 1024, 1),
            "fanout_ms": {str(n): round(Summary.of(v).median * 1000, 1) for n, v in self.fanout.items() if v},
            "ingest_per_s": round(per_s, 1) if per_s else None,
            "ingest_p99_ms": round(percentile(self.ingest_latencies, 99) * 1000, 1)
            if self.ingest_latencies else None,
            "ingest_links": self.ingest_links,
            "open_links_per_s": round((self.held - self.ingest_links) / self.open_seconds, 1)
            if self.open_seconds else None,
            "reconnect_s": round(self.reconnect_seconds, 2) if self.reconnect_seconds is not None else None,
            "restart_s": round(self.restart_seconds, 2) if self.restart_seconds is not None else None,
        }


# -- databases and the central process ------------------------------------------------------------------
def postgres_problem() -> str | None:
    import psycopg

    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return None
    except psycopg.OperationalError as exc:
        return f"PostgreSQL at 127.0.0.1:5432 unreachable: {str(exc).strip().splitlines()[0]}"


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    import psycopg

    name = f"roomops_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def site_ids(count: int) -> list[str]:
    return [f"bench{i:04d}" for i in range(count)]


def seed(data_dir: Path, url: str, count: int) -> dict[str, str]:
    from central import migrate
    from central.db import make_engine, make_session_factory, transaction
    from central.services import accounts
    from central.settings import Settings

    settings = Settings(data_dir=data_dir, database_url=url)
    engine = make_engine(settings.resolved_database_url())
    tokens: dict[str, str] = {}
    try:
        migrate.upgrade(engine)
        settings.resolved_secret_key()
        with transaction(make_session_factory(engine)) as session:
            accounts.create_user(session, "secretariat", PASSWORD, ["secretariat"])
            for site in site_ids(count):
                accounts.create_site(session, site, name=site.title())
                _, tokens[site] = accounts.issue_site_token(session, site, "bench")
    finally:
        engine.dispose()
    return tokens


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


@contextlib.contextmanager
def central_process(data_dir: Path, url: str, port: int) -> Iterator[subprocess.Popen[bytes]]:
    log = open(data_dir / "central.log", "wb")   # closed below; the child has its own copy
    proc = subprocess.Popen(
        [sys.executable, "-m", "roomops.cli", "central", "--data-dir", str(data_dir), "--database-url", url,
         "serve", "--host", HOST, "--port", str(port), "--log-level", "warning"],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        env={**os.environ, "ROOMOPS_SECRET_KEY": BENCH_SECRET})
    log.close()
    try:
        deadline = time.monotonic() + 60
        with httpx.Client(timeout=2) as client:
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"central exited: {(data_dir / 'central.log').read_text()[-2000:]}")
                try:
                    if client.get(f"http://{HOST}:{port}/healthz").status_code == 200:
                        break
                except httpx.HTTPError:
                    if time.monotonic() > deadline:
                        raise
                time.sleep(0.2)   # the server is starting; nothing to read until it listens
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# -- the phases --------------------------------------------------------------------------------------
async def open_links(ws_url: str, tokens: dict[str, str], sites: list[str],
                     concurrency: int = OPEN_CONCURRENCY) -> list[FakeLink]:
    links = [FakeLink(ws_url, site, tokens[site]) for site in sites]
    await connect_all(links, concurrency)
    return links


async def connect_all(links: list[FakeLink], concurrency: int) -> None:
    """Open every link and have its hello acknowledged, ``concurrency`` handshakes at a time."""
    gate = asyncio.Semaphore(concurrency)

    async def one(link: FakeLink) -> None:
        async with gate:
            await link.open()
            await link.request(link.hello(), timeout=120)

    await asyncio.gather(*(one(link) for link in links))


async def ingest(links: list[FakeLink], messages: int) -> tuple[list[float], float]:
    async def one(link: FakeLink) -> list[float]:
        return [await link.request(link.status()) for _ in range(messages)]

    start = time.perf_counter()
    per_link = await asyncio.gather(*(one(link) for link in links))
    return [x for xs in per_link for x in xs], time.perf_counter() - start


async def fanout(base_url: str, links: list[FakeLink], repeats: int) -> list[float]:
    sites = [link.site for link in links]
    samples = []
    async with httpx.AsyncClient(base_url=base_url, timeout=120) as client:
        token = (await client.post("/api/v1/auth/token",
                                   data={"username": "secretariat", "password": PASSWORD})).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        for k in range(repeats):
            start_at = datetime.now(UTC) + timedelta(days=1, hours=k)
            reply = await client.post("/api/v1/meetings", headers=headers, json={
                "title": f"bench {len(sites)} sites #{k}", "start": start_at.isoformat(),
                "end": (start_at + timedelta(minutes=30)).isoformat(), "host_site": sites[0], "sites": sites,
                "mode": "bridge", "bridge_uri": "bridge@bench.example"})
            reply.raise_for_status()
            meeting = reply.json()["id"]
            started = time.perf_counter()
            (await client.post(f"/api/v1/meetings/{meeting}/start", headers=headers)).raise_for_status()
            deadline = time.monotonic() + 180
            while not all(("connect", meeting) in link.received for link in links):
                if time.monotonic() > deadline:
                    missing = sum(1 for link in links if ("connect", meeting) not in link.received)
                    raise TimeoutError(f"{missing} of {len(links)} sites got no connect within 180 s")
                await asyncio.sleep(0.005)   # polling our own in-memory arrival table
            samples.append(max(link.received[("connect", meeting)] for link in links) - started)
    return samples


async def _phases(proc: subprocess.Popen[bytes], port: int, tokens: dict[str, str], sizes: Sizes,
                  result: Result, links: list[FakeLink]) -> None:
    ws_url = f"ws://{HOST}:{port}/agent/v1/link"
    base_url = f"http://{HOST}:{port}"
    sites = site_ids(len(tokens))
    result.rss_idle_kb = rss_kb(proc.pid)
    links += await open_links(ws_url, tokens, sites[:sizes.ingest_links])
    result.ingest_links = len(links)
    result.ingest_latencies, result.ingest_seconds = await ingest(links, sizes.ingest_messages)
    start = time.perf_counter()
    links += await open_links(ws_url, tokens, sites[len(links):sizes.held_links])
    result.open_seconds = time.perf_counter() - start
    result.held = len(links)
    result.rss_held_kb = rss_kb(proc.pid)
    for count in sizes.fanout_sites:
        result.fanout[count] = await fanout(base_url, links[:count], sizes.fanout_repeats)


async def _close(links: list[FakeLink]) -> None:
    await asyncio.gather(*(link.close() for link in links), return_exceptions=True)


def measure(backend: Backend, sizes: Sizes) -> Result:
    result = Result(backend.name)
    with tempfile.TemporaryDirectory(prefix="roomops-bench-central-") as tmp:
        data_dir = Path(tmp)
        count = max(sizes.held_links, sizes.ingest_links, *sizes.fanout_sites)
        tokens = seed(data_dir, backend.url, count)
        port = free_port()
        loop = asyncio.new_event_loop()
        links: list[FakeLink] = []
        try:
            with central_process(data_dir, backend.url, port) as proc:
                loop.run_until_complete(_phases(proc, port, tokens, sizes, result, links))
                stopped = time.perf_counter()
            # central is gone with every link up: all of them dial again as soon as it is back
            loop.run_until_complete(_close(links))
            if sizes.reconnect and links:
                with central_process(data_dir, backend.url, port):
                    back = time.perf_counter()
                    result.restart_seconds = back - stopped
                    loop.run_until_complete(connect_all(links, RECONNECT_CONCURRENCY))
                    result.reconnect_seconds = time.perf_counter() - back
                    loop.run_until_complete(_close(links))
        finally:
            loop.run_until_complete(_close(links))
            loop.close()
    return result


def run(sizes: Sizes) -> Section:
    started = time.monotonic()
    results: list[Result] = [measure(Backend("SQLite", ""), sizes)]
    skipped = postgres_problem()
    if skipped is None:
        with postgres_database() as url:
            results.append(measure(Backend("PostgreSQL", url), sizes))
    section = Section(
        title="Central: ingest, connected links and memory, meeting fan-out",
        method=__doc__.split("\n\n", 1)[1].strip() if __doc__ else "",
        header=["measure", *(r.backend for r in results)])
    rows: list[list[str]] = []

    def row(label: str, values: list[str]) -> None:
        rows.append([label, *values])

    row(f"ingest: status messages/s ({results[0].ingest_links} links x {sizes.ingest_messages} messages)",
        [f"{len(r.ingest_latencies) / r.ingest_seconds:.0f}/s" for r in results])
    row("ingest latency p50 (send -> ack)", [ms(percentile(r.ingest_latencies, 50)) for r in results])
    row("ingest latency p99", [ms(percentile(r.ingest_latencies, 99)) for r in results])
    row("links held by one central process", [str(r.held) for r in results])
    row(f"time to connect and store hello of the {results[0].held - results[0].ingest_links} more links",
        [f"{r.open_seconds:.1f} s" for r in results])
    row("central RSS idle -> with all links", [f"{r.rss_idle_kb / 1024:.0f} -> {r.rss_held_kb / 1024:.0f} MB"
                                               for r in results])
    row("memory per held link",
        [f"{(r.rss_held_kb - r.rss_idle_kb) / max(1, r.held):.0f} KB" for r in results])
    for count in sizes.fanout_sites:
        row(f"meeting start -> every site has its connect, {count} sites (median of {sizes.fanout_repeats})",
            [ms(Summary.of(r.fanout[count]).median) for r in results])
    if sizes.reconnect:
        row(f"central restarted: stop -> serving again (all {results[0].held} links up at the stop)",
            [f"{r.restart_seconds:.1f} s" if r.restart_seconds is not None else "-" for r in results])
        row(f"serving again -> all {results[0].held} links back with hello stored",
            [f"{r.reconnect_seconds:.1f} s" if r.reconnect_seconds is not None else "-" for r in results])
    section.rows = rows
    section.data = {r.backend.lower(): r.figures() for r in results}
    if skipped:
        section.notes.append(f"PostgreSQL not measured: {skipped}")
    section.notes.append(f"central: one `roomops central serve` process (uvicorn, one worker), pid-level RSS "
                         f"from /proc; load generator: this process, {os.cpu_count()} cores shared")
    section.seconds = time.monotonic() - started
    return section
