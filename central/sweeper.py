"""Background work of an app instance: expire commands nobody could run before their deadline,
start meetings that start by themselves."""

from __future__ import annotations

import asyncio
import logging

from anyio import to_thread
from sqlalchemy.exc import SQLAlchemyError

from central.context import AppContext
from central.models import utcnow
from central.services import commands, followups, meeting_autostart

log = logging.getLogger(__name__)


def sweep_once(ctx: AppContext) -> int:
    settings = ctx.settings
    with ctx.unit() as session:
        expired = commands.expire_overdue(session, utcnow(), settings.command_result_grace_seconds)
        for row in expired:
            followups.on_command_final(session, row, settings.command_deadline_seconds,
                                       settings.default_multisite_capacity)
    with ctx.unit() as session:
        meeting_autostart.start_due(session, utcnow(), organisation_default=settings.auto_start_meetings,
                                    deadline_seconds=settings.command_deadline_seconds)
    for row in expired:
        if row.finished_at is not None:
            ctx.metrics.command_finished((row.finished_at - row.created_at).total_seconds())
    return len(expired)


async def run_sweeper(ctx: AppContext) -> None:
    while True:
        try:
            count = await to_thread.run_sync(sweep_once, ctx)
            if count:
                log.info("expired %d command(s) past their deadline", count)
        except SQLAlchemyError as exc:   # a database hiccup must not end expiry for good
            log.error("command expiry sweep failed: %s", exc)
        await asyncio.sleep(ctx.settings.expiry_sweep_seconds)
