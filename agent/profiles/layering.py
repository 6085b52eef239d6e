"""Where a resolved value came from.

A device setting is looked up in layers, most specific first: the device entry in the site
profile, then the site's ``defaults``, then the model profile, then a built-in default. The
first layer that sets it wins; ``Choice`` keeps the winner's origin and the values it hid, so
``roomops profiles explain`` can answer "why is this port 2222?".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agent.profiles.errors import KeyPath, display_path, format_path

LAYERS = ("device", "site defaults", "model", "built-in")


@dataclass(frozen=True)
class Origin:
    layer: str                     # one of LAYERS
    file: str = ""
    line: int | None = None
    path: KeyPath = ()

    def __str__(self) -> str:
        if not self.file:
            return self.layer
        where = display_path(self.file) + (f":{self.line}" if self.line is not None else "")
        return f"{self.layer} ({where} {format_path(self.path)})"


@dataclass(frozen=True)
class Candidate:
    value: Any
    origin: Origin


@dataclass(frozen=True)
class Choice:
    value: Any
    origin: Origin
    hidden: tuple[Candidate, ...] = ()     # lower layers that also set a value

    def explain(self, name: str, *, mask: bool = False) -> str:
        shown = "********" if mask and self.value not in (None, "") else self.value
        text = f"{name} = {shown!r}  <- {self.origin}"
        for c in self.hidden:
            other = "********" if mask and c.value not in (None, "") else c.value
            text += f"\n    overrides {other!r} from {c.origin}"
        return text


def choose(*candidates: Candidate | None, default: Any = None) -> Choice:
    """The first candidate that is set (not None), with the others it overrides."""
    present = [c for c in candidates if c is not None and c.value is not None]
    if not present:
        return Choice(default, Origin("built-in"))
    return Choice(present[0].value, present[0].origin, tuple(present[1:]))


class Located:
    """A parsed document with its file and line map, to make ``Candidate`` objects from paths."""

    def __init__(self, layer: str, file: str, lines: dict[KeyPath, int]) -> None:
        self.layer = layer
        self.file = file
        self.lines = lines

    def origin(self, path: KeyPath) -> Origin:
        line = None
        for cut in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:cut]))
            if line is not None:
                break
        return Origin(self.layer, self.file, line, path)

    def at(self, value: Any, *path: str | int) -> Candidate | None:
        return None if value is None else Candidate(value, self.origin(tuple(path)))
