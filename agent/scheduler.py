"""The agent's jobs on APScheduler 3.x: outbox flushing, the pre-meeting
self-test (a configurable lead before each meeting central has scheduled) and the monthly
inspection.

Meeting and inspection jobs live in an SQLite job store in the agent's state directory, so they
survive restarts and run when central is unreachable; the store answers from memory and its
writes go through the agent's disk writer (``agent.jobstore``), never blocking the event loop.
A persistent job must be a module-level function, so jobs name the site and find the running
agent in ``_AGENTS``. A job missed while the agent was down runs on start if still useful (its
grace window: a pre-meeting test is useful until the meeting starts) and reports itself as
late; one missed beyond its grace is reported as a ``job_missed`` event.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from agent.disk import DiskWriter
from agent.jobstore import WriteBehindJobStore
from contracts.messages import Event, MeetingSchedule

log = logging.getLogger(__name__)

#: site id -> the running agent (jobs are module-level functions and look it up here)
_AGENTS: dict[str, Any] = {}
PREMEETING = "premeeting:"
INSPECTION = "inspection"


def _late(agent: Any, scheduled_for: str) -> bool:
    due = datetime.fromisoformat(scheduled_for)
    return (datetime.now(UTC) - due).total_seconds() > agent.config.late_after


# -- jobs (module level: they are stored by reference) ----------------------------------------------
def _failed(agent: Any, job: str, exc: Exception) -> None:
    """A scheduled job failed: logged once with the traceback, counted, reported; the next run of
    the job (or the next job) is its restart."""
    restarts = agent.tasks.failed(f"job:{job}", exc)
    log.error("scheduled job %s failed", job, exc_info=exc)
    try:
        agent.report_failure(f"job:{job}", exc, restarts)
    except Exception:  # noqa: BLE001 - the outbox itself may be what failed
        log.debug("job %s: reporting the failure failed too", job, exc_info=True)


async def run_premeeting(site: str, meeting_id: str, scheduled_for: str) -> None:
    agent = _AGENTS.get(site)
    if agent is None:
        log.error("pre-meeting test for %s: no agent running for site %s", meeting_id, site)
        return
    try:
        late = _late(agent, scheduled_for)
        if late:
            agent.emit(Event(site=site, kind="job_late", data={"job": f"{PREMEETING}{meeting_id}",
                                                               "scheduled_for": scheduled_for}))
        await agent.selftest(trigger="pre_meeting", meeting_id=meeting_id, late=late)
        agent.tasks.ok("job:premeeting")
    except Exception as exc:  # noqa: BLE001 - supervised: a failing job never goes unnoticed
        _failed(agent, "premeeting", exc)


async def run_inspection(site: str, scheduled_for: str) -> None:
    agent = _AGENTS.get(site)
    if agent is None:
        log.error("inspection: no agent running for site %s", site)
        return
    late = _late(agent, scheduled_for)
    try:
        await agent.inspection(late=late)
        agent.tasks.ok("job:inspection")
    except Exception as exc:  # noqa: BLE001 - supervised: a failing job never goes unnoticed
        _failed(agent, "inspection", exc)
    finally:
        agent.scheduler.schedule_inspection()


async def run_flush(site: str) -> None:
    agent = _AGENTS.get(site)
    if agent is not None and agent.link is not None:
        agent.link.wake()


def next_inspection(now: datetime, tz: str, day: int, hour: int, minute: int = 0) -> datetime:
    """The next monthly inspection time after ``now`` (day clamped to 28 so every month has it)."""
    zone = ZoneInfo(tz)
    local = now.astimezone(zone)
    day = max(1, min(day, 28))
    candidate = local.replace(day=day, hour=hour, minute=minute, second=0, microsecond=0)
    if candidate <= local:
        year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
        candidate = candidate.replace(year=year, month=month)
    return candidate.astimezone(UTC)


class AgentScheduler:
    def __init__(self, agent: Any, state_dir: Path, writer: DiskWriter | None = None) -> None:
        self.agent = agent
        self.site = agent.site.id
        self.path = Path(state_dir) / "jobs.sqlite"
        self.writer = writer or DiskWriter("agent-jobs")
        self.store: WriteBehindJobStore | None = None
        self.scheduler: AsyncIOScheduler | None = None
        #: (meeting id, start) of every pre-meeting test planned since this agent started: central
        #: resends the schedule on every change (another meeting, a start), and a test already run
        #: inside the lead window must not run again (it would place a test call mid-meeting).
        self._planned: set[tuple[str, datetime]] = set()

    def start(self) -> None:
        cfg = self.agent.config
        _AGENTS[self.site] = self.agent
        self.store = WriteBehindJobStore(self.path, self.writer)
        self.scheduler = AsyncIOScheduler(
            jobstores={"default": self.store, "memory": MemoryJobStore()},
            job_defaults={"coalesce": True, "misfire_grace_time": 3600, "max_instances": 1},
            timezone=UTC)
        self.scheduler.add_listener(self._on_missed, EVENT_JOB_MISSED | EVENT_JOB_ERROR)
        self.scheduler.start()
        self.scheduler.add_job(run_flush, "interval", seconds=cfg.flush_interval, args=[self.site],
                               id="flush", jobstore="memory", replace_existing=True, coalesce=True,
                               misfire_grace_time=max(1, int(cfg.flush_interval)))
        if self.scheduler.get_job(INSPECTION) is None:
            self.schedule_inspection()

    def shutdown(self) -> None:
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        self.scheduler = None
        if _AGENTS.get(self.site) is self.agent:
            del _AGENTS[self.site]

    def _on_missed(self, event: JobExecutionEvent) -> None:
        if event.code == EVENT_JOB_MISSED:
            log.warning("job %s missed its run at %s (agent down beyond the grace window)",
                        event.job_id, event.scheduled_run_time)
            self.agent.emit(Event(site=self.site, kind="job_missed",
                                  data={"job": event.job_id, "scheduled_for": str(event.scheduled_run_time)}))
        elif event.exception is not None:
            log.error("job %s failed: %r", event.job_id, event.exception)

    # -- meetings ---------------------------------------------------------------------------------------
    def set_meetings(self, meetings: list[MeetingSchedule]) -> list[str]:
        """Replace the pre-meeting tests with those for ``meetings``; returns the job ids."""
        assert self.scheduler is not None
        lead = timedelta(seconds=self.agent.config.premeeting_lead)
        now = datetime.now(UTC)
        wanted: list[str] = []
        for m in meetings:
            start = m.start if m.start.tzinfo else m.start.replace(tzinfo=UTC)
            if start <= now:
                continue  # started already: a test now helps nobody
            due = max(start - lead, now)
            job_id = f"{PREMEETING}{m.id}"
            if (m.id, start) in self._planned and self.scheduler.get_job(job_id) is None:
                continue  # already ran (or is running) for this start time
            self._planned.add((m.id, start))
            wanted.append(job_id)
            self.scheduler.add_job(run_premeeting, "date", run_date=due, id=job_id, replace_existing=True,
                                   args=[self.site, m.id, due.isoformat()], coalesce=True,
                                   misfire_grace_time=max(1, int((start - due).total_seconds())))
        for job in self.scheduler.get_jobs(jobstore="default"):
            if job.id.startswith(PREMEETING) and job.id not in wanted:
                job.remove()
        return wanted

    def schedule_inspection(self, at: datetime | None = None) -> datetime:
        assert self.scheduler is not None
        cfg = self.agent.config
        due = at or next_inspection(datetime.now(UTC), self.agent.site.timezone, cfg.inspection_day,
                                    cfg.inspection_hour)
        self.scheduler.add_job(run_inspection, "date", run_date=due, id=INSPECTION, replace_existing=True,
                               args=[self.site, due.isoformat()], coalesce=True,
                               misfire_grace_time=max(1, int(cfg.inspection_grace)))
        return due

    def jobs(self) -> list[tuple[str, datetime | None]]:
        assert self.scheduler is not None
        return [(j.id, j.next_run_time) for j in self.scheduler.get_jobs()]
