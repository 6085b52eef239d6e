"""APScheduler job store held in memory and written behind to SQLite by the agent's disk writer.

APScheduler calls its job store synchronously from the event loop; ``SQLAlchemyJobStore`` then
commits (an fsync) on the loop for every job added, run or removed. This store answers every
read from memory and hands each change to the disk writer, in order, so the loop never waits on
the disk. It uses the table of ``SQLAlchemyJobStore`` (``apscheduler_jobs``), so a state
directory written by the earlier store loads as it is. ``flushed()`` waits until every change is
on disk (the agent acks a schedule from central only after that).
"""

from __future__ import annotations

import logging
import pickle
import sqlite3
from pathlib import Path
from typing import Any

from apscheduler.job import Job
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.util import datetime_to_utc_timestamp

from agent.disk import DiskWriter, connect

log = logging.getLogger(__name__)

_TABLE = """CREATE TABLE IF NOT EXISTS apscheduler_jobs (
    id VARCHAR(191) NOT NULL PRIMARY KEY,
    next_run_time FLOAT,
    job_state BLOB NOT NULL
)"""


class WriteBehindJobStore(MemoryJobStore):
    def __init__(self, path: str | Path, writer: DiskWriter) -> None:
        super().__init__()
        self.path = Path(path)
        self.writer = writer
        self._db: sqlite3.Connection | None = None

    def start(self, scheduler: Any, alias: str) -> None:
        super().start(scheduler, alias)
        self._db = connect(self.path)
        self._db.execute(_TABLE)
        broken: list[str] = []
        for job_id, state in self._db.execute(
                "SELECT id, job_state FROM apscheduler_jobs ORDER BY next_run_time").fetchall():
            try:
                job = self._reconstitute(state)
            except Exception:  # noqa: BLE001 - one unreadable job must not stop the others loading
                log.exception("unable to restore job %r; removing it", job_id)
                broken.append(job_id)
                continue
            MemoryJobStore.add_job(self, job)
        if broken:
            self._write(lambda db: db.executemany("DELETE FROM apscheduler_jobs WHERE id = ?",
                                                  [(j,) for j in broken]))

    def _reconstitute(self, state: bytes) -> Job:
        values = pickle.loads(state)
        values["jobstore"] = self
        job = Job.__new__(Job)
        job.__setstate__(values)
        job._scheduler = self._scheduler
        job._jobstore_alias = self._alias
        return job

    def add_job(self, job: Job) -> None:
        super().add_job(job)
        self._upsert(job)

    def update_job(self, job: Job) -> None:
        super().update_job(job)
        self._upsert(job)

    def remove_job(self, job_id: str) -> None:
        super().remove_job(job_id)
        self._write(lambda db: db.execute("DELETE FROM apscheduler_jobs WHERE id = ?", (job_id,)))

    def remove_all_jobs(self) -> None:
        super().remove_all_jobs()
        self._write(lambda db: db.execute("DELETE FROM apscheduler_jobs"))

    def shutdown(self) -> None:
        # forget the jobs in memory only: they stay on disk for the next start
        MemoryJobStore.remove_all_jobs(self)
        if self._db is not None:
            db, self._db = self._db, None
            self.writer.barrier().result(timeout=30)
            db.close()

    async def flushed(self) -> None:
        await self.writer.flushed()

    def _upsert(self, job: Job) -> None:
        # pickled now, on the caller's thread: the job object may change before the writer runs
        values = (job.id, datetime_to_utc_timestamp(job.next_run_time),
                  pickle.dumps(job.__getstate__(), pickle.HIGHEST_PROTOCOL))
        self._write(lambda db: db.execute(
            "INSERT OR REPLACE INTO apscheduler_jobs (id, next_run_time, job_state) "
            "VALUES (?, ?, ?)", values))

    def _write(self, fn: Any) -> None:
        if self._db is not None:
            self.writer.submit(self._db, fn)
