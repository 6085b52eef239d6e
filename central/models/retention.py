"""The retention policy: how long history is kept (one row; the settings give its defaults)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from central.models.base import Base, UTCDateTime

POLICY_ID = 1


class RetentionPolicy(Base):
    __tablename__ = "retention_policy"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    messages_days: Mapped[int] = mapped_column(Integer)
    events_days: Mapped[int] = mapped_column(Integer)
    commands_days: Mapped[int] = mapped_column(Integer)
    audit_days: Mapped[int] = mapped_column(Integer)
    updated_by: Mapped[str] = mapped_column(String(64), default="")
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
