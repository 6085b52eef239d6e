from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from central.models.base import Base, UTCDateTime, utcnow


class EventRow(Base):
    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(64))
    device_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    msg_id: Mapped[str | None] = mapped_column(String(64), nullable=True)


class Fault(Base):
    """One root cause on one device, from open to close (time to repair).

    Whoever sees it first (the health poll or a self-test check) opens it; what else points at the
    same cause (the same problem seen by the other, or a symptom such as a failing test call of an
    unregistered codec) is added to ``symptoms`` instead of opening a fault beside it.
    """

    __tablename__ = "faults"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    device_id: Mapped[str] = mapped_column(String(128), index=True)
    #: None when the health poll found it; else the check that did ("codec.registered").
    check_name: Mapped[str | None] = mapped_column(String(128), nullable=True)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    #: the raw text of the first sighting (engineer's evidence; users read the code's summary)
    cause: Mapped[str] = mapped_column(Text, default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    closed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: the root cause's reason code ("codec.unregistered"); "" on rows older than reason codes
    code: Mapped[str] = mapped_column(String(64), default="")
    #: further sightings of this cause: [{source, check, code, reason, at}]
    symptoms: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    #: set when this fault turned out to be a symptom of another one (it is then closed)
    root_id: Mapped[int | None] = mapped_column(Integer, nullable=True)


class MaintenanceWindow(Base):
    """Planned work on a device (or a whole site when ``device_id`` is None): outages inside it
    are not faults and count neither against availability nor time to repair."""

    __tablename__ = "maintenance_windows"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    device_id: Mapped[str | None] = mapped_column(String(128), nullable=True, index=True)
    #: reboot, power_cycle, relocation, inspection, planned
    kind: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(64), default="")
    why: Mapped[str] = mapped_column(Text, default="")
    command_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: when it ends at the latest (the command's deadline, or what the engineer said)
    planned_end: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    outcome: Mapped[str] = mapped_column(String(32), default="")


class DeviceStateSpan(Base):
    """A stretch of time a device was observed up or down (closed when the state changes or
    becomes unknown): what availability is computed from."""

    __tablename__ = "device_state_spans"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    device_id: Mapped[str] = mapped_column(String(128), index=True)
    up: Mapped[bool] = mapped_column(default=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class AgentLinkSpan(Base):
    """A stretch of time a site's agent was connected: outside these, nothing is observed."""

    __tablename__ = "agent_link_spans"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
