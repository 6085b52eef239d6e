"""Every argument of a command from central, checked by type and pattern before a handler runs.

Central validates too (``central.services.command_args``), but the agent trusts nothing that
arrives over the link: a name is a name (never a path), a dial string holds no quote, space or
line break the codec's CLI could take as syntax, numbers are within sane bounds, and an unknown
argument is refused (a newer central's new argument fails clearly instead of being half-obeyed).

``validate(kind, args)`` returns the args a handler may read (only the keys that were sent, so the
handlers' own defaults still apply) or raises ``BadArguments`` whose text names the argument and
the rule, never the value. A kind without a schema here gets the generic rule: identifier keys,
bounded scalars and lists of them. Add a schema to ``SCHEMAS`` with every new command kind.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator

#: ids central makes (uuid4 hex) and site ids
Id = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
SiteId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]{0,63}$")]
#: a venue is a file stem in the agent's venue directory, never a path (see ``agent.venues``)
VenueName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
#: SIP / H.323 / tel URIs and dial numbers: no space, quote, or control character
DialUri = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9+\[][A-Za-z0-9:@._+;=%\[\]*#~!$,/-]{0,254}$")]
#: device setting keys as drivers name them ("network.ipv4.address", "sip.uri")
ConfigKey = Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_.-]{0,99}$")]


class Args(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=False)


class NoArgs(Args):
    pass


class SelftestArgs(Args):
    trigger: Literal["on_demand", "inspection", "pre_meeting", "relocation"] = "on_demand"
    run_id: Id | None = None
    meeting_id: Id | None = None


class PrepareArgs(Args):
    meeting_id: Id | None = None
    mode: Literal["bridge", "host"] | None = None
    role: Literal["host", "participant"] | None = None
    auto_answer: bool = False


class Participant(Args):
    site: SiteId
    uri: DialUri


class ConnectArgs(Args):
    meeting_id: Id | None = None
    mode: Literal["bridge", "host"] | None = None
    uri: DialUri | None = None
    bridge_uri: DialUri | None = None
    uris: list[DialUri] = Field(default_factory=list, max_length=64)
    participants: list[Participant] = Field(default_factory=list, max_length=64)
    rate: int = Field(1920, ge=64, le=20000)
    protocol: Literal["sip", "h323"] = "sip"
    wait: float = Field(10.0, ge=0, le=600)
    #: hang up this meeting's call first and dial again (redial of one site)
    redial: bool = False


class MeetingArgs(Args):
    meeting_id: Id | None = None


class DisconnectArgs(MeetingArgs):
    #: the site leaves a running meeting (drop), rather than the meeting ending
    drop: bool = False


class MuteArgs(MeetingArgs):
    on: bool = True


class StandbyArgs(Args):
    on: bool = True
    displays: bool = True


class ApplyConfigArgs(Args):
    #: values: scalars, lists or mappings of them, two levels deep at most (switcher ``routes``)
    config: dict[ConfigKey, Any] = Field(max_length=200)

    @field_validator("config")
    @classmethod
    def _values(cls, config: dict[str, Any]) -> dict[str, Any]:
        for key, value in config.items():
            if not _value_ok(value, depth=2):
                raise ValueError(f"{key}: expected short text, a number, true/false, null, or a list "
                                 "or mapping of those")
        return config


class RelocateArgs(Args):
    relocation_id: Id | None = None
    venue: VenueName
    #: the plan central stored (the agent plans again; kept only for the record)
    plan: dict[str, Any] = Field(default_factory=dict)


SCHEMAS: dict[str, type[Args]] = {
    "reboot": NoArgs, "power_cycle": NoArgs, "uplink_test": NoArgs,
    "selftest": SelftestArgs, "prepare": PrepareArgs, "connect": ConnectArgs,
    "disconnect": DisconnectArgs, "mute": MuteArgs, "record_start": MeetingArgs, "record_stop": MeetingArgs,
    "standby": StandbyArgs, "apply_config": ApplyConfigArgs,
    "relocate_plan": RelocateArgs, "relocate_apply": RelocateArgs,
}

MAX_GENERIC_KEYS = 32
MAX_GENERIC_ITEMS = 64


class BadArguments(ValueError):
    """The arguments break a rule; the message names the argument, never its value."""


_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,63}")
_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")      # nested keys: switcher outputs are numbers


def _name_ok(key: object) -> bool:
    return isinstance(key, str) and _NAME.fullmatch(key) is not None


def _where(loc: tuple[Any, ...]) -> str:
    """The argument's path; a key that is not a plain name is shown as ``?``."""
    parts = [str(p) if isinstance(p, int) or _name_ok(p) else "?" for p in loc]
    return ".".join(parts) or "args"


def validate(kind: str, args: Any) -> dict[str, Any]:
    """The checked arguments of a ``kind`` command (see the module docstring)."""
    if not isinstance(args, dict):
        raise BadArguments("args: expected a mapping")
    schema = SCHEMAS.get(kind)
    if schema is None:
        return _generic(args)
    try:
        model = schema.model_validate(args)
    except ValidationError as exc:
        problems = [f"{_where(tuple(e['loc']))}: {e['msg']}"
                    for e in exc.errors(include_input=False, include_url=False, include_context=False)]
        raise BadArguments("; ".join(problems[:5])) from None
    # only what central sent: the handlers keep their own defaults for the rest
    return model.model_dump(exclude_unset=True)


def _generic(args: dict[str, Any]) -> dict[str, Any]:
    """Kinds without a schema: identifier keys, scalars or flat lists of scalars."""
    if len(args) > MAX_GENERIC_KEYS:
        raise BadArguments(f"args: more than {MAX_GENERIC_KEYS} arguments")
    for key, value in args.items():
        if not _name_ok(key):
            raise BadArguments("args: an argument name is not an identifier")
        items = value if isinstance(value, list) else [value]
        if len(items) > MAX_GENERIC_ITEMS:
            raise BadArguments(f"{key}: more than {MAX_GENERIC_ITEMS} items")
        for item in items:
            if not _scalar_ok(item):
                raise BadArguments(f"{key}: expected short text, a number, true/false or null")
    return dict(args)


def _value_ok(value: Any, depth: int) -> bool:
    if isinstance(value, list):
        return depth > 0 and len(value) <= MAX_GENERIC_ITEMS and all(_value_ok(v, depth - 1) for v in value)
    if isinstance(value, dict):
        return (depth > 0 and len(value) <= MAX_GENERIC_ITEMS
                and all(isinstance(k, str) and _KEY.fullmatch(k) for k in value)
                and all(_value_ok(v, depth - 1) for v in value.values()))
    return _scalar_ok(value)


def _scalar_ok(value: Any) -> bool:
    if value is None or isinstance(value, bool):
        return True
    if isinstance(value, int):
        return abs(value) <= 2**53
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, str):
        return len(value) <= 1000 and not any(ord(c) < 32 or ord(c) == 127 for c in value)
    return False
