"""The agent <-> central wire schema, version 1.

Every message is one JSON object with ``type``, ``msg_id``, ``schema_version``, ``site`` and
``sent_at``. Agent -> central: ``hello``, ``status``, ``selftest``, ``event``, ``command_result``,
``ack``, ``heartbeat``. Central -> agent: ``command``, ``schedule``, ``ack``, ``heartbeat``.
Every message except ``ack`` and ``heartbeat`` is acknowledged by ``msg_id``; the receiver
ingests a repeated ``msg_id`` once.

Link (``/agent/v1/link``, WebSocket): the agent authenticates on the handshake with its site token
in the header ``Authorization: Bearer <token>``; without a valid token the handshake is refused
(HTTP 403). Every message's ``site`` must be the token's site, else central closes the link with
code 1008 (policy violation). Central sends a ``schedule`` after each ``hello`` and whenever the
site's meetings change, delivers queued commands on connect (``msg_id`` == ``command_id``, so a
re-delivered command is the same message), and a ``heartbeat`` every interval; an agent silent for
several intervals is dropped. An ``ack`` for a ``command`` tells central the agent holds it (state
``running``). A frame central will never ingest (invalid, or naming another site's device) is
answered with an ``ack`` whose ``rejected`` maps its ``msg_id`` to the reason, so the agent can
drop it from its outbox instead of resending it forever.

Versions: ``schema_version`` is the major version, ``schema_minor`` the minor one (a message
without ``schema_minor`` comes from a 1.0 peer). A minor version only adds optional fields and
new message or command kinds, so both sides ignore fields they do not know in reports and
schedules (the YAML profiles stay strict). Central checks the major version at ``hello`` and
closes the link of an agent it cannot read with ``CLOSE_INCOMPATIBLE`` and the reason. A command
is an order, not a report: an agent that finds a field or a kind it does not know in a command
does not run part of it but answers a ``command_result`` (``failed``, ``result.unsupported``).
Messages are dumped for the peer's minor version, so a field newer than the peer is left out.

A rejected frame is one central will never ingest as it stands; ``kept`` lists the rejected ids
central has set aside with their reason (the dead letters an admin can list and replay). An
agent deletes a rejected message from its outbox only when central kept it; otherwise it parks
the message in its own state directory (never resent in a loop, never deleted).

Bounds (``contracts.limits``): frame size per type, JSON depth, ids (pattern, at most 64
characters), device counts, a status's ``details`` and an event's ``data`` at most 64 KB.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from functools import cache
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from contracts.limits import (
    MAX_DETAILS_BYTES,
    MAX_DEVICES,
    MAX_LIST,
    MAX_TEXT,
    MSG_ID_MAX,
    MSG_ID_PATTERN,
    FrameTooDeep,
    FrameTooLarge,
    json_size,
    load_bounded,
    valid_id,
)

#: the major version: a change a peer of another major version cannot read
SCHEMA_VERSION = 1
#: the minor version: additive changes only (1: ``schema_minor`` itself, ``Ack.kept``)
SCHEMA_MINOR = 1
#: close code of a link whose agent speaks a major version central cannot read
CLOSE_INCOMPATIBLE = 4010
#: close code of a link whose token was revoked or whose site was disabled
CLOSE_REVOKED = 4003

MsgId = Annotated[str, Field(max_length=MSG_ID_MAX, pattern=MSG_ID_PATTERN)]
Text = Annotated[str, Field(max_length=MAX_TEXT)]


def new_id() -> str:
    return uuid.uuid4().hex


def utcnow() -> datetime:
    return datetime.now(UTC)


def _since(minor: int) -> Any:
    """Field metadata: the minor version that added the field (left out for older peers)."""
    return {"since": minor}


def _bounded_json(value: dict[str, Any], what: str) -> dict[str, Any]:
    if value and json_size(value) > MAX_DETAILS_BYTES:
        raise ValueError(f"{what} is over {MAX_DETAILS_BYTES // 1024} KB")
    return value


class _Model(BaseModel):
    # a newer peer's added optional fields are ignored, never a reason to refuse a report
    model_config = ConfigDict(extra="ignore")


class Envelope(_Model):
    msg_id: MsgId = Field(default_factory=new_id)
    schema_version: int = SCHEMA_VERSION
    schema_minor: int = Field(SCHEMA_MINOR, ge=0, json_schema_extra=_since(1))
    site: str = Field(max_length=64)
    sent_at: datetime = Field(default_factory=utcnow)

    @property
    def peer_minor(self) -> int:
        """The sender's minor version (0 when it predates ``schema_minor``)."""
        return self.schema_minor if "schema_minor" in self.model_fields_set else 0


# -- pieces ---------------------------------------------------------------------------------------
class DeviceInfo(_Model):
    id: str = Field(max_length=128)      # "urumqi.codec"
    model: str = Field(max_length=128)   # "cisco-roomkit"
    roles: list[str] = Field([], max_length=32)
    address: str = Field("", max_length=255)   # URL without credentials
    identity: dict[str, str] = {}        # vendor, model, serial, firmware when known
    #: What central plans with, e.g. a codec's {"uri": "sip:urumqi@example.org", "multisite_capacity": 4}
    capabilities: dict[str, Any] = {}

    @field_validator("identity", "capabilities")
    @classmethod
    def _bounded(cls, value: dict[str, Any]) -> dict[str, Any]:
        return _bounded_json(value, "identity or capabilities")


class DeviceStatus(_Model):
    id: str = Field(max_length=128)
    up: bool
    verdict: Literal["ok", "degraded", "down", "unknown"] = "unknown"
    reasons: list[Text] = Field([], max_length=64)
    details: dict[str, Any] = {}
    since: datetime | None = None        # when it entered this up/down state

    @field_validator("details")
    @classmethod
    def _bounded(cls, value: dict[str, Any]) -> dict[str, Any]:
        return _bounded_json(value, "details")


class CallState(_Model):
    device: str = Field(max_length=128)
    call_id: str = Field(max_length=128)
    remote_uri: str = ""
    direction: str = ""
    state: str                           # dialing, ringing, connecting, connected, idle
    rate_kbps: int = 0
    resolution: str = ""
    hd: bool = False
    meeting_id: str | None = None


class CheckResult(_Model):
    device: str = Field(max_length=128)  # device id, or the site id for site checks
    name: str                            # "codec.registered"
    status: Literal["pass", "warn", "fail", "skip"]
    reason: str = ""
    measured: dict[str, Any] = {}
    duration_ms: float = 0.0
    evidence: list[str] = []             # redacted transcript tail


class MeetingSchedule(_Model):
    id: str
    title: str
    start: datetime
    end: datetime
    host_site: str
    sites: list[str]
    mode: Literal["bridge", "host"]
    bridge_uri: str | None = None


# -- agent -> central -----------------------------------------------------------------------------
class Hello(Envelope):
    type: Literal["hello"] = "hello"
    agent_version: str = Field(max_length=64)
    devices: list[DeviceInfo] = Field([], max_length=MAX_DEVICES)
    last_seen_command: str | None = None


class Status(Envelope):
    type: Literal["status"] = "status"
    devices: list[DeviceStatus] = Field([], max_length=MAX_DEVICES)
    calls: list[CallState] = Field([], max_length=MAX_DEVICES)
    recording: dict[str, Any] | None = None


class SelftestReport(Envelope):
    type: Literal["selftest"] = "selftest"
    run_id: str = Field(default_factory=new_id)
    trigger: Literal["pre_meeting", "inspection", "on_demand", "relocation"]
    meeting_id: str | None = None
    command_id: str | None = None
    started_at: datetime
    finished_at: datetime
    verdict: Literal["ready", "degraded", "not_ready"]
    late: bool = False                    # ran after its scheduled time (agent was down)
    checks: list[CheckResult] = Field([], max_length=MAX_LIST)
    #: monthly inspection: identities and firmware; configuration differing from the profile
    inventory: list[DeviceInfo] = Field([], max_length=MAX_DEVICES)
    drift: list[dict[str, Any]] = Field([], max_length=MAX_LIST)
    uplink: dict[str, Any] | None = None  # rtt_ms, loss, up_mbps, down_mbps


class Event(Envelope):
    type: Literal["event"] = "event"
    kind: str = Field(max_length=64)      # device_down, device_up, call_state, recording_started,
                                          # recording_stopped, uplink, job_late, relocation ...
    device: str | None = Field(None, max_length=128)
    at: datetime = Field(default_factory=utcnow)
    data: dict[str, Any] = {}

    @field_validator("data")
    @classmethod
    def _bounded(cls, value: dict[str, Any]) -> dict[str, Any]:
        return _bounded_json(value, "data")


class CommandResult(Envelope):
    type: Literal["command_result"] = "command_result"
    command_id: MsgId
    state: Literal["running", "succeeded", "failed", "expired"]
    result: dict[str, Any] = {}
    error: str | None = None
    finished_at: datetime | None = None


# -- central -> agent -----------------------------------------------------------------------------
COMMAND_KINDS = frozenset({
    "reboot", "power_cycle", "selftest", "prepare", "connect", "disconnect", "standby",
    "record_start", "record_stop", "apply_config", "relocate_plan", "relocate_apply", "uplink_test",
    "mute",
})


class Command(Envelope):
    # fields a newer central added are kept so the agent can refuse what it cannot do in full
    model_config = ConfigDict(extra="allow")

    type: Literal["command"] = "command"
    command_id: MsgId = Field(default_factory=new_id)
    kind: str = Field(max_length=64)
    device: str | None = Field(None, max_length=128)   # "urumqi.codec"; None for site-wide commands
    args: dict[str, Any] = {}
    deadline: datetime

    def unknown_fields(self) -> list[str]:
        return sorted(self.model_extra or {})


class Schedule(Envelope):
    """The full list of upcoming meetings involving the site (replaces the previous one)."""

    type: Literal["schedule"] = "schedule"
    meetings: list[MeetingSchedule] = []


# -- both ways --------------------------------------------------------------------------------------
class Ack(Envelope):
    type: Literal["ack"] = "ack"
    ack_ids: list[MsgId] = Field(max_length=MAX_LIST)
    #: msg_id -> reason, for frames the receiver will never ingest (do not resend them)
    rejected: dict[str, str] = Field({}, max_length=MAX_LIST)
    #: the rejected ids the receiver kept with their reason (safe to delete on the sender's side)
    kept: list[MsgId] = Field([], max_length=MAX_LIST, json_schema_extra=_since(1))


class Heartbeat(Envelope):
    type: Literal["heartbeat"] = "heartbeat"


Message = Annotated[
    Hello | Status | SelftestReport | Event | CommandResult | Command | Schedule | Ack | Heartbeat,
    Field(discriminator="type"),
]
_ADAPTER: TypeAdapter[Any] = TypeAdapter(Message)


class BadMessage(ValueError):
    """A frame that is not a valid message of this schema version."""


class UnknownType(BadMessage):
    """A well-formed frame of a message type this side does not know (a newer peer's)."""

    def __init__(self, kind: str, msg_id: str | None) -> None:
        super().__init__(f"message type {kind!r} is not supported by schema {SCHEMA_VERSION}.{SCHEMA_MINOR}")
        self.kind = kind
        self.msg_id = msg_id


_TYPES = frozenset({"hello", "status", "selftest", "event", "command_result", "command", "schedule", "ack",
                    "heartbeat"})


def load_frame(raw: str | bytes) -> Any:
    """The frame's JSON value after the size and depth checks, or ``BadMessage``."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    try:
        return load_bounded(text)
    except (FrameTooLarge, FrameTooDeep) as exc:
        raise BadMessage(str(exc)) from exc
    except ValueError as exc:
        raise BadMessage(f"not JSON: {exc}") from exc


def parse_value(value: Any) -> Any:
    """A frame's JSON value (from ``load_frame``) as its message model, or ``BadMessage``."""
    kind = value.get("type") if isinstance(value, dict) else None
    if isinstance(kind, str) and kind not in _TYPES:
        msg_id = value.get("msg_id")
        raise UnknownType(kind[:32], msg_id if valid_id(msg_id) else None)
    try:
        return _ADAPTER.validate_python(value)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise BadMessage(f"invalid message at {where or '<root>'}: {first.get('msg')}") from exc


def parse_message(raw: str | bytes) -> Any:
    """Parse one JSON frame into its message model, or raise ``BadMessage`` with the reason.

    Size and depth are checked first (``contracts.limits``), so no frame raises anything else.
    """
    return parse_value(load_frame(raw))


@cache
def _newer_fields(model: type[BaseModel], peer_minor: int) -> frozenset[str]:
    out = set()
    for name, info in model.model_fields.items():
        extra = info.json_schema_extra
        if isinstance(extra, dict) and int(extra.get("since", 0)) > peer_minor:  # type: ignore[arg-type]
            out.add(name)
    return frozenset(out)


def dump_message(msg: BaseModel, peer_minor: int | None = None) -> str:
    """The frame for ``msg``; for a peer of an older minor version, without fields it cannot know."""
    if peer_minor is None or peer_minor >= SCHEMA_MINOR:
        return msg.model_dump_json()
    return msg.model_dump_json(exclude=set(_newer_fields(type(msg), peer_minor)))
