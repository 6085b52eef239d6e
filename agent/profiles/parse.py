"""YAML file -> validated schema object, with every schema error as a located ``Issue``.

Messages never quote the offending value (it might be a pasted password); the line and key
path say where it is.
"""

from __future__ import annotations

import difflib
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from agent.profiles.errors import IssueList, KeyPath
from agent.profiles.schema import Strict
from agent.profiles.yamlfile import load_yaml

M = TypeVar("M", bound=Strict)

_TYPE_MESSAGES = {
    "int_type": "expected an integer",
    "int_parsing": "expected an integer",
    "int_from_float": "expected an integer",
    "float_type": "expected a number",
    "float_parsing": "expected a number",
    "string_type": "expected a string",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
    "dict_type": "expected a mapping",
    "model_type": "expected a mapping",
    "model_attributes_type": "expected a mapping",
    "list_type": "expected a list",
    "missing": "missing required key",
}


def parse_file(cls: type[M], path: str | Path) -> tuple[M | None, dict[KeyPath, int], IssueList]:
    """Validate ``path`` against ``cls``. Returns the object (None if invalid), the line map and
    the issues found (YAML syntax problems raise ``ProfileError`` directly)."""
    data, lines = load_yaml(path)
    issues = IssueList(path, lines)
    if not isinstance(data, dict):
        issues.add((), "expected a mapping of keys at the top level")
        return None, lines, issues
    try:
        return cls.model_validate(data), lines, issues
    except ValidationError as exc:
        for err in exc.errors(include_input=False, include_url=False):
            loc = tuple(p for p in err["loc"] if p != "[key]")
            issues.add(loc, describe_error(cls, err))
        return None, lines, issues


def describe_error(cls: type[BaseModel], err: Any) -> str:
    kind = err["type"]
    ctx = err.get("ctx") or {}
    if kind == "extra_forbidden":
        return _unknown_key(cls, err["loc"])
    if kind == "value_error":
        return str(ctx.get("error", err["msg"]))
    if kind == "literal_error":
        return f"expected one of {ctx.get('expected', '')}"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        op = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<=",
              "less_than": "<"}[kind]
        bound = next(iter(ctx.values()), "")
        return f"must be {op} {bound}"
    if kind == "too_short":
        return "must not be empty"
    return _TYPE_MESSAGES.get(kind, str(err["msg"]))


def _unknown_key(cls: type[BaseModel], loc: tuple[Any, ...]) -> str:
    owner = _model_at(cls, loc[:-1])
    if owner is None:
        return "unknown key"
    known = list(owner.model_fields)
    close = difflib.get_close_matches(str(loc[-1]), known, n=1)
    hint = f"did you mean '{close[0]}'?" if close else "allowed: " + ", ".join(known)
    return f"unknown key ({hint})"


def _model_at(cls: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The schema class that owns the mapping at ``loc`` (to suggest the keys it allows)."""
    current: Any = cls
    for part in loc:
        current = _strip(current)
        origin = typing.get_origin(current)
        if origin is list:
            current = typing.get_args(current)[0]
        elif origin is dict:
            current = typing.get_args(current)[1]
        elif isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            if field is None:
                return None
            current = field.annotation
        else:
            return None
    current = _strip(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _strip(tp: Any) -> Any:
    """Remove Annotated[...] and Optional[...] wrappers."""
    while True:
        origin = typing.get_origin(tp)
        args = typing.get_args(tp)
        if origin is typing.Annotated:
            tp = args[0]
        elif origin in (typing.Union, types.UnionType):
            non_none = [a for a in args if a is not type(None)]
            if len(non_none) != 1:
                return tp
            tp = non_none[0]
        else:
            return tp
