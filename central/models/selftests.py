from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from central.models.base import Base, UTCDateTime, new_id, utcnow


class SelftestRow(Base):
    __tablename__ = "selftests"

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    command_id: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    trigger: Mapped[str] = mapped_column(String(32))
    meeting_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    #: requested (waiting for the agent), done, or expired (the agent never ran it).
    state: Mapped[str] = mapped_column(String(16), default="requested")
    verdict: Mapped[str | None] = mapped_column(String(16), nullable=True)
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    checks: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    inventory: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    drift: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    uplink: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    requested_by: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
