"""Agent frames central could not take, kept with the reason until an admin replays them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from central.models.base import Base, UTCDateTime, utcnow

#: held: waiting for an admin; replayed: ingested by a later replay
DEAD_LETTER_STATES = ("held", "replayed")


class DeadLetter(Base):
    __tablename__ = "dead_letters"
    __table_args__ = (
        UniqueConstraint("site_id", "msg_id", name="uq_dead_letters_site_msg"),
        Index("ix_dead_letters_state_site", "state", "site_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    site_id: Mapped[str] = mapped_column(String(64))
    #: None when the frame carried no usable id (it cannot be told apart from a repeat)
    msg_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    type: Mapped[str | None] = mapped_column(String(32), nullable=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    #: the frame as received (the first bytes only when ``truncated``: such a frame cannot be replayed)
    body: Mapped[str] = mapped_column(Text, default="")
    truncated: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[str] = mapped_column(String(16), default="held")
    #: how often the agent sent it (a held frame sent again is counted, not stored twice)
    received: Mapped[int] = mapped_column(Integer, default=1)
    first_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    replayed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    replayed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    #: why the latest replay did not ingest it
    replay_error: Mapped[str | None] = mapped_column(Text, nullable=True)
