"""``python -m roomops.bench [--quick] [--only NAME ...] [--out FILE]``: run the benchmarks side by
side in one process and write the Markdown report (default ``docs/BENCHMARKS.md``)."""

from __future__ import annotations

import argparse
import importlib
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
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
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
    text = render(described, sections, command=command, started=started_at,
                  total_seconds=time.monotonic() - started)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(f"[bench] wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
