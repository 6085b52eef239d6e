"""Every mistake of a profile in one pass: when the schema rejects some keys, check the rest too.

``parse_partial`` reports the schema's issues exactly as ``parse_file`` does, then prunes the
rejected keys (a rejected required key takes its optional parent with it) and builds the object
from what is left, returning it with the pruned paths. Cross-key checks (duplicate addresses,
wiring, secrets) then run in the same pass; their complaints about a pruned key are dropped
(``IssueList.drop_consequences``). Such an object is for checking only: the issues say the file
is invalid.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError

from agent.profiles.errors import IssueList, KeyPath
from agent.profiles.parse import parse_file
from agent.profiles.schema import Strict
from agent.profiles.yamlfile import load_yaml

M = TypeVar("M", bound=Strict)

#: rounds of pruning before giving up (each removes what the last round named)
SALVAGE_ROUNDS = 6


def parse_partial(cls: type[M], path: str | Path) -> tuple[M | None, dict[KeyPath, int], IssueList,
                                                            set[KeyPath]]:
    found, lines, issues = parse_file(cls, path)
    if found is not None or not issues:
        return found, lines, issues, set()
    data, _ = load_yaml(path)
    if not isinstance(data, dict):
        return None, lines, issues, set()
    try:
        cls.model_validate(data)
    except ValidationError as exc:
        salvaged, pruned = _salvage(cls, data, exc.errors(include_input=False, include_url=False))
        return salvaged, lines, issues, pruned
    return None, lines, issues, set()


def _salvage(cls: type[M], data: dict[str, Any], errors: list[Any]) -> tuple[M | None, set[KeyPath]]:
    work = copy.deepcopy(data)
    pruned: set[KeyPath] = set()
    for _ in range(SALVAGE_ROUNDS):
        for err in errors:
            wanted = tuple(p for p in err["loc"] if p != "[key]")
            loc = _existing(work, wanted)
            if err["type"] == "missing" and loc == wanted:
                loc = loc[:-1]
            if not loc or not _remove(work, loc):
                return None, pruned     # a required top-level key or a list item: nothing to check
            pruned.add(loc)
        try:
            return cls.model_validate(work), pruned
        except ValidationError as exc:
            errors = exc.errors(include_input=False, include_url=False)
    return None, pruned


def _existing(data: Any, loc: KeyPath) -> KeyPath:
    """The longest prefix of ``loc`` that names something in ``data`` (pydantic adds union tags)."""
    current, out = data, []
    for part in loc:
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current):
            current = current[part]
        else:
            break
        out.append(part)
    return tuple(out)


def _remove(data: Any, loc: KeyPath) -> bool:
    """Delete the mapping entry at ``loc``; False for a list item (its siblings' indexes would shift
    and every later issue would point at the wrong entry)."""
    parent = data
    for part in loc[:-1]:
        parent = parent[part]
    if not isinstance(parent, dict):
        return False
    del parent[loc[-1]]
    return True
