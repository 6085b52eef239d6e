"""Everything one app instance holds: settings, database, hub, metrics, rate limiter."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from central.hub.hub import AgentHub
from central.metrics import Metrics
from central.ratelimit import LoginLimiter, MemoryLoginLimiter
from central.services.ingest import OrchestrationLimits
from central.services.wake import take
from central.settings import Settings


@dataclass
class AppContext:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    secret_key: bytes
    metrics: Metrics = field(default_factory=Metrics)
    limiter: LoginLimiter | None = None
    hub: AgentHub | None = None

    def __post_init__(self) -> None:
        if self.limiter is None:
            settings = self.settings
            self.limiter = MemoryLoginLimiter(settings.login_max_attempts, settings.login_window_seconds,
                                              max_delay=settings.login_max_delay_seconds)
        if self.hub is None:
            self.hub = AgentHub(self)

    @property
    def limits(self) -> OrchestrationLimits:
        settings = self.settings
        return OrchestrationLimits(settings.command_deadline_seconds, settings.default_multisite_capacity)

    @contextmanager
    def unit(self) -> Iterator[Session]:
        """One transaction; the hub is woken for the sites it touched only after it commits."""
        session = self.sessions()
        try:
            with session.begin():
                yield session
            wake_commands, wake_schedule = take(session)
        finally:
            session.close()
        assert self.hub is not None
        self.hub.wake(wake_commands, wake_schedule)
