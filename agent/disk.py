"""The agent's one disk writer: every SQLite write of the outbox, command store and job store runs
on this thread, off the event loop, with group commit.

A commit with ``synchronous=FULL`` waits for the disk (an fsync, milliseconds on a slow card).
On the event loop that wait would delay heartbeats and device deadlines; here the loop only
queues a job. Jobs queued while the thread was writing form the next batch: one transaction and
one commit per database file for all of them. A job's future resolves only after its commit, so
a caller that needs "on disk" (a command recorded before it runs) awaits it; the rest do not.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")

#: jobs per batch at most: bounds one commit's latency
MAX_BATCH = 500


def connect(path: str | Path) -> sqlite3.Connection:
    """A connection in WAL mode with ``synchronous=FULL``, usable from the writer and reader threads."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("PRAGMA busy_timeout=10000")
    return db


@dataclass
class _Job:
    db: sqlite3.Connection | None        # None: a barrier (resolves when everything before it is on disk)
    fn: Callable[[sqlite3.Connection], Any] | None
    future: concurrent.futures.Future[Any]


class DiskWriter:
    def __init__(self, name: str = "agent-disk") -> None:
        self.name = name
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = False
        #: transactions committed and jobs in them (for tests and the bench)
        self.commits = 0
        self.jobs = 0

    def submit(self, db: sqlite3.Connection, fn: Callable[[sqlite3.Connection], T]
               ) -> concurrent.futures.Future[T]:
        """Queue ``fn(db)``; the future resolves after the batch holding it has committed."""
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        if self._closed:
            # shutting down: write at once on the caller's thread rather than lose it
            try:
                with self._lock:
                    future.set_result(_in_transaction(db, [fn])[0])
            except Exception as exc:  # noqa: BLE001 - handed to whoever waits on the future
                future.set_exception(exc)
            return future
        self._start()
        self._queue.put(_Job(db, fn, future))
        return future

    async def run(self, db: sqlite3.Connection, fn: Callable[[sqlite3.Connection], T]) -> T:
        """``submit`` and wait for the commit without blocking the event loop."""
        return await asyncio.wrap_future(self.submit(db, fn))

    def barrier(self) -> concurrent.futures.Future[None]:
        """Resolves once every job queued before it is on disk."""
        future: concurrent.futures.Future[None] = concurrent.futures.Future()
        if self._closed or self._thread is None:
            future.set_result(None)
            return future
        self._queue.put(_Job(None, None, future))
        return future

    async def flushed(self) -> None:
        await asyncio.wrap_future(self.barrier())

    def close(self, timeout: float = 30.0) -> None:
        """Write what is queued, then stop the thread (later jobs are written on the caller's thread)."""
        with self._lock:
            self._closed = True
            thread = self._thread
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout)

    def _start(self) -> None:
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                    self._thread.start()

    # -- on the writer thread -----------------------------------------------------------------
    def _run(self) -> None:
        stop = False
        while not stop:
            first = self._queue.get()
            batch: list[_Job] = []
            item = first
            while item is not None:
                batch.append(item)
                if len(batch) >= MAX_BATCH:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            else:
                stop = True      # the stop mark: write this batch, then end
            self._write(batch)

    def _write(self, batch: list[_Job]) -> None:
        by_db: dict[int, list[_Job]] = {}
        for job in batch:
            if job.db is not None:
                by_db.setdefault(id(job.db), []).append(job)
        with self._lock:
            for jobs in by_db.values():
                db = jobs[0].db
                assert db is not None
                try:
                    outcomes = _in_transaction(db, [job.fn for job in jobs if job.fn is not None], each=True)
                except Exception as exc:  # noqa: BLE001 - the commit failed: every job of it hears so
                    log.error("agent disk write of %d job(s) failed: %s", len(jobs), exc)
                    for job in jobs:
                        job.future.set_exception(exc)
                    continue
                self.commits += 1
                self.jobs += len(jobs)
                for job, outcome in zip(jobs, outcomes, strict=True):
                    if isinstance(outcome, _Failed):
                        job.future.set_exception(outcome.error)
                    else:
                        job.future.set_result(outcome)
        for job in batch:
            if job.db is None:
                job.future.set_result(None)


@dataclass
class _Failed:
    error: Exception


def _in_transaction(db: sqlite3.Connection, fns: list[Callable[[sqlite3.Connection], Any]],
                    each: bool = False) -> list[Any]:
    """Run ``fns`` in one transaction; with ``each`` a failing job is its own outcome (SQLite keeps
    the transaction usable after a failed statement), else the first failure rolls back and raises."""
    db.execute("BEGIN IMMEDIATE")
    out: list[Any] = []
    try:
        for fn in fns:
            if not each:
                out.append(fn(db))
                continue
            db.execute("SAVEPOINT job")
            try:
                out.append(fn(db))
            except Exception as exc:  # noqa: BLE001 - this job's failure, undone; the batch goes on
                db.execute("ROLLBACK TO job")
                out.append(_Failed(exc))
            finally:
                db.execute("RELEASE job")
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    return out
