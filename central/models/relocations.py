from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from central.models.base import Base, UTCDateTime, new_id, utcnow

#: planning -> planned | plan_failed; planned -> applying -> applied | apply_failed.
RELOCATION_STATES = ("planning", "planned", "plan_failed", "applying", "applied", "apply_failed")


class Relocation(Base):
    __tablename__ = "relocations"

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    venue: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(16), default="planning")
    plan: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    result: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    plan_command_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    apply_command_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    requested_by: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
