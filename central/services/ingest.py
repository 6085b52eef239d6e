"""Apply one agent message to the database, exactly once per msg_id."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from central.models import Device, EventRow, IngestedMessage, Site, utcnow
from central.services import commands, faults, followups, meetings, selftests, uplink
from contracts.messages import (
    CallState,
    CommandResult,
    DeviceInfo,
    DeviceStatus,
    Event,
    Hello,
    SelftestReport,
    Status,
)

INGESTED_TYPES = (Hello, Status, SelftestReport, Event, CommandResult)


class ForeignDevice(ValueError):
    """A message naming a device of another site."""


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
    """Apply ``msg`` (already checked to come from ``site_id``) once; a replay changes nothing."""
    if session.get(IngestedMessage, msg.msg_id) is not None:
        return IngestOutcome(new=False)
    try:
        with session.begin_nested():
            session.add(IngestedMessage(msg_id=msg.msg_id, site_id=site_id, type=msg.type,
                                        received_at=utcnow()))
            session.flush()
    except IntegrityError:
        return IngestOutcome(new=False)   # the same message raced in on another connection
    outcome = IngestOutcome(new=True)
    site = session.get(Site, site_id)
    if site is not None:
        site.last_seen = utcnow()
    if isinstance(msg, Hello):
        _hello(session, site_id, msg)
    elif isinstance(msg, Status):
        _status(session, site_id, msg)
    elif isinstance(msg, SelftestReport):
        selftests.ingest_report(session, site_id, msg)
    elif isinstance(msg, Event):
        _event(session, site_id, msg)
    elif isinstance(msg, CommandResult):
        finished = commands.apply_result(session, site_id, msg)
        if finished is not None:
            followups.on_command_final(
                session, finished, limits.command_deadline_seconds, limits.default_multisite_capacity
            )
            if finished.finished_at is not None:
                outcome.command_latencies.append((finished.finished_at - finished.created_at).total_seconds())
    return outcome


def _check_device(site_id: str, device_id: str) -> None:
    if not device_id.startswith(site_id + "."):
        raise ForeignDevice(f"device {device_id!r} does not belong to site {site_id!r}")


def _hello(session: Session, site_id: str, msg: Hello) -> None:
    site = session.get(Site, site_id)
    if site is not None:
        site.agent_version = msg.agent_version
    for info in msg.devices:
        _upsert_device(session, site_id, info)


def _upsert_device(session: Session, site_id: str, info: DeviceInfo) -> Device:
    _check_device(site_id, info.id)
    device = session.get(Device, info.id)
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
    if device is None:
        device = Device(id=device_id, site_id=site_id)
        session.add(device)
    return device


def _status(session: Session, site_id: str, msg: Status) -> None:
    for status in msg.devices:
        _apply_device_status(session, site_id, status, msg.sent_at)
    for call in msg.calls:
        _check_device(site_id, call.device)
        meetings.on_call_state(session, site_id, call)


def _apply_device_status(session: Session, site_id: str, status: DeviceStatus, sent_at: datetime) -> None:
    device = _device(session, site_id, status.id)
    at = status.since or sent_at
    was_up = device.up
    device.up = status.up
    device.verdict = status.verdict
    device.reasons = list(status.reasons)
    device.details = dict(status.details)
    device.last_seen = sent_at
    if was_up is not status.up or device.since is None:
        device.since = at
    _device_faults(session, site_id, device.id, status.up, at, "; ".join(status.reasons))


def _device_faults(session: Session, site_id: str, device_id: str, up: bool, at: datetime, why: str) -> None:
    if up:
        faults.close_fault(session, device_id=device_id, check_name=None, at=at, reason="device back up")
    else:
        faults.open_fault(session, site_id=site_id, device_id=device_id, check_name=None,
                          cause=why or "device down", at=at)


def _event(session: Session, site_id: str, msg: Event) -> None:
    if msg.device is not None:
        _check_device(site_id, msg.device)
    session.add(EventRow(site_id=site_id, kind=msg.kind, device_id=msg.device, at=msg.at, data=msg.data,
                         msg_id=msg.msg_id))
    if msg.kind in ("device_down", "device_up") and msg.device:
        device = _device(session, site_id, msg.device)
        up = msg.kind == "device_up"
        if device.up is not up:
            device.since = msg.at
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
    elif msg.kind == "uplink":
        uplink.store(session, site_id, msg.data, at=msg.at, source="event")
