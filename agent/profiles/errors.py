"""Profile problems as data: each names the file, the line and the key path.

A loader collects every problem it finds (``IssueList``) and raises one ``ProfileError`` at the
end, so a user sees all mistakes of a file in one pass. ``str(issue)`` is the user-facing form:
``profiles/sites/lhasa.yaml:42 devices[2].address: not an IPv4 address``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

KeyPath = tuple[str | int, ...]


def format_path(path: Sequence[str | int]) -> str:
    """("devices", 2, "address") -> "devices[2].address"."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def display_path(file: str | Path) -> str:
    """A file name as the user typed it when possible: relative to the working directory."""
    text = str(file)
    try:
        rel = os.path.relpath(text)
    except ValueError:
        return text
    return text if rel.startswith("..") else rel


@dataclass(frozen=True)
class Issue:
    file: str
    line: int | None
    path: KeyPath
    message: str

    def __str__(self) -> str:
        where = display_path(self.file)
        if self.line is not None:
            where += f":{self.line}"
        key = format_path(self.path)
        return f"{where} {key}: {self.message}" if key else f"{where}: {self.message}"


class ProfileError(Exception):
    """One or more profile problems. ``issues`` holds them all; ``str()`` lists them one a line."""

    def __init__(self, issues: Iterable[Issue]) -> None:
        self.issues: list[Issue] = list(issues)
        super().__init__("\n".join(str(i) for i in self.issues))


class IssueList:
    """Collects problems of one file while a loader keeps going."""

    def __init__(self, file: str | Path, lines: dict[KeyPath, int] | None = None) -> None:
        self.file = str(file)
        self.lines = lines or {}
        self.items: list[Issue] = []

    def line_of(self, path: KeyPath) -> int | None:
        """The line of ``path``, or of its nearest ancestor that has one."""
        for cut in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:cut]))
            if line is not None:
                return line
        return None

    def add(self, path: KeyPath, message: str) -> None:
        self.items.append(Issue(self.file, self.line_of(path), tuple(path), message))

    def add_at(self, path: KeyPath, line: int | None, message: str) -> None:
        self.items.append(Issue(self.file, line, tuple(path), message))

    def extend(self, issues: Iterable[Issue]) -> None:
        self.items.extend(issues)

    def drop_consequences(self, pruned: set[KeyPath], since: int) -> None:
        """Forget issues found after the first ``since`` at or around a key the schema already
        rejected (a check of a salvaged profile complaining that the rejected key is missing)."""
        def related(path: KeyPath) -> bool:
            return any(path[:len(p)] == p or p[:len(path)] == path for p in pruned)

        self.items = self.items[:since] + [i for i in self.items[since:] if not related(i.path)]

    def __bool__(self) -> bool:
        return bool(self.items)

    def raise_if_any(self) -> None:
        if self.items:
            raise ProfileError(self.items)
