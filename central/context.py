"""Everything one app instance holds: settings, database, change bus, agent hub, metrics, limiter.

Built by the composition root (``central.app.create_app``). This module depends on nothing above
it: the hub is seen only through ``AgentDirectory`` (what routers ask of it), and a unit of work
is a plain transaction whose listeners announce what it changed after it commits.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from central.db import transaction
from central.metrics import Metrics
from central.notify.bus import ChangeBus
from central.ratelimit import LoginLimiter, MemoryLoginLimiter
from central.services.ingest import OrchestrationLimits
from central.settings import Settings


class AgentDirectory(Protocol):
    """What the API reads of the agent hub."""

    @property
    def connected_sites(self) -> list[str]: ...


@dataclass
class AppContext:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    secret_key: bytes
    hub: AgentDirectory
    bus: ChangeBus
    instance_id: str
    metrics: Metrics = field(default_factory=Metrics)
    limiter: LoginLimiter | None = None
    #: a planned shutdown has begun: /healthz answers 503 so a load balancer stops routing here
    draining: bool = False

    def __post_init__(self) -> None:
        if self.limiter is None:
            settings = self.settings
            self.limiter = MemoryLoginLimiter(settings.login_max_attempts, settings.login_window_seconds,
                                              max_delay=settings.login_max_delay_seconds)

    @property
    def limits(self) -> OrchestrationLimits:
        settings = self.settings
        return OrchestrationLimits(settings.command_deadline_seconds, settings.default_multisite_capacity)

    @contextmanager
    def unit(self) -> Iterator[Session]:
        """One transaction; what it changed is announced (hub, dashboard, other instances) once it commits."""
        with transaction(self.sessions) as session:
            yield session
