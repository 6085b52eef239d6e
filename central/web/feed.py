"""The dashboard's change feed: which kinds of data changed, found by polling the database.

Polling (one small query set per tick for all browsers of an app instance) instead of hooks in
the ingest path keeps the dashboard independent of the agent hub and correct behind a load
balancer: a change written by another central instance shows up just the same. Browsers get only
the names of the topics that changed and fetch the data through the REST API, so every role rule
of the API applies to what they see.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from datetime import timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from central.models import (
    FINAL_STATES,
    AuditEntry,
    CommandRow,
    Device,
    Fault,
    Meeting,
    MeetingSite,
    Relocation,
    SelftestRow,
    Site,
    utcnow,
)
from central.supervise import TaskHealth, supervise

log = logging.getLogger(__name__)

TOPICS = ("sites", "devices", "faults", "selftests", "meetings", "commands", "relocations", "audit")
DEFAULT_INTERVAL_SECONDS = 1.0
#: Commands and self-tests older than this are final and no longer watched.
RECENT = timedelta(hours=6)


def _digest(rows: object) -> str:
    return hashlib.sha256(repr(rows).encode()).hexdigest()


def fingerprints(session: Session) -> dict[str, str]:
    """One digest per topic; a topic changed when its digest did."""
    since = utcnow() - RECENT
    return {
        "sites": _digest(session.execute(
            select(Site.id, Site.name, Site.name_zh, Site.agent_connected, Site.connected_at)
            .order_by(Site.id)
        ).all()),
        "devices": _digest(session.execute(
            select(Device.id, Device.up, Device.verdict, Device.since, Device.reasons, Device.identity,
                   Device.address).order_by(Device.id)
        ).all()),
        "faults": _digest(session.execute(
            select(func.count(Fault.id), func.max(Fault.id), func.count(Fault.closed_at))
        ).all()),
        "selftests": _digest(session.execute(
            select(SelftestRow.id, SelftestRow.state, SelftestRow.verdict)
            .where(or_(SelftestRow.created_at > since, SelftestRow.state == "requested"))
            .order_by(SelftestRow.id)
        ).all()),
        "meetings": _digest((
            session.execute(
                select(Meeting.id, Meeting.state, Meeting.title, Meeting.start, Meeting.end, Meeting.mode,
                       Meeting.host_site, Meeting.bridge_uri).order_by(Meeting.id)
            ).all(),
            session.execute(
                select(func.count(), func.max(MeetingSite.updated_at)).select_from(MeetingSite)
            ).all(),
        )),
        "commands": _digest(session.execute(
            select(CommandRow.id, CommandRow.state)
            .where(or_(CommandRow.created_at > since, CommandRow.state.not_in(FINAL_STATES)))
            .order_by(CommandRow.id)
        ).all()),
        "relocations": _digest(session.execute(
            select(Relocation.id, Relocation.state, Relocation.updated_at).order_by(Relocation.id)
        ).all()),
        "audit": _digest(session.execute(select(func.max(AuditEntry.id), func.count(AuditEntry.id))).all()),
    }


class ChangeFeed:
    """Polls while at least one browser listens; each listener gets the set of changed topics."""

    def __init__(self, sessions: sessionmaker[Session], interval: float = DEFAULT_INTERVAL_SECONDS,
                 health: TaskHealth | None = None) -> None:
        self._sessions = sessions
        self._health = health or TaskHealth()
        self.interval = interval
        self._listeners: set[asyncio.Queue[list[str] | None]] = set()
        self._task: asyncio.Task[None] | None = None
        self._last: dict[str, str] | None = None

    def subscribe(self) -> asyncio.Queue[list[str] | None]:
        queue: asyncio.Queue[list[str] | None] = asyncio.Queue(maxsize=16)
        self._listeners.add(queue)
        if self._task is None or self._task.done():
            # supervised: a failing read is logged, counted and retried with backoff
            self._task = asyncio.get_running_loop().create_task(
                supervise("dashboard-feed", self._run, self._health), name="dashboard-change-feed")
        return queue

    def close(self) -> None:
        """End every stream (None tells a listener to stop): call on shutdown so the server need not
        wait for browsers to hang up. Browsers reconnect to the next instance on their own."""
        for queue in list(self._listeners):
            _drain(queue)
            queue.put_nowait(None)

    def unsubscribe(self, queue: asyncio.Queue[list[str] | None]) -> None:
        self._listeners.discard(queue)
        if not self._listeners and self._task is not None:
            self._task.cancel()
            self._task = None
            self._last = None

    async def _run(self) -> None:
        while self._listeners:
            current = await asyncio.to_thread(self._read)
            self._health.ok("dashboard-feed")
            if self._last is not None:
                changed = [topic for topic in TOPICS if current[topic] != self._last.get(topic)]
                if changed:
                    self._publish(changed)
            self._last = current
            await asyncio.sleep(self.interval)

    def _read(self) -> dict[str, str]:
        with self._sessions() as session:
            return fingerprints(session)

    def _publish(self, topics: list[str]) -> None:
        for queue in list(self._listeners):
            if queue.full():
                # A slow browser only needs to know that everything may have changed.
                _drain(queue)
                queue.put_nowait(list(TOPICS))
            else:
                queue.put_nowait(topics)


def _drain(queue: asyncio.Queue[list[str] | None]) -> None:
    while not queue.empty():
        queue.get_nowait()

