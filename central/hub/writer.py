"""One writer for the agent links: jobs submitted together commit in one transaction.

A transaction per agent message costs a commit each (an fsync on SQLite, a WAL flush on
PostgreSQL) and, on SQLite, many threads queueing on one write lock. Here the jobs that arrive
while a batch is being written form the next batch (group commit): one thread, one transaction,
one commit for all of them. A caller hears back only after its work is committed, so an ack
still means "stored". When one job of a batch fails, nothing of that batch was committed and
every job is written again alone, so one bad message cannot take the others down with it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, TypeVar

from anyio import to_thread
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

T = TypeVar("T")
UnitFactory = Callable[[], AbstractContextManager[Session]]

#: Upper bound on jobs per transaction: keeps one commit's latency and lock time bounded.
MAX_BATCH = 256


@dataclass
class _Pending:
    job: Callable[[Session], Any]
    future: asyncio.Future[Any]


@dataclass
class _Outcome:
    value: Any = None
    error: Exception | None = None


class BatchWriter:
    """Writes on a thread of its own: the shared pool also runs PDF rendering, checksums and sign-in,
    and a link's ack must not wait behind them."""

    def __init__(self, unit: UnitFactory, max_batch: int = MAX_BATCH, name: str = "batch-writer") -> None:
        self._unit = unit
        self.max_batch = max_batch
        self.name = name
        self._executor: ThreadPoolExecutor | None = None
        self._queue: asyncio.Queue[_Pending | None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        #: transactions written and jobs in them (batches that failed and were split count once)
        self.batches = 0
        self.jobs = 0

    async def submit(self, job: Callable[[Session], T]) -> T:
        """Run ``job(session)`` in a shared transaction; returns its value once that has committed."""
        if self._closed:   # shutting down: the job gets a transaction of its own
            outcome = await to_thread.run_sync(self._write_alone, job)
            return _unwrap(outcome)
        queue = self._start()
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        queue.put_nowait(_Pending(job, future))
        result: T = await future
        return result

    async def close(self) -> None:
        """Write every job already queued, then stop; jobs submitted later run alone."""
        self._closed = True
        if self._task is None or self._queue is None:
            return
        self._queue.put_nowait(None)
        await self._task
        if self._executor is not None:
            self._executor.shutdown(wait=False)
            self._executor = None

    def _start(self) -> asyncio.Queue[_Pending | None]:
        if self._queue is None:
            self._queue = asyncio.Queue()
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=self.name)
            self._task = asyncio.get_running_loop().create_task(self._run(), name=self.name)
        return self._queue

    async def _run(self) -> None:
        assert self._queue is not None
        batch: list[_Pending] = []
        try:
            while True:
                batch, stop = self._take(await self._queue.get())
                if batch:
                    outcomes = await asyncio.get_running_loop().run_in_executor(
                        self._executor, self._write, [p.job for p in batch])
                    for pending, outcome in zip(batch, outcomes, strict=True):
                        _resolve(pending.future, outcome)
                if stop:
                    return
        finally:
            # cancelled with the loop: nobody is left to write for whoever still waits
            self._closed = True
            for pending in batch:
                pending.future.cancel()
            while not self._queue.empty():
                item = self._queue.get_nowait()
                if item is not None:
                    item.future.cancel()

    def _take(self, first: _Pending | None) -> tuple[list[_Pending], bool]:
        """``first`` and whatever else is queued right now (up to the bound); True at the stop mark."""
        assert self._queue is not None
        batch: list[_Pending] = []
        item = first
        while item is not None:
            batch.append(item)
            if len(batch) >= self.max_batch or self._queue.empty():
                return batch, False
            item = self._queue.get_nowait()
        return batch, True

    # -- in the worker thread --------------------------------------------------------------------
    def _write(self, jobs: list[Callable[[Session], Any]]) -> list[_Outcome]:
        try:
            with self._unit() as session:
                values = _run_in_runs(session, jobs)
        except Exception as exc:  # noqa: BLE001 - the batch rolled back; each job is retried alone below
            if len(jobs) == 1:
                self._count(1)
                return [_Outcome(error=exc)]
            log.info("a batch of %d link jobs failed (%s: %s); writing each alone",
                     len(jobs), type(exc).__name__, exc)
            return [self._write_alone(job) for job in jobs]
        self._count(len(jobs))
        return [_Outcome(value=value) for value in values]

    def _write_alone(self, job: Callable[[Session], Any]) -> _Outcome:
        self._count(1)
        try:
            with self._unit() as session:
                return _Outcome(value=job(session))
        except Exception as exc:  # noqa: BLE001 - re-raised in the job's caller, who decides what it means
            return _Outcome(error=exc)

    def _count(self, jobs: int) -> None:
        self.batches += 1
        self.jobs += jobs


def _run_in_runs(session: Session, jobs: list[Callable[[Session], Any]]) -> list[Any]:
    """Run ``jobs`` in order; a run of consecutive jobs of one type with ``run_many`` (e.g. many
    ``status`` messages) is handed over whole, so it can share multi-row statements."""
    values: list[Any] = []
    i = 0
    while i < len(jobs):
        kind = type(jobs[i])
        run_many = getattr(kind, "run_many", None)
        if run_many is None:
            values.append(jobs[i](session))
            i += 1
            continue
        end = i + 1
        while end < len(jobs) and type(jobs[end]) is kind:
            end += 1
        values.extend(run_many(session, jobs[i:end]))
        i = end
    return values


def _resolve(future: asyncio.Future[Any], outcome: _Outcome) -> None:
    if future.done():       # the caller went away (its link closed); the work is done regardless
        return
    if outcome.error is not None:
        future.set_exception(outcome.error)
    else:
        future.set_result(outcome.value)


def _unwrap(outcome: _Outcome) -> Any:
    if outcome.error is not None:
        raise outcome.error
    return outcome.value
