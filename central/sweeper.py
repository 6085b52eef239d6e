"""Background work of an app instance: expire commands past their deadline, prune old history.

With several instances on one PostgreSQL database every instance sweeps: each claims the overdue
commands no other sweep holds (``FOR UPDATE SKIP LOCKED``), so a command expires and its follow-up
runs once; meetings that start by themselves are started there too. Retention runs on one instance
per round (a transaction-scoped advisory lock).
Both loops run under ``central.supervise``: a failed round (the database away, a bug) is logged,
counted and retried with backoff, and each good round marks the task healthy again.
"""

from __future__ import annotations

import asyncio
import logging

from anyio import to_thread
from sqlalchemy import text

from central.context import AppContext
from central.models import utcnow
from central.services import commands, followups, meeting_autostart, retention
from central.supervise import supervise

TASK = "sweeper"
RETENTION_TASK = "retention"

log = logging.getLogger(__name__)

#: pg_try_advisory_xact_lock key of the retention round
RETENTION_LOCK_KEY = 0x526F6F6D5265   # "RoomRe"


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
    await supervise(TASK, lambda: _sweep_forever(ctx), ctx.metrics.tasks,
                    initial=min(0.5, ctx.settings.expiry_sweep_seconds))


async def _sweep_forever(ctx: AppContext) -> None:
    while True:
        count = await to_thread.run_sync(sweep_once, ctx)
        ctx.metrics.tasks.ok(TASK)
        if count:
            log.info("expired %d command(s) past their deadline", count)
        await asyncio.sleep(ctx.settings.expiry_sweep_seconds)   # a cadence, not a wait on a device


def retain_once(ctx: AppContext) -> dict[str, int] | None:
    """Prune everything beyond the policy; None when another instance holds this round."""
    total: dict[str, int] = {}
    while True:
        with ctx.unit() as session:
            if session.get_bind().dialect.name == "postgresql" and not session.scalar(
                    text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": RETENTION_LOCK_KEY}):
                return None
            deleted = retention.prune(session, retention.current(session, ctx.settings), utcnow())
        for name, count in deleted.items():
            total[name] = total.get(name, 0) + count
        if not any(deleted.values()):
            return total


async def run_retention(ctx: AppContext) -> None:
    await supervise(RETENTION_TASK, lambda: _retain_forever(ctx), ctx.metrics.tasks,
                    initial=min(5.0, ctx.settings.retention_sweep_seconds))


async def _retain_forever(ctx: AppContext) -> None:
    while True:
        deleted = await to_thread.run_sync(retain_once, ctx)
        ctx.metrics.tasks.ok(RETENTION_TASK)
        if deleted and any(deleted.values()):
            log.info("retention pruned %s", ", ".join(f"{n} {t}" for t, n in deleted.items() if n))
        await asyncio.sleep(ctx.settings.retention_sweep_seconds)
