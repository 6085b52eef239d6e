"""Central server settings: a plain pydantic model read from ``ROOMOPS_*`` environment variables."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr

ENV_PREFIX = "ROOMOPS_"


class ConfigError(ValueError):
    """The settings cannot run central as they are; the message says what to change."""


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "roomops"


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    data_dir: Path = Field(default_factory=default_data_dir)
    #: SQLAlchemy URL; empty means an SQLite file in ``data_dir``.
    database_url: str = ""
    #: Signs user access tokens and session cookies; empty means "read or create <data_dir>/secret_key".
    secret_key: SecretStr = SecretStr("")
    recordings_dir: Path | None = None

    host: str = "127.0.0.1"
    port: int = 8080

    access_token_ttl_seconds: int = Field(8 * 3600, gt=0)
    cookie_secure: bool = False
    login_max_attempts: int = Field(5, gt=0)
    login_window_seconds: float = Field(300.0, gt=0)
    #: Longest delay a user name's failures impose (its delay doubles per failure up to this).
    login_max_delay_seconds: float = Field(300.0, gt=0)
    #: argon2 verifies running at once (each holds ~64 MiB): bounds the memory a burst of logins takes.
    login_concurrent_verifies: int = Field(1, gt=0, le=64)
    #: When set, ``/metrics`` answers only to ``Authorization: Bearer <this token>``.
    metrics_token: SecretStr = SecretStr("")

    command_deadline_seconds: float = Field(300.0, gt=0)
    #: How long after its deadline a delivered command may still report before it is expired.
    command_result_grace_seconds: float = Field(60.0, ge=0)
    expiry_sweep_seconds: float = Field(1.0, gt=0)
    #: Safety-net delivery round over every connected site. Changes reach the hub at once after their
    #: commit (and from other instances through PostgreSQL LISTEN/NOTIFY); this only catches a lost one.
    delivery_poll_seconds: float = Field(30.0, gt=0)
    #: A planned restart asks each agent to come back after a delay spread over this window.
    restart_spread_seconds: float = Field(10.0, ge=0)
    #: Retention defaults (days; 0 keeps forever); admins change them at /api/v1/admin/retention.
    retention_messages_days: int = Field(30, ge=0)
    retention_events_days: int = Field(400, ge=0)
    retention_commands_days: int = Field(400, ge=0)
    retention_audit_days: int = Field(0, ge=0)
    #: How often the retention sweep runs.
    retention_sweep_seconds: float = Field(3600.0, gt=0)
    heartbeat_interval_seconds: float = Field(15.0, gt=0)
    #: An agent silent for this many heartbeat intervals is dropped.
    heartbeat_misses: int = Field(3, gt=0)

    #: Host-mode fallback when neither the site nor the codec's hello gives a multisite capacity.
    default_multisite_capacity: int = Field(3, ge=1)
    #: Organisation default bridge (the MCU's SIP URI): a bridge meeting without one dials this.
    default_bridge_uri: str = ""
    #: Start scheduled meetings by themselves at their start time (a meeting's own flag wins).
    auto_start_meetings: bool = False

    uplink_max_download_bytes: int = Field(50 * 1024 * 1024, gt=0)
    uplink_max_upload_bytes: int = Field(50 * 1024 * 1024, gt=0)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings from ``ROOMOPS_<FIELD>`` variables (e.g. ``ROOMOPS_DATABASE_URL``), then overrides."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for name in cls.model_fields:
            raw = env.get(ENV_PREFIX + name.upper())
            if raw is not None and raw != "":
                values[name] = raw
        values.update(overrides)
        return cls.model_validate(values)

    # -- derived ------------------------------------------------------------------------------
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'central.db'}"

    def resolved_recordings_dir(self) -> Path:
        return self.recordings_dir or self.data_dir / "recordings"

    def check_for_shared_database(self) -> None:
        """Several instances share a PostgreSQL database: they must sign with one configured key."""
        url = self.resolved_database_url()
        if url.startswith("postgresql") and not self.secret_key.get_secret_value():
            raise ConfigError(
                "ROOMOPS_SECRET_KEY is not set. On PostgreSQL several central instances share the "
                "database and must all sign sessions with the same key: set ROOMOPS_SECRET_KEY (a long "
                "random string, the same for every instance) and start again.")

    def resolved_secret_key(self) -> bytes:
        """The configured key, else the one stored in the data dir (created 0600 on first use)."""
        configured = self.secret_key.get_secret_value()
        if configured:
            return configured.encode()
        path = self.data_dir / "secret_key"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(48))
        return path.read_text().strip().encode()
