"""Request and response bodies of the REST API (never a secret or a hash)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from zoneinfo import available_timezones

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)


def _printable(text: str) -> str:
    """Stored text must render on every page and report: no control character, no lone surrogate
    (it cannot be encoded as UTF-8, so a PDF or CSV export would fail on it later)."""
    for char in text:
        code = ord(char)
        if code < 32 or code == 127 or 0xD800 <= code <= 0xDFFF:
            raise ValueError("must not contain control characters or lone surrogates")
    return text


def _text(max_length: int, min_length: int = 0) -> Any:
    """A printable text field of bounded length (see ``_printable``)."""
    return Annotated[str, Field(min_length=min_length, max_length=max_length), AfterValidator(_printable)]


Name = _text(200)
Title = _text(300, min_length=1)
Reason = _text(500, min_length=1)
Password = _text(1024, min_length=8)


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
#: stored values are checked here, at the door, so no row can break a page or a report later
SITE_ID_PATTERN = r"^[a-z][a-z0-9_-]{0,63}$"
SiteId = Annotated[str, StringConstraints(pattern=SITE_ID_PATTERN)]
#: SIP / H.323 / tel URIs: no space, quote or control character (they end up in codec commands)
URI_PATTERN = r"^[A-Za-z0-9+\[][A-Za-z0-9:@._+;=%\[\]*#~!$,/-]{0,254}$"
CallUri = Annotated[str, StringConstraints(pattern=URI_PATTERN)]
#: a host codec's far ends: real codecs host a handful; 64 is far above any of them
MAX_MULTISITE = 64


def _timezone(name: str) -> str:
    if name not in available_timezones():
        raise ValueError("must be an IANA time zone such as Asia/Shanghai")
    return name


TimeZoneName = Annotated[str, Field(max_length=64), AfterValidator(_timezone)]


class UserIn(In):
    username: str = Field(pattern=r"^[A-Za-z0-9_.@-]{1,64}$")
    password: Password
    roles: list[Literal["viewer", "secretariat", "engineer", "admin"]] = Field(min_length=1, max_length=4)


class UserOut(Out):
    id: int
    username: str
    roles: list[str]
    active: bool
    created_at: datetime


class SiteIn(In):
    id: SiteId
    name: Name = ""
    name_zh: Name = ""
    timezone: TimeZoneName = "Asia/Shanghai"
    codec_uri: CallUri | None = None
    multisite_capacity: int | None = Field(None, ge=1, le=MAX_MULTISITE)


class SitePatch(In):
    """Only the fields sent change; ``null`` clears codec_uri or multisite_capacity."""
    name: Name | None = None
    name_zh: Name | None = None
    timezone: TimeZoneName | None = None
    codec_uri: CallUri | None = None
    multisite_capacity: int | None = Field(None, ge=1, le=MAX_MULTISITE)

    @model_validator(mode="after")
    def _something(self) -> SitePatch:
        if not self.model_fields_set:
            raise ValueError("nothing to change: send at least one field")
        for name in ("name", "name_zh", "timezone"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class SiteRetireIn(In):
    reason: Reason


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
    retired_at: datetime | None = None
    retired_by: str | None = None
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


class NoArgs(In):
    pass


class StandbyArgs(In):
    on: bool = True
    displays: bool = True


class SelftestArgs(In):
    trigger: Literal["on_demand", "inspection"] = "on_demand"


ConfigKey = Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_.-]{0,99}$")]
NestedKey = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
ConfigNumber = (Annotated[int, Field(ge=-(2**53), le=2**53)]
                | Annotated[float, Field(ge=-(2.0**53), le=2.0**53, allow_inf_nan=False)])
ConfigScalar = bool | ConfigNumber | Annotated[str, Field(max_length=1000), AfterValidator(_printable)] | None
ConfigValue = ConfigScalar | list[ConfigScalar] | dict[NestedKey, ConfigScalar | list[ConfigScalar]]


class ApplyConfigArgs(In):
    """Device settings by the driver's key (``network.ipv4.address``, ``routes`` {output: input})."""
    config: dict[ConfigKey, ConfigValue] = Field(min_length=1, max_length=200)


#: the arguments each device command takes; anything else is a 422
DEVICE_COMMAND_ARGS: dict[str, type[In]] = {
    "reboot": NoArgs, "power_cycle": NoArgs, "uplink_test": NoArgs, "standby": StandbyArgs,
    "selftest": SelftestArgs, "apply_config": ApplyConfigArgs,
}


class DeviceCommandIn(In):
    kind: Literal["reboot", "power_cycle", "standby", "apply_config", "selftest", "uplink_test"]
    args: dict[str, Any] = Field({}, description="by kind: reboot, power_cycle, uplink_test: none; "
                                 "standby: on, displays (booleans); selftest: trigger (on_demand | "
                                 "inspection); apply_config: config {setting key: value}")
    deadline_seconds: float | None = Field(None, gt=0, le=24 * 3600)
    #: why an engineer does it (kept with the maintenance window a reboot or power-cycle opens)
    reason: str | None = Field(None, max_length=500)

    @model_validator(mode="after")
    def _args_of_kind(self) -> DeviceCommandIn:
        try:
            checked = DEVICE_COMMAND_ARGS[self.kind].model_validate(self.args)
        except ValidationError as exc:
            # re-raised as a ValueError naming the arguments (pydantic errors cannot nest here)
            where = "; ".join(f"args.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                              for e in exc.errors(include_input=False, include_url=False)[:5])
            raise ValueError(where) from None
        self.args = checked.model_dump(exclude_unset=True)
        return self


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
    title: Title
    start: AwareDatetime
    end: AwareDatetime
    host_site: SiteId
    sites: list[SiteId] = Field(min_length=1, max_length=200)
    mode: Literal["bridge", "host"]
    #: optional: a bridge meeting without one dials the organisation's default bridge
    bridge_uri: CallUri | None = None
    #: start by itself at the start time; None follows the organisation setting
    auto_start: bool | None = None
    #: book over a conflicting meeting (409 otherwise); needs force_reason, which is audited
    force: bool = False
    force_reason: Title | None = None


class MeetingStartIn(In):
    """Optional body of a start: override a site still held by another started meeting."""

    force: bool = False
    reason: Title | None = None


class MeetingSiteAddIn(In):
    site: SiteId
    force: bool = False
    reason: Title | None = None


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
#: a venue is named, never a path: the agent looks ``<name>.yaml`` up in its own venue folder
VENUE_NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"


class RelocationIn(In):
    venue: str = Field(pattern=VENUE_NAME_PATTERN, description="venue name, e.g. urumqi-convention-center")


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
