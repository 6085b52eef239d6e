"""The Markdown of ``docs/BENCHMARKS.md``: one section per benchmark, with how it was measured."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Section:
    title: str
    method: str                                   # how it was measured (a paragraph)
    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0                          # how long the benchmark itself took
    #: the figures as plain data, for ``--json``
    data: dict[str, Any] = field(default_factory=dict)

    def table(self) -> str:
        if not self.header:
            return ""
        lines = ["| " + " | ".join(self.header) + " |", "|" + "|".join("---" for _ in self.header) + "|"]
        lines += ["| " + " | ".join(row) + " |" for row in self.rows]
        return "\n".join(lines)


def render(machine: Sequence[tuple[str, str]], sections: Sequence[Section], *, command: str,
           started: str, total_seconds: float) -> str:
    out = ["# RoomOps benchmarks", "",
           f"Written by `{command}` on {started} (whole run {total_seconds:.0f} s). Every ratio compares "
           "numbers measured side by side in that one run on this machine; re-run `scripts/bench` to "
           "refresh them. These are measurements, not promises: the machine is shared and small.", "",
           "## Machine", ""]
    out += [f"- {key}: {value}" for key, value in machine]
    for number, section in enumerate(sections, 1):
        out += ["", f"## {number}. {section.title}", "", section.method.strip(), ""]
        if section.rows:
            out += [section.table(), ""]
        out += [f"- {note}" for note in section.notes]
        out += [f"- benchmark time: {section.seconds:.1f} s"]
    return "\n".join(out).rstrip() + "\n"
