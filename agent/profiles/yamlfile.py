"""Read a YAML profile and remember on which line every key and list item stands.

``load_yaml(path)`` returns ``(data, lines)`` where ``lines`` maps a key path such as
``("devices", 2, "address")`` to its 1-based line. Duplicate keys are an error (plain YAML
silently keeps the last one, which hides mistakes). Syntax errors become ``ProfileError`` with
the line YAML reports.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Any

import yaml

from agent.profiles.errors import Issue, IssueList, KeyPath, ProfileError

#: no profile is larger (shipped ones are a few KB): a device file or a huge file fails at once
MAX_PROFILE_BYTES = 1024 * 1024
#: quoted text inside a YAML error ("found undefined alias 'x'"): it is the file's content
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")


def read_bounded(path: str | Path, limit: int = MAX_PROFILE_BYTES) -> str:
    """A regular file's text, at most ``limit`` bytes (``OSError`` / ``UnicodeDecodeError`` else).
    Opened without blocking, so a FIFO or ``/dev/zero`` is refused instead of read."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(f"{path}: not a regular file")
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise OSError(f"{path}: larger than {limit} bytes")
    return data.decode("utf-8")


def _generic(problem: str) -> str:
    return _QUOTED.sub("(...)", problem)


def load_yaml(path: str | Path) -> tuple[Any, dict[KeyPath, int]]:
    file = str(path)
    try:
        text = read_bounded(path)
    except OSError as exc:
        raise ProfileError([Issue(file, None, (), f"cannot read: {exc.strerror or exc}")]) from None
    except UnicodeDecodeError:
        raise ProfileError([Issue(file, None, (), "cannot read: not UTF-8 text")]) from None
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}
        issues = IssueList(file)
        lines: dict[KeyPath, int] = {(): node.start_mark.line + 1}
        _index(node, (), lines, issues)
        issues.raise_if_any()
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = _generic(exc.problem or exc.context or "invalid YAML")
        raise ProfileError([Issue(file, line, (), f"YAML syntax: {problem}")]) from None
    except yaml.YAMLError:
        raise ProfileError([Issue(file, None, (), "YAML syntax: not valid YAML")]) from None
    finally:
        loader.dispose()
    return data, lines


def _index(node: yaml.Node, path: KeyPath, lines: dict[KeyPath, int], issues: IssueList) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key_node, value_node in node.value:
            key = _scalar_key(key_node)
            child = (*path, key)
            if key in seen:
                issues.items.append(Issue(issues.file, key_node.start_mark.line + 1, child, "duplicate key"))
                continue
            seen.add(key)
            lines[child] = key_node.start_mark.line + 1
            _index(value_node, child, lines, issues)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            child = (*path, i)
            lines[child] = item.start_mark.line + 1
            _index(item, child, lines, issues)


def _scalar_key(node: yaml.Node) -> Any:
    """The key as the constructed document will hold it: ints stay ints (``1: 3`` routes)."""
    if isinstance(node, yaml.ScalarNode):
        if node.tag == "tag:yaml.org,2002:int":
            try:
                return int(node.value)
            except ValueError:
                return node.value
        return node.value
    return "(a complex key)"      # never its text: that is the file's content
