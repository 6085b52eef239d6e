"""The reports' own tables: sign-offs, fault notes, recording checks and the report policy.

They sit beside the server's tables (migration ``r0001``) and only point at them by key.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from central.models import Base, UTCDateTime, utcnow


class InspectionSignoff(Base):
    """An engineer's remarks on one inspection run, and the sign-off that freezes them."""

    __tablename__ = "inspection_signoffs"

    selftest_id: Mapped[str] = mapped_column(ForeignKey("selftests.id", ondelete="CASCADE"), primary_key=True)
    remarks: Mapped[str] = mapped_column(Text, default="")
    remarks_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    remarks_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    signed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class FaultNote(Base):
    __tablename__ = "fault_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    fault_id: Mapped[int] = mapped_column(ForeignKey("faults.id", ondelete="CASCADE"), index=True)
    author: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    text: Mapped[str] = mapped_column(Text)


class RecordingCheck(Base):
    """The latest on-demand checksum verification of an archived recording, and its purge."""

    __tablename__ = "recording_checks"

    recording_id: Mapped[str] = mapped_column(ForeignKey("recordings.id", ondelete="CASCADE"),
                                              primary_key=True)
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    verified_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    #: True: the file's SHA-256 matches; False: it differs or the file is missing (see ``problem``).
    ok: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    actual_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    actual_size: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    problem: Mapped[str | None] = mapped_column(Text, nullable=True)
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class ReportSetting(Base):
    """One named policy value (retention, satisfaction target ...), JSON encoded."""

    __tablename__ = "report_settings"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    updated_by: Mapped[str] = mapped_column(String(64), default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
