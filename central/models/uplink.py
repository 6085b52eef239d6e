from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from central.models.base import Base, UTCDateTime, utcnow


class UplinkMeasurement(Base):
    __tablename__ = "uplink_measurements"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    rtt_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    loss: Mapped[float | None] = mapped_column(Float, nullable=True)
    up_mbps: Mapped[float | None] = mapped_column(Float, nullable=True)
    down_mbps: Mapped[float | None] = mapped_column(Float, nullable=True)
    #: "event" or "selftest"
    source: Mapped[str] = mapped_column(String(16), default="event")
