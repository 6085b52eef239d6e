"""Request and response bodies of the REST API (never a secret or a hash)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Created(BaseModel):
    id: str


# -- auth -------------------------------------------------------------------------------------------
class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int


class SessionOut(BaseModel):
    username: str
    roles: list[str]
    csrf_token: str


class MeOut(BaseModel):
    username: str
    roles: list[str]


# -- admin ------------------------------------------------------------------------------------------
class UserIn(In):
    username: str
    password: str = Field(min_length=8)
    roles: list[Literal["viewer", "secretariat", "engineer", "admin"]] = Field(min_length=1)


class UserOut(Out):
    id: int
    username: str
    roles: list[str]
    active: bool
    created_at: datetime


class SiteIn(In):
    id: str
    name: str = ""
    name_zh: str = ""
    timezone: str = "Asia/Shanghai"
    codec_uri: str | None = None
    multisite_capacity: int | None = Field(None, ge=1)


class SiteTokenOut(BaseModel):
    token_id: str
    site: str
    token: str = Field(description="shown once; only its hash is stored")


# -- sites and devices ------------------------------------------------------------------------------
class DeviceOut(Out):
    id: str
    site_id: str
    model: str
    roles: list[str]
    address: str
    identity: dict[str, Any]
    capabilities: dict[str, Any]
    up: bool | None
    verdict: str
    reasons: list[str]
    details: dict[str, Any]
    since: datetime | None
    last_seen: datetime | None


class HealthSummary(BaseModel):
    devices: int
    up: int
    down: int
    unknown: int
    open_faults: int
    verdict: Literal["ok", "degraded", "down", "unknown"]


class SiteOut(Out):
    id: str
    name: str
    name_zh: str
    timezone: str
    codec_uri: str | None
    multisite_capacity: int | None
    agent_connected: bool
    agent_version: str
    connected_at: datetime | None
    last_seen: datetime | None


class SiteDetailOut(SiteOut):
    health: HealthSummary


class UplinkOut(Out):
    at: datetime
    rtt_ms: float | None
    loss: float | None
    up_mbps: float | None
    down_mbps: float | None
    source: str


# -- commands ---------------------------------------------------------------------------------------
DEVICE_COMMAND_KINDS = ("reboot", "power_cycle", "standby", "apply_config", "selftest", "uplink_test")


class DeviceCommandIn(In):
    kind: Literal["reboot", "power_cycle", "standby", "apply_config", "selftest", "uplink_test"]
    args: dict[str, Any] = {}
    deadline_seconds: float | None = Field(None, gt=0, le=24 * 3600)


class CommandOut(Out):
    id: str
    site_id: str
    device_id: str | None
    kind: str
    args: dict[str, Any]
    state: str
    deadline: datetime
    result: dict[str, Any]
    error: str | None
    requested_by: str
    meeting_id: str | None
    created_at: datetime
    sent_at: datetime | None
    acked_at: datetime | None
    finished_at: datetime | None


# -- self-tests -------------------------------------------------------------------------------------
class SelftestRequestOut(BaseModel):
    id: str
    command_id: str


class SelftestOut(Out):
    id: str
    site_id: str
    command_id: str | None
    trigger: str
    meeting_id: str | None
    state: str
    verdict: str | None
    late: bool
    started_at: datetime | None
    finished_at: datetime | None
    checks: list[dict[str, Any]]
    inventory: list[dict[str, Any]]
    drift: list[dict[str, Any]]
    uplink: dict[str, Any] | None
    requested_by: str
    created_at: datetime


# -- meetings ---------------------------------------------------------------------------------------
class MeetingIn(In):
    title: str = Field(min_length=1, max_length=300)
    start: AwareDatetime
    end: AwareDatetime
    host_site: str
    sites: list[str] = Field(min_length=1)
    mode: Literal["bridge", "host"]
    #: optional: a bridge meeting without one dials the organisation's default bridge
    bridge_uri: str | None = None
    #: start by itself at the start time; None follows the organisation setting
    auto_start: bool | None = None
    #: book over a conflicting meeting (409 otherwise); needs force_reason, which is audited
    force: bool = False
    force_reason: str | None = Field(None, max_length=500)


class MeetingStartIn(In):
    """Optional body of a start: override a site still held by another started meeting."""

    force: bool = False
    reason: str | None = Field(None, max_length=500)


class MeetingSiteAddIn(In):
    site: str = Field(min_length=1, max_length=64)
    force: bool = False
    reason: str | None = Field(None, max_length=500)


class MuteIn(In):
    on: bool


class MeetingSettingsOut(BaseModel):
    """The organisation's meeting settings (server settings, read-only here)."""

    default_bridge_uri: str | None
    auto_start: bool


class MeetingSiteOut(Out):
    site_id: str
    readiness: str | None
    readiness_at: datetime | None
    selftest_id: str | None
    call_state: str
    call: dict[str, Any]
    recording: str | None
    problem: str | None
    satisfaction: int | None
    problem_code: str | None = None
    preparation: list[dict[str, Any]] | None = None
    muted: bool | None = None


class RecordingOut(Out):
    id: str
    site_id: str
    file: str
    size: int
    duration_s: float
    sha256: str
    created_at: datetime


class MeetingOut(Out):
    id: str
    title: str
    start: datetime
    end: datetime
    host_site: str
    mode: str
    bridge_uri: str | None
    state: str
    created_by: str
    created_at: datetime
    started_at: datetime | None
    started_by: str | None
    stopped_at: datetime | None
    stopped_by: str | None
    auto_start: bool | None = None
    override_reason: str | None = None


class MeetingDetailOut(MeetingOut):
    sites: list[MeetingSiteOut]
    recordings: list[RecordingOut]


class SatisfactionIn(In):
    rating: int = Field(ge=1, le=5)


# -- relocations, faults, audit ---------------------------------------------------------------------
class RelocationIn(In):
    venue: str = Field(min_length=1, max_length=200)


class RelocationOut(Out):
    id: str
    site_id: str
    venue: str
    state: str
    plan: dict[str, Any]
    result: dict[str, Any]
    error: str | None
    plan_command_id: str | None
    apply_command_id: str | None
    requested_by: str
    created_at: datetime
    updated_at: datetime


class FaultOut(Out):
    id: int
    site_id: str
    device_id: str
    check_name: str | None
    opened_at: datetime
    closed_at: datetime | None
    cause: str
    notes: str
    closed_by: str | None
    reason: str | None


class FaultDetailOut(FaultOut):
    commands: list[CommandOut]


class AuditOut(Out):
    id: int
    at: datetime
    actor: str
    action: str
    target: str
    outcome: str
    detail: dict[str, Any]
    command_id: str | None
    finished_at: datetime | None
