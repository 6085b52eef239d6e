"""The agent's disk writer: writes leave the event loop, jobs queued together commit together,
``synchronous=FULL`` stays, and a failing job does not take its batch down."""

from __future__ import annotations

import asyncio
import sqlite3
import threading

import pytest

from agent.disk import DiskWriter, connect


def test_connections_keep_synchronous_full_and_wal(tmp_path) -> None:
    db = connect(tmp_path / "x.sqlite")
    assert db.execute("PRAGMA synchronous").fetchone()[0] == 2          # FULL
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()


async def test_writes_run_on_the_writer_thread_and_group_commit(tmp_path) -> None:
    writer = DiskWriter("test-disk")
    db = connect(tmp_path / "x.sqlite")
    db.execute("CREATE TABLE t (n INTEGER)")
    threads: set[str] = set()
    gate = threading.Event()

    def insert(n: int):
        def job(conn: sqlite3.Connection) -> int:
            threads.add(threading.current_thread().name)
            if n == 0:
                gate.wait(10)        # hold the first batch so the rest queue up behind it
            conn.execute("INSERT INTO t VALUES (?)", (n,))
            return n
        return job

    first = writer.submit(db, insert(0))
    rest = [writer.submit(db, insert(n)) for n in range(1, 200)]
    gate.set()
    assert [await asyncio.wrap_future(f) for f in [first, *rest]] == list(range(200))
    assert threads == {"test-disk"}
    assert writer.jobs == 200 and writer.commits <= 3       # 199 jobs behind the first: one or two commits
    assert db.execute("SELECT COUNT(*) FROM t").fetchone()[0] == 200
    writer.close()
    db.close()


async def test_a_failing_job_is_its_own_outcome(tmp_path) -> None:
    writer = DiskWriter()
    db = connect(tmp_path / "x.sqlite")
    db.execute("CREATE TABLE t (n INTEGER PRIMARY KEY)")
    gate = threading.Event()
    held = writer.submit(db, lambda c: gate.wait(10))
    ok1 = writer.submit(db, lambda c: c.execute("INSERT INTO t VALUES (1)").rowcount)
    bad = writer.submit(db, lambda c: c.execute("INSERT INTO t VALUES (1)"))      # duplicate key
    ok2 = writer.submit(db, lambda c: c.execute("INSERT INTO t VALUES (2)").rowcount)
    gate.set()
    await asyncio.wrap_future(held)
    assert await asyncio.wrap_future(ok1) == 1 and await asyncio.wrap_future(ok2) == 1
    with pytest.raises(sqlite3.IntegrityError):
        await asyncio.wrap_future(bad)
    assert [r[0] for r in db.execute("SELECT n FROM t ORDER BY n")] == [1, 2]
    writer.close()
    # after close, writes still happen (on the caller's thread) rather than being lost
    assert writer.submit(db, lambda c: c.execute("INSERT INTO t VALUES (3)").rowcount).result() == 1
    db.close()
