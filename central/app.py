"""The FastAPI app factory. Nothing is created at import: ``create_app(settings)`` does it all."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from central import errors, migrate
from central.context import AppContext
from central.db import make_engine, make_session_factory
from central.routers import all_routers
from central.settings import Settings
from central.sweeper import run_sweeper

API_DESCRIPTION = """RoomOps central control server. Sign in with `POST /api/v1/auth/token`
(OAuth2 password form) and send `Authorization: Bearer <token>`. Roles: viewer reads; secretariat
schedules, starts and stops meetings; engineer runs device commands, self-tests and relocations;
admin manages users, sites and tokens (and may do everything). Errors are JSON
`{"detail": "...", "status": N}`."""


def create_app(settings: Settings | None = None, *, run_migrations: bool = True) -> FastAPI:
    settings = settings or Settings.from_env()
    engine = make_engine(settings.resolved_database_url())
    if run_migrations:
        migrate.upgrade(engine)
    ctx = AppContext(settings=settings, engine=engine, sessions=make_session_factory(engine),
                     secret_key=settings.resolved_secret_key())

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        assert ctx.hub is not None
        ctx.hub.bind_loop(asyncio.get_running_loop())
        sweeper = asyncio.create_task(run_sweeper(ctx), name="command-expiry")
        try:
            yield
        finally:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
            await ctx.hub.close_all()
            engine.dispose()

    app = FastAPI(title="RoomOps central", version="1", description=API_DESCRIPTION, lifespan=lifespan)
    app.state.ctx = ctx
    errors.install(app)
    for router in all_routers():
        app.include_router(router)
    return app
