"""``python -m roomops.bench [--quick] [--only NAME ...] [--out FILE] [--json FILE]
[--links N] [--fanout-sites N[,N...]] [--ingest-links N]``: run the benchmarks side by side in one
process and write the Markdown report (default ``docs/BENCHMARKS.md``) and, with ``--json``, every
figure as JSON."""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from roomops.bench import machine
from roomops.bench.report import Section, render
from roomops.bench.sizes import FULL, QUICK

#: name -> module with ``run(sizes) -> Section``, in report order
BENCHMARKS = {
    "ssh": "roomops.bench.ssh_rtt",
    "visca": "roomops.bench.visca_wire",
    "selftest": "roomops.bench.site_selftest",
    "central": "roomops.bench.central_load",
    "agent": "roomops.bench.agent_loop",
}
DEFAULT_OUT = Path(__file__).resolve().parents[2] / "docs" / "BENCHMARKS.md"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes (about a minute)")
    parser.add_argument("--only", action="append", choices=sorted(BENCHMARKS), help="run only these")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"report file (default {DEFAULT_OUT})")
    parser.add_argument("--json", type=Path, help="also write every figure to this JSON file")
    parser.add_argument("--links", type=_positive, help="agent links held by central")
    parser.add_argument("--fanout-sites", type=_site_counts,
                        help="meeting sizes for the fan-out, e.g. 1000 or 6,1000")
    parser.add_argument("--ingest-links", type=_positive, help="links sending status messages at once")
    parser.add_argument("--no-reconnect", action="store_true", help="skip the central restart phase")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    overrides: dict[str, object] = {}
    if args.links is not None:
        overrides["held_links"] = args.links
    if args.fanout_sites is not None:
        overrides["fanout_sites"] = args.fanout_sites
    if args.ingest_links is not None:
        overrides["ingest_links"] = args.ingest_links
    if args.no_reconnect:
        overrides["reconnect"] = False
    sizes = dataclasses.replace(sizes, **overrides)  # type: ignore[arg-type]
    names = [n for n in BENCHMARKS if not args.only or n in args.only]
    described = machine.describe()
    started_at = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    started = time.monotonic()
    sections: list[Section] = []
    for name in names:
        print(f"[bench] {name}...", file=sys.stderr, flush=True)
        section = importlib.import_module(BENCHMARKS[name]).run(sizes)
        print(section.table() or section.title, file=sys.stderr, flush=True)
        sections.append(section)
    command = "scripts/bench" + (" --quick" if args.quick else "")
    command += "".join(f" --only {n}" for n in args.only or [])
    command += "".join(f" {flag}" for flag in _size_flags(args))
    text = render(described, sections, command=command, started=started_at,
                  total_seconds=time.monotonic() - started)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(f"[bench] wrote {args.out}", file=sys.stderr)
    if args.json is not None:
        figures = {name: section.data for name, section in zip(names, sections, strict=True) if section.data}
        args.json.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        print(f"[bench] wrote {args.json}", file=sys.stderr)
    return 0


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, not {value}")
    return value


def _site_counts(text: str) -> tuple[int, ...]:
    try:
        return tuple(_positive(part) for part in text.split(",") if part.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"a number or a comma list of numbers, not {text!r}") from exc


def _size_flags(args: argparse.Namespace) -> list[str]:
    flags = []
    if args.links is not None:
        flags.append(f"--links {args.links}")
    if args.fanout_sites is not None:
        flags.append("--fanout-sites " + ",".join(map(str, args.fanout_sites)))
    if args.ingest_links is not None:
        flags.append(f"--ingest-links {args.ingest_links}")
    if args.no_reconnect:
        flags.append("--no-reconnect")
    return flags


if __name__ == "__main__":
    sys.exit(main())
