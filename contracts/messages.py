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

Additive changes (a new optional field, a new command kind) keep the version; anything else
bumps ``SCHEMA_VERSION`` and central keeps reading the previous one.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

SCHEMA_VERSION = 1


def new_id() -> str:
    return uuid.uuid4().hex


def utcnow() -> datetime:
    return datetime.now(UTC)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Envelope(_Model):
    msg_id: str = Field(default_factory=new_id)
    schema_version: int = SCHEMA_VERSION
    site: str
    sent_at: datetime = Field(default_factory=utcnow)


# -- pieces ---------------------------------------------------------------------------------------
class DeviceInfo(_Model):
    id: str                              # "urumqi.codec"
    model: str                           # "cisco-roomkit"
    roles: list[str] = []
    address: str = ""                    # URL without credentials
    identity: dict[str, str] = {}        # vendor, model, serial, firmware when known
    #: What central plans with, e.g. a codec's {"uri": "sip:urumqi@example.org", "multisite_capacity": 4}
    capabilities: dict[str, Any] = {}


class DeviceStatus(_Model):
    id: str
    up: bool
    verdict: Literal["ok", "degraded", "down", "unknown"] = "unknown"
    reasons: list[str] = []
    details: dict[str, Any] = {}
    since: datetime | None = None        # when it entered this up/down state


class CallState(_Model):
    device: str
    call_id: str
    remote_uri: str = ""
    direction: str = ""
    state: str                           # dialing, ringing, connecting, connected, idle
    rate_kbps: int = 0
    resolution: str = ""
    hd: bool = False
    meeting_id: str | None = None


class CheckResult(_Model):
    device: str                          # device id, or the site id for site checks
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
    agent_version: str
    devices: list[DeviceInfo] = []
    last_seen_command: str | None = None


class Status(Envelope):
    type: Literal["status"] = "status"
    devices: list[DeviceStatus] = []
    calls: list[CallState] = []
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
    checks: list[CheckResult] = []
    inventory: list[DeviceInfo] = []      # monthly inspection: identities and firmware
    drift: list[dict[str, Any]] = []      # monthly inspection: config differing from the profile
    uplink: dict[str, Any] | None = None  # rtt_ms, loss, up_mbps, down_mbps


class Event(Envelope):
    type: Literal["event"] = "event"
    kind: str                             # device_down, device_up, call_state, recording_started,
                                          # recording_stopped, uplink, job_late, relocation ...
    device: str | None = None
    at: datetime = Field(default_factory=utcnow)
    data: dict[str, Any] = {}


class CommandResult(Envelope):
    type: Literal["command_result"] = "command_result"
    command_id: str
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
    type: Literal["command"] = "command"
    command_id: str = Field(default_factory=new_id)
    kind: str
    device: str | None = None             # "urumqi.codec"; None for site-wide commands
    args: dict[str, Any] = {}
    deadline: datetime


class Schedule(Envelope):
    """The full list of upcoming meetings involving the site (replaces the previous one)."""

    type: Literal["schedule"] = "schedule"
    meetings: list[MeetingSchedule] = []


# -- both ways --------------------------------------------------------------------------------------
class Ack(Envelope):
    type: Literal["ack"] = "ack"
    ack_ids: list[str]
    #: msg_id -> reason, for frames the receiver will never ingest (do not resend them)
    rejected: dict[str, str] = {}


class Heartbeat(Envelope):
    type: Literal["heartbeat"] = "heartbeat"


Message = Annotated[
    Hello | Status | SelftestReport | Event | CommandResult | Command | Schedule | Ack | Heartbeat,
    Field(discriminator="type"),
]
_ADAPTER: TypeAdapter[Any] = TypeAdapter(Message)


class BadMessage(ValueError):
    """A frame that is not a valid message of this schema version."""


def parse_message(raw: str | bytes) -> Any:
    """Parse one JSON frame into its message model, or raise ``BadMessage`` with the reason."""
    try:
        return _ADAPTER.validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise BadMessage(f"invalid message at {where or '<root>'}: {first.get('msg')}") from exc


def dump_message(msg: BaseModel) -> str:
    return msg.model_dump_json()
