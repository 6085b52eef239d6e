"""The FastAPI app factory and composition root. Nothing is created at import: ``create_app(settings)``
builds the engine, the change bus and its unit-of-work listeners, the agent hub (given only what it
uses), the PostgreSQL change listener and the background sweeps, and wires them together."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import socket
import uuid
from collections.abc import AsyncIterator

from fastapi import FastAPI

from central import errors, migrate
from central.context import AppContext
from central.db import make_engine, make_session_factory, transaction
from central.hub.hub import AgentHub
from central.metrics import Metrics
from central.notify import unit as unit_events
from central.notify.bus import ChangeBus
from central.notify.pg import PgListener
from central.routers import all_routers
from central.settings import Settings
from central.sweeper import run_retention, run_sweeper

API_DESCRIPTION = """RoomOps central control server. Sign in with `POST /api/v1/auth/token`
(OAuth2 password form) and send `Authorization: Bearer <token>`. Roles: viewer reads; secretariat
schedules, starts and stops meetings; engineer runs device commands, self-tests and relocations;
admin manages users, sites and tokens (and may do everything). Errors are JSON
`{"detail": "...", "status": N}`."""


def new_instance_id() -> str:
    """Names this process among the instances sharing a database (host, pid, a random part)."""
    return f"{socket.gethostname()[:32]}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def create_app(settings: Settings | None = None, *, run_migrations: bool = True) -> FastAPI:
    settings = settings or Settings.from_env()
    settings.check_for_shared_database()
    engine = make_engine(settings.resolved_database_url())
    postgres = engine.dialect.name == "postgresql"
    if run_migrations:
        migrate.upgrade(engine)
    sessions = make_session_factory(engine)
    instance_id = new_instance_id()
    bus = ChangeBus()
    unit_events.install(sessions, bus, instance_id, postgres=postgres)
    metrics = Metrics()
    hub = AgentHub(functools.partial(transaction, sessions), settings, metrics, bus.publish, instance_id)
    bus.subscribe(hub.on_changes)
    ctx = AppContext(settings=settings, engine=engine, sessions=sessions,
                     secret_key=settings.resolved_secret_key(), hub=hub, bus=bus, instance_id=instance_id,
                     metrics=metrics)
    listener = PgListener(engine.url, bus, instance_id) if postgres else None

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        hub.bind_loop(asyncio.get_running_loop())
        tasks = [asyncio.create_task(run_sweeper(ctx), name="command-expiry"),
                 asyncio.create_task(run_retention(ctx), name="retention")]
        if listener is not None:
            tasks.append(asyncio.create_task(listener.run(), name="change-listener"))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await hub.close_all()
            bus.unsubscribe(hub.on_changes)
            engine.dispose()

    app = FastAPI(title="RoomOps central", version="1", description=API_DESCRIPTION, lifespan=lifespan)
    app.state.ctx = ctx
    app.state.hub = hub
    app.state.change_listener = listener
    errors.install(app)
    for router in all_routers():
        app.include_router(router)
    return app
