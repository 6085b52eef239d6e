from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from central.models.base import Base, UTCDateTime, utcnow


class Site(Base):
    __tablename__ = "sites"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)        # "urumqi"
    name: Mapped[str] = mapped_column(String(200), default="")
    name_zh: Mapped[str] = mapped_column(String(200), default="")
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    #: The room codec's call URI (host mode dials it); else taken from the codec's hello.
    codec_uri: Mapped[str | None] = mapped_column(String(255), nullable=True)
    #: How many far ends the codec can host; else from the hello, else a server default.
    multisite_capacity: Mapped[int | None] = mapped_column(Integer, nullable=True)
    agent_connected: Mapped[bool] = mapped_column(Boolean, default=False)
    agent_version: Mapped[str] = mapped_column(String(64), default="")
    connected_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_seen: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: a retired site keeps its row and history (reports of its period show it); no agent may link
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    retired_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    #: Which central instance holds the site's link, and the link's generation: a disconnect only
    #: marks the site off-line when both still match (compare-and-set across instances).
    link_instance: Mapped[str | None] = mapped_column(String(64), nullable=True)
    link_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class AgentToken(Base):
    """A site's agent credential. Only a SHA-256 of the random secret is kept."""

    __tablename__ = "agent_tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)       # public prefix of the token
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    def __repr__(self) -> str:
        return f"AgentToken(id={self.id!r}, site_id={self.site_id!r})"


class Device(Base):
    __tablename__ = "devices"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)      # "urumqi.codec"
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    model: Mapped[str] = mapped_column(String(128), default="")
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    address: Mapped[str] = mapped_column(String(255), default="")
    identity: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    capabilities: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    up: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    verdict: Mapped[str] = mapped_column(String(16), default="unknown")
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    since: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_seen: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    notes: Mapped[str] = mapped_column(Text, default="")


class AgentAddress(Base):
    """An address a site's agent connected from, as central saw it (the peer of the link): one row
    per change, so the annual report can say whether the site kept a fixed address."""

    __tablename__ = "agent_addresses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    address: Mapped[str] = mapped_column(String(64))
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
