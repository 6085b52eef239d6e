"""Apply one agent message to the database, exactly once per msg_id.

Inputs are bounded here and in ``contracts`` (sizes, depth, ids): every device a message names
must belong to the site (checked before the writer, no database needed) and, except in a hello,
be one the site's hello declared (unknown devices are rejected, never created). A rejection is a
``Rejected``: the link sets the frame aside as a dead letter and the link stays up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from central.messages import codes
from central.models import Device, EventRow, IngestedMessage, Site, utcnow
from central.services import (
    availability,
    commands,
    faults,
    followups,
    meeting_progress,
    meetings,
    selftests,
    uplink,
)
from contracts.messages import (
    SCHEMA_MINOR,
    SCHEMA_VERSION,
    CallState,
    CommandResult,
    DeviceInfo,
    DeviceStatus,
    Event,
    Hello,
    SelftestReport,
    Status,
    load_frame,
    parse_value,
)

INGESTED_TYPES = (Hello, Status, SelftestReport, Event, CommandResult)
#: the fault an agent of an incompatible schema version holds open until a compatible hello
SCHEMA_FAULT = "agent.schema_version"


class Rejected(ValueError):
    """A message central will never ingest as it stands (set aside as a dead letter)."""


class ForeignDevice(Rejected):
    """A message naming a device of another site."""


class UnknownDevice(Rejected):
    """A message naming a device the site's hello did not declare."""


class WrongSite(Rejected):
    """A message claiming to come from another site."""


class Incompatible(Rejected):
    """A message of a schema major version central cannot read."""


def major_of(value: Any) -> int | None:
    """The frame's major schema version, when it is readable at all."""
    version = value.get("schema_version", SCHEMA_VERSION) if isinstance(value, dict) else None
    return version if isinstance(version, int) and not isinstance(version, bool) else None


def incompatibility(value: Any) -> str | None:
    """Why a frame's schema version cannot be read here, or None (also for a frame not an object:
    that one fails validation with its own reason)."""
    if not isinstance(value, dict):
        return None
    major = major_of(value)
    if major == SCHEMA_VERSION:
        return None
    shown = value.get("schema_version") if isinstance(value, dict) else None
    return (f"schema version {str(shown)[:16]} is not supported: central reads "
            f"{SCHEMA_VERSION}.0 to {SCHEMA_VERSION}.{SCHEMA_MINOR} (and newer minor versions)")


def ingest_frame(session: Session, site_id: str, raw: str, limits: OrchestrationLimits) -> bool:
    """A raw frame through every check the link makes, then ``ingest``; True when it was new.

    Used to replay dead letters: raises ``BadMessage`` or ``Rejected`` like the link would.
    """
    value = load_frame(raw)
    reason = incompatibility(value)
    if reason:
        raise Incompatible(reason)
    msg = parse_value(value)
    if not isinstance(msg, INGESTED_TYPES):
        raise Rejected(f"{msg.type!r} is not a report central ingests")
    if msg.site != site_id:
        raise WrongSite(f"the message claims site {msg.site!r}, not {site_id!r}")
    foreign_device(site_id, msg)
    return ingest(session, site_id, msg, limits).new


@dataclass
class IngestOutcome:
    new: bool
    #: seconds from creation to the end of every command that just finished (for metrics)
    command_latencies: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class OrchestrationLimits:
    command_deadline_seconds: float
    default_multisite_capacity: int


def ingest(session: Session, site_id: str, msg: Any, limits: OrchestrationLimits) -> IngestOutcome:
    """Apply ``msg`` (already checked to come from ``site_id``) once; a replay changes nothing.

    The message's row is written in the caller's transaction: if applying the message fails, the
    row goes with it and a retry is applied in full.
    """
    if not _claim(session, site_id, msg):
        return IngestOutcome(new=False)
    outcome = IngestOutcome(new=True)
    touch_site(session, site_id)
    if isinstance(msg, Hello):
        _hello(session, site_id, msg)
    elif isinstance(msg, Status):
        _status(session, site_id, msg)
    elif isinstance(msg, SelftestReport):
        selftests.ingest_report(session, site_id, msg)
    elif isinstance(msg, Event):
        _event(session, site_id, msg)
    elif isinstance(msg, CommandResult):
        # Everything read here (the command, its meeting, audit and self-test rows) was committed
        # before the command went out, so no flush is needed to see it; without autoflush the
        # changes of many results in one batch are written together, not one small flush per read.
        with session.no_autoflush:
            finished = commands.apply_result(session, site_id, msg)
            if finished is not None:
                followups.on_command_final(
                    session, finished, limits.command_deadline_seconds, limits.default_multisite_capacity
                )
        if finished is not None and finished.finished_at is not None:
            outcome.command_latencies.append((finished.finished_at - finished.created_at).total_seconds())
    session.flush()    # nothing left pending: the next message's Core statements see all of this one
    return outcome


# -- statements of the hot path, built once (Core: no ORM bookkeeping per message) ------------------
_MESSAGES = IngestedMessage.__table__
_DEVICES = Device.__table__
_SITES = Site.__table__

#: INSERT ... ON CONFLICT DO NOTHING RETURNING msg_id, per dialect
_CLAIMS = {
    name: insert(_MESSAGES).values(
        msg_id=bindparam("b_msg"), site_id=bindparam("b_site"), type=bindparam("b_type"),
        received_at=bindparam("b_at"),
    ).on_conflict_do_nothing().returning(_MESSAGES.c.msg_id)
    for name, insert in (("sqlite", sqlite.insert), ("postgresql", postgresql.insert))
}
_TOUCH_SITE = update(_SITES).where(_SITES.c.id == bindparam("b_site")).values(last_seen=bindparam("b_seen"))
_DEVICE_STATE = select(_DEVICES.c.id, _DEVICES.c.up, _DEVICES.c.since, _DEVICES.c.verdict,
                       _DEVICES.c.reasons).where(_DEVICES.c.id.in_(bindparam("ids", expanding=True)))
_UPDATE_DEVICE = update(_DEVICES).where(_DEVICES.c.id == bindparam("b_id")).values(
    up=bindparam("b_up"), verdict=bindparam("b_verdict"), reasons=bindparam("b_reasons"),
    details=bindparam("b_details"), last_seen=bindparam("b_seen"), since=bindparam("b_since"))


def _claim(session: Session, site_id: str, msg: Any) -> bool:
    """Insert the message's id; False when it is already there (a replay).

    One INSERT ... ON CONFLICT DO NOTHING instead of a read then a write: the primary key decides,
    also between two connections (or central instances) racing with the same message.
    """
    values = {"b_msg": msg.msg_id, "b_site": site_id, "b_type": msg.type, "b_at": utcnow()}
    claim = _CLAIMS.get(session.get_bind().dialect.name)
    if claim is None:
        if session.get(IngestedMessage, msg.msg_id) is not None:
            return False
        session.add(IngestedMessage(msg_id=msg.msg_id, site_id=site_id, type=msg.type,
                                    received_at=values["b_at"]))
        session.flush()
        return True
    # the id comes back only when this insert wrote the row (rowcount is not reliable here: psycopg)
    return session.connection().execute(claim, values).first() is not None


def touch_site(session: Session, site_id: str) -> None:
    """The site's agent was heard from just now."""
    session.connection().execute(_TOUCH_SITE, {"b_site": site_id, "b_seen": utcnow()})
    _expire_cached(session, Site, [site_id])


def _expire_cached(session: Session, model: type, ids: list[str]) -> None:
    """Objects of these rows loaded earlier in this session reload after a Core UPDATE."""
    for row_id in ids:
        cached = session.identity_map.get(identity_key(model, row_id))
        if cached is not None:
            session.expire(cached)


def foreign_device(site_id: str, msg: Any) -> None:
    """Raise ForeignDevice if ``msg`` names a device of another site (cheap: no database)."""
    if isinstance(msg, Hello):
        ids = [info.id for info in msg.devices]
    elif isinstance(msg, Status):
        ids = [status.id for status in msg.devices] + [call.device for call in msg.calls]
    elif isinstance(msg, Event):
        ids = [msg.device] if msg.device is not None else []
        named = msg.data.get("device")
        if named is not None:
            if not isinstance(named, str):
                raise ForeignDevice("data.device must be a device id of this site")
            ids.append(named)
    elif isinstance(msg, SelftestReport):
        # site checks name the site itself; another site's inventory entries are ignored on ingest
        ids = [c.device for c in msg.checks if c.device != site_id]
    else:
        return
    for device_id in ids:
        _check_device(site_id, device_id)


def _check_device(site_id: str, device_id: str) -> None:
    if not device_id.startswith(site_id + "."):
        raise ForeignDevice(f"device {device_id!r} does not belong to site {site_id!r}")


def _hello(session: Session, site_id: str, msg: Hello) -> None:
    site = session.get(Site, site_id)
    if site is not None:
        site.agent_version = msg.agent_version
    faults.close_fault(session, device_id=site_id, check_name=SCHEMA_FAULT, at=utcnow(),
                       reason=f"agent {msg.agent_version} speaks a compatible schema version")
    ids = [info.id for info in msg.devices]
    for device_id in ids:
        _check_device(site_id, device_id)
    known = {d.id: d for d in session.scalars(select(Device).where(Device.id.in_(ids)))} if ids else {}
    for info in msg.devices:
        known[info.id] = _upsert_device(session, site_id, info, known.get(info.id))


def _upsert_device(session: Session, site_id: str, info: DeviceInfo, device: Device | None) -> Device:
    if device is None:
        device = Device(id=info.id, site_id=site_id)
        session.add(device)
    device.model = info.model
    device.roles = list(info.roles)
    device.address = info.address
    device.identity = dict(info.identity)
    device.capabilities = dict(info.capabilities)
    return device


def _device(session: Session, site_id: str, device_id: str) -> Device:
    _check_device(site_id, device_id)
    device = session.get(Device, device_id)
    if device is None or device.site_id != site_id:
        raise UnknownDevice(f"device {device_id!r} is not one the site's hello declared")
    return device


def refuse_agent(session: Session, site_id: str, agent_version: str, reason: str) -> None:
    """An agent central cannot read: a fault the dashboard shows until a compatible hello."""
    site = session.get(Site, site_id)
    if site is None:
        return
    site.agent_version = agent_version[:64]
    faults.open_fault(session, site_id=site_id, device_id=site_id, check_name=SCHEMA_FAULT,
                      cause=f"agent {agent_version[:64]} refused: {reason}", at=utcnow())


@dataclass
class _DeviceState:
    up: bool | None
    since: datetime | None
    verdict: str = "unknown"
    reasons: list[str] | None = None


def _status(session: Session, site_id: str, msg: Status) -> None:
    """The most frequent message: two reads and one multi-row UPDATE, whatever the device count."""
    ids = [status.id for status in msg.devices]
    for device_id in ids:
        _check_device(site_id, device_id)
    if ids:
        session.flush()    # the Core statements below must see pending ORM changes and not race them
        connection = session.connection()
        rows = connection.execute(_DEVICE_STATE, {"ids": ids})
        known = {row.id: _DeviceState(row.up, row.since, row.verdict, list(row.reasons or []))
                 for row in rows}
        unknown = sorted(set(ids) - set(known))
        if unknown:
            shown = ", ".join(unknown[:5]) + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
            raise UnknownDevice(f"status names devices the site's hello did not declare: {shown}")
        updates = [_device_status(session, site_id, status, msg.sent_at, known) for status in msg.devices]
        if updates:
            connection.execute(_UPDATE_DEVICE, updates)
            _expire_cached(session, Device, [row["b_id"] for row in updates])
    for call in msg.calls:
        _device(session, site_id, call.device)
        meetings.on_call_state(session, site_id, call)


def _device_status(
    session: Session, site_id: str, status: DeviceStatus, sent_at: datetime, known: dict[str, _DeviceState],
) -> dict[str, Any]:
    """Parameters of the device's UPDATE (every device is known: the hello declared it); faults and
    observed time on a change."""
    at = status.since or sent_at
    up = None if status.verdict == "unknown" else status.up    # not polled yet: neither up nor down
    prior = known.get(status.id)
    since = prior.since if prior is not None and prior.up is up and prior.since is not None else at
    reasons = list(status.reasons)
    # a device listed twice sees its first entry
    known[status.id] = _DeviceState(up, since, status.verdict, reasons)
    # faults and observed time change only when what the poll says changes
    if prior is None or prior.up is not up or prior.verdict != status.verdict or prior.reasons != reasons:
        faults.observe_health(session, site_id=site_id, device_id=status.id, up=up, verdict=status.verdict,
                              reasons=reasons, details=dict(status.details), at=at)
        # observed time: up and serving (an unregistered codec answers but holds no meeting)
        availability.record_state(session, site_id=site_id, device_id=status.id, at=at, up=codes.serving(
            faults.roles_of(session, status.id), up, status.verdict, reasons, dict(status.details)))
    return {"b_id": status.id, "b_up": up, "b_verdict": status.verdict,
            "b_reasons": list(status.reasons), "b_details": dict(status.details), "b_seen": sent_at,
            "b_since": since}


def _device_faults(session: Session, site_id: str, device_id: str, up: bool, at: datetime, why: str) -> None:
    if up:
        faults.device_up(session, device_id=device_id, at=at)
    else:
        faults.device_down(session, site_id=site_id, device_id=device_id, reason=why, at=at)


def _event(session: Session, site_id: str, msg: Event) -> None:
    if msg.device is not None:
        _device(session, site_id, msg.device)
    named = msg.data.get("device")
    if isinstance(named, str) and named != msg.device:
        _device(session, site_id, named)
    session.add(EventRow(site_id=site_id, kind=msg.kind, device_id=msg.device, at=msg.at, data=msg.data,
                         msg_id=msg.msg_id))
    if msg.kind in ("device_down", "device_up") and msg.device:
        device = _device(session, site_id, msg.device)
        up = msg.kind == "device_up"
        if device.up is not up:
            device.since = msg.at
            availability.record_state(session, site_id=site_id, device_id=msg.device, up=up, at=msg.at)
        device.up = up
        device.verdict = "ok" if up else "down"
        device.last_seen = msg.at
        _device_faults(session, site_id, msg.device, up, msg.at, str(msg.data.get("reason", "")))
    elif msg.kind == "call_state":
        try:
            call = CallState.model_validate({"device": msg.device or "", **msg.data})
        except ValidationError:
            return  # kept as an event row; the call fields were not usable
        meetings.on_call_state(session, site_id, call)
    elif msg.kind in ("recording_started", "recording_stopped"):
        meetings.on_recording_event(session, site_id, msg.kind, msg.data)
    elif msg.kind == "prepare_step":
        meeting_progress.on_prepare_step(session, site_id, msg.device, msg.data)
    elif msg.kind == "uplink":
        uplink.store(session, site_id, msg.data, at=msg.at, source="event")
