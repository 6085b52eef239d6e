"""Benchmark 3: a full pre-meeting self-test of a site vs its slowest device alone, and six sites.

Real simulators of the shipped sites (on a private copy of the profiles) serve every device on
its own address and transport; the agent's ``SelftestRunner`` runs with fresh device sessions
each time (so connecting and logging in are part of every run, as after a quiet night).
"""

from __future__ import annotations

import asyncio
import dataclasses
import statistics
import tempfile
import time
from pathlib import Path

from agent.profiles import load_site
from agent.selftest import SelftestRunner
from agent.session import DeviceSession
from agent.site import SiteSpec, from_resolved
from contracts.messages import SelftestReport
from roomops.bench.profiles_copy import private_profiles
from roomops.bench.report import Section
from roomops.bench.sizes import Sizes
from roomops.bench.stats import ratio
from roomops.sim_cli import bridge_uris, to_sim_specs
from simulators.site import SiteSimulation

ONE_SITE = "shanghai-hq"


async def selftest(site: SiteSpec) -> tuple[float, SelftestReport]:
    """Wall time of one self-test of ``site`` with fresh sessions (no site-level checks)."""
    sessions = {d.id: DeviceSession(d) for d in site.devices}
    try:
        start = time.perf_counter()
        report = await SelftestRunner(site, sessions, site_checks=[]).run(trigger="on_demand")
        return time.perf_counter() - start, report
    finally:
        await asyncio.gather(*(s.aclose() for s in sessions.values()))


def only(site: SiteSpec, device_id: str) -> SiteSpec:
    """The site reduced to one device (and the device it is controlled through, if any)."""
    dev = next(d for d in site.devices if d.id == device_id)
    keep = {dev.id, dev.via} - {None}
    return dataclasses.replace(site, devices=tuple(d for d in site.devices if d.id in keep))


def _median(values: list[float]) -> float:
    return statistics.median(values)


async def _measure(sites: dict[str, SiteSpec], repeats: int) -> dict[str, object]:
    one = sites[ONE_SITE]
    full: list[float] = []
    reports: list[SelftestReport] = []
    for _ in range(repeats):
        seconds, report = await selftest(one)
        full.append(seconds)
        reports.append(report)
    alone: dict[str, float] = {}
    for dev in one.devices:
        alone[dev.id] = _median([(await selftest(only(one, dev.id)))[0] for _ in range(repeats)])
    six: list[float] = []
    for _ in range(repeats):
        start = time.perf_counter()
        await asyncio.gather(*(selftest(s) for s in sites.values()))
        six.append(time.perf_counter() - start)
    return {"full": full, "alone": alone, "six": six, "report": reports[-1]}


def run(sizes: Sizes) -> Section:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="roomops-bench-") as tmp:
        profiles = private_profiles(Path(tmp))
        resolved = [load_site(f) for f in sorted((profiles / "sites").glob("*.yaml"))]
        specs = [spec for r in resolved for spec in to_sim_specs(r)]
        sites = {r.id: from_resolved(r) for r in resolved}
        with SiteSimulation(specs, bridges=bridge_uris(resolved)):  # the MCU the test call dials
            m = asyncio.run(_measure(sites, sizes.selftest_repeats))
    full = _median(m["full"])              # type: ignore[arg-type]
    alone: dict[str, float] = m["alone"]   # type: ignore[assignment]
    six = _median(m["six"])                # type: ignore[arg-type]
    slowest_id = max(alone, key=lambda k: alone[k])
    serial_sum = sum(alone.values())
    report: SelftestReport = m["report"]   # type: ignore[assignment]
    counts = {s: sum(1 for c in report.checks if c.status == s) for s in ("pass", "warn", "fail", "skip")}
    one = sites[ONE_SITE]
    section = Section(
        title="Site self-test: parallel devices, and six sites at once",
        method=(f"Simulators of all six shipped sites in one process (private copy of the profiles); the "
                f"agent's `SelftestRunner` with fresh device sessions per run, so connect and login are "
                f"included; site-level checks (uplink, clock) left out. `{ONE_SITE}` has "
                f"{len(one.devices)} devices. \"Alone\" runs the same runner on a site reduced to one "
                f"device. \"Six sites\" runs six runners concurrently on one event loop in one process "
                f"(in the field each agent has its own machine, so this is the harder case). Medians of "
                f"{sizes.selftest_repeats} runs."),
        header=["what", "median wall time", "ratio"])
    section.rows = [
        [f"full self-test of {ONE_SITE} ({len(report.checks)} checks)", f"{full:.2f} s", "1.00x"],
        [f"slowest device alone ({slowest_id})", f"{alone[slowest_id]:.2f} s",
         f"full / slowest = {ratio(full, alone[slowest_id])}"],
        ["every device alone, one after another (sum)", f"{serial_sum:.2f} s",
         f"sum / full = {ratio(serial_sum, full)}"],
        [f"six sites at once ({sum(len(s.devices) for s in sites.values())} devices)", f"{six:.2f} s",
         f"six / one = {ratio(six, full)}"],
    ]
    section.notes.append("last full run's checks: " + ", ".join(f"{n} {s}" for s, n in counts.items() if n))
    failing = [f"{c.device} {c.name}: {c.reason}" for c in report.checks if c.status == "fail"]
    if failing:
        section.notes.append("failing checks in that run (they take their deadline): "
                             + "; ".join(failing[:5]))
    section.notes.append("each device alone: " + ", ".join(
        f"{k.split('.', 1)[1]} {v:.2f} s" for k, v in sorted(alone.items(), key=lambda kv: -kv[1])))
    section.seconds = time.monotonic() - started
    return section
