from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, CheckConstraint, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from central.models.base import Base, UTCDateTime, new_id, utcnow

#: scheduled -> started -> stopped; cancelled never started.
MEETING_STATES = ("scheduled", "started", "stopped", "cancelled")


class Meeting(Base):
    __tablename__ = "meetings"

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    title: Mapped[str] = mapped_column(String(300))
    start: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    end: Mapped[datetime] = mapped_column(UTCDateTime)
    host_site: Mapped[str] = mapped_column(ForeignKey("sites.id"))
    mode: Mapped[str] = mapped_column(String(16))
    bridge_uri: Mapped[str | None] = mapped_column(String(255), nullable=True)
    state: Mapped[str] = mapped_column(String(16), default="scheduled")
    created_by: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    started_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    stopped_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    #: start by itself at its start time: True/False, None follows the organisation setting
    auto_start: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    #: why the clerk booked it over a conflicting meeting (None: no conflict was overridden)
    override_reason: Mapped[str | None] = mapped_column(Text, nullable=True)


class MeetingSite(Base):
    __tablename__ = "meeting_sites"
    __table_args__ = (CheckConstraint("satisfaction BETWEEN 1 AND 5", name="satisfaction_range"),)

    meeting_id: Mapped[str] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"), primary_key=True)
    #: Verdict of the latest pre-meeting self-test: ready, degraded, not_ready (None: none yet).
    readiness: Mapped[str | None] = mapped_column(String(16), nullable=True)
    readiness_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    selftest_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    #: idle, preparing, prepared, dialing, ringing, connecting, connected, disconnected, dropped, failed.
    call_state: Mapped[str] = mapped_column(String(32), default="idle")
    call: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: None, starting, recording, stopping, stopped, failed (host site only).
    recording: Mapped[str | None] = mapped_column(String(16), nullable=True)
    problem: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: what went wrong, as a catalogue key (``problem`` keeps the raw text as evidence)
    problem_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    #: the room's preparation steps beside the call: [{device, step, state, reason}]
    preparation: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
    #: microphones muted by the secretariat (None: never set in this meeting)
    muted: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    satisfaction: Mapped[int | None] = mapped_column(Integer, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Recording(Base):
    __tablename__ = "recordings"

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    meeting_id: Mapped[str] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    site_id: Mapped[str] = mapped_column(String(64))
    file: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(BigInteger)
    duration_s: Mapped[float] = mapped_column(Float)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
