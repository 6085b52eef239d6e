"""``roomops agent run|selftest|relocate``.

    roomops agent run      --site profiles/sites/urumqi.yaml --central URL --token-file PATH
    roomops agent selftest --site profiles/sites/urumqi.yaml [--json]
    roomops agent relocate --site profiles/sites/urumqi.yaml --venue profiles/venues/... [--dry-run]

``selftest`` runs once without central and exits 0 when the room is ready (1 when not ready,
2 when degraded); ``relocate`` exits 0 when the room is relocated and verified.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any, TextIO

from agent.logsetup import FORMATS, configure
from agent.runtime import Agent, AgentConfig
from agent.site import from_resolved
from contracts.messages import CheckResult, SelftestReport

EXIT = {"ready": 0, "not_ready": 1, "degraded": 2}
MARK = {"pass": "PASS", "warn": "WARN", "fail": "FAIL", "skip": "SKIP"}


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("agent", help="run the site agent, a self-test or a relocation")
    sub = parser.add_subparsers(dest="agent_command", metavar="ACTION")
    sub.required = True

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--site", required=True, help="site profile, e.g. profiles/sites/urumqi.yaml")
        p.add_argument("--state-dir", default=None,
                       help="outbox, job and command store "
                            "(default: $ROOMOPS_STATE or .roomops/agent/<site>)")
        p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
        p.add_argument("--log-format", choices=FORMATS, default=None,
                       help="text (default) or json: one JSON object a line ($ROOMOPS_LOG_FORMAT)")

    run = sub.add_parser("run", help="run the agent: polling, schedules, commands, link to central")
    common(run)
    run.add_argument("--central", default="", help="central's base URL (default: from the site profile)")
    run.add_argument("--token-file", default="", help="file holding the site token (default: the profile's)")
    run.add_argument("--poll-interval", type=float, default=30.0)
    run.add_argument("--lead", type=float, default=30.0, help="pre-meeting self-test lead, minutes")
    run.set_defaults(func=cmd_run)

    st = sub.add_parser("selftest", help="run the self-test once, without central")
    common(st)
    st.add_argument("--json", action="store_true", help="print the result as JSON")
    st.set_defaults(func=cmd_selftest)

    rl = sub.add_parser("relocate", help="move the room onto a venue's addresses and settings")
    common(rl)
    rl.add_argument("--venue", required=True,
                    help="venue name (a file in the venues/ folder beside the sites/ folder) "
                         "or a venue profile path, e.g. profiles/venues/urumqi-....yaml")
    rl.add_argument("--dry-run", action="store_true", help="show the plan only")
    rl.add_argument("--scan", action="append", default=[], help="extra address to look for devices on")
    rl.add_argument("--json", action="store_true")
    rl.set_defaults(func=cmd_relocate)


# -- helpers -----------------------------------------------------------------------------------------
def _load(args: argparse.Namespace) -> Any:
    from agent.profiles import load_site

    return load_site(args.site)


def _config(args: argparse.Namespace, site_id: str, **kw: Any) -> AgentConfig:
    # Default under .roomops/ (git-ignored); a real site sets --state-dir or ROOMOPS_STATE,
    # e.g. /var/lib/roomops/<site> in the systemd unit.
    state = args.state_dir or os.environ.get("ROOMOPS_STATE") or f".roomops/agent/{site_id}"
    return AgentConfig(state_dir=Path(state), **kw)


def _logging(args: argparse.Namespace, default: str | None = None) -> None:
    configure("debug" if args.verbose else default, args.log_format)


def _agent(args: argparse.Namespace, **config: Any) -> Agent:
    resolved = _load(args)
    agent = Agent(from_resolved(resolved), _config(args, resolved.id, **config))
    agent.resolved = resolved
    return agent


def uplink_probe(central: str, token: str) -> Any:
    """The self-test's uplink measurement against central (``agent.uplink``), off the loop."""
    from agent.uplink import measure_uplink

    async def probe() -> dict[str, Any]:
        return (await asyncio.to_thread(measure_uplink, central, token)).as_dict()

    return probe


def progress_line(result: CheckResult, out: TextIO) -> None:
    reason = f"  {result.reason}" if result.reason else ""
    out.write(f"  {MARK[result.status]:4}  {result.device:<24} {result.name:<22} "
              f"{result.duration_ms:7.0f} ms{reason}\n")
    out.flush()


def render_report(report: SelftestReport) -> str:
    rows = [f"Self-test {report.run_id} for {report.site} ({report.trigger})",
            f"{'STATUS':6} {'DEVICE':<24} {'CHECK':<22} {'MS':>7}  REASON"]
    for r in report.checks:
        rows.append(f"{MARK[r.status]:6} {r.device:<24} {r.name:<22} {r.duration_ms:7.0f}  {r.reason}")
        if r.status == "fail":
            rows += [f"{'':6} | {line}" for line in r.evidence[-5:]]
    counts = {s: sum(1 for r in report.checks if r.status == s) for s in MARK}
    rows.append(f"Verdict: {report.verdict.upper()}  "
                + ", ".join(f"{n} {s}" for s, n in counts.items() if n))
    return "\n".join(rows)


# -- commands ----------------------------------------------------------------------------------------
def cmd_selftest(args: argparse.Namespace) -> int:
    _logging(args, "warning")
    agent = _agent(args, poll_interval=0)

    async def go() -> SelftestReport:
        try:
            live = None if args.json else (lambda r: progress_line(r, sys.stderr))
            if not args.json:
                sys.stderr.write(f"Testing {len(agent.sessions)} devices of {agent.site.id}...\n")
            return await agent.runner().run(trigger="on_demand", progress=live)
        finally:
            await agent.stop()

    report = asyncio.run(go())
    print(report.model_dump_json(indent=2) if args.json else render_report(report))
    return EXIT[report.verdict]


def cmd_relocate(args: argparse.Namespace) -> int:
    _logging(args)
    agent = _agent(args, poll_interval=0)

    async def go() -> dict[str, Any]:
        try:
            # a path here is the local operator's file; central can only ever name a venue
            where = "venue_file" if "/" in args.venue or args.venue.endswith(".yaml") else "venue"
            return await agent.relocate({where: args.venue, "scan": args.scan}, dry_run=args.dry_run)
        finally:
            await agent.stop()

    result = asyncio.run(go())
    if args.json:
        print(json.dumps(result, indent=2, default=str))
    else:
        for p in result.get("plan", []):
            where = p["found_at"] or "NOT FOUND"
            print(f"{p['device']:<24} at {where:<16} -> {p['target']:<16}"
                  + (f"  PROBLEM: {p['problem']}" if p["problem"] else ""))
            for s in p["strangers"]:
                print(f"{'':24} unknown unit: {s}")
            for key, change in {**p["settings"], **p["address"]}.items():
                print(f"{'':24} {key}: {change['now']!r} -> {change['wanted']!r}")
        for step in result.get("steps", []):
            print(f"  {step}")
        if result.get("selftest"):
            print(f"self-test: {result['selftest']['verdict']}")
        print("OK" if result.get("ok") else f"FAILED: {result.get('error', 'see the plan')}")
    return 0 if result.get("ok") else 1


def cmd_run(args: argparse.Namespace) -> int:
    _logging(args)
    resolved = _load(args)
    token = Path(args.token_file).read_text().strip() if args.token_file else resolved.central_token()
    central = args.central or resolved.central_url
    agent = Agent(from_resolved(resolved),
                  _config(args, resolved.id, central=central, token=token, poll_interval=args.poll_interval,
                          premeeting_lead=args.lead * 60),
                  uplink_probe=uplink_probe(central, token) if central else None)
    agent.resolved = resolved
    try:
        asyncio.run(agent.run_forever())
    except KeyboardInterrupt:
        return 0
    return 0
