"""Background work of an app instance: expire commands nobody could run before their deadline.

The loop runs under ``central.supervise``: a failed sweep (the database away, a bug) is logged,
counted and retried with backoff, and each good sweep marks the task healthy again.
"""

from __future__ import annotations

import asyncio
import logging

from anyio import to_thread

from central.context import AppContext
from central.models import utcnow
from central.services import commands, followups
from central.supervise import supervise

TASK = "sweeper"

log = logging.getLogger(__name__)


def sweep_once(ctx: AppContext) -> int:
    settings = ctx.settings
    with ctx.unit() as session:
        expired = commands.expire_overdue(session, utcnow(), settings.command_result_grace_seconds)
        for row in expired:
            followups.on_command_final(session, row, settings.command_deadline_seconds,
                                       settings.default_multisite_capacity)
    for row in expired:
        if row.finished_at is not None:
            ctx.metrics.command_finished((row.finished_at - row.created_at).total_seconds())
    return len(expired)


async def run_sweeper(ctx: AppContext) -> None:
    await supervise(TASK, lambda: _sweep_forever(ctx), ctx.metrics.tasks,
                    initial=min(0.5, ctx.settings.expiry_sweep_seconds))


async def _sweep_forever(ctx: AppContext) -> None:
    while True:
        count = await to_thread.run_sync(sweep_once, ctx)
        ctx.metrics.tasks.ok(TASK)
        if count:
            log.info("expired %d command(s) past their deadline", count)
        await asyncio.sleep(ctx.settings.expiry_sweep_seconds)   # a cadence, not a wait on a device
