"""The on-disk outbox: everything the agent reports waits here until central acknowledges it.

SQLite in WAL mode with ``synchronous=FULL``, written by the agent's disk writer thread
(``agent.disk``): ``put`` queues the row and returns at once, the writer commits it with whatever
else was queued (group commit), and ``durable()`` waits for that commit. What is pending is
mirrored in memory, so the link reads it without touching the disk. Rows leave in insertion
order and are deleted only by ``ack`` (central ingested it, or kept it as a dead letter); central
ingests a repeated ``msg_id`` once, so re-sending after a reconnect is safe.

While a status waits unsent (central unreachable), a newer status covering the same devices
replaces it: only the newest status per device is kept; every event, self-test and command result
is kept. A message central rejected without keeping it is parked in its own table: out of the
sending queue, never deleted; so is one over the link's frame limit for its type
(``contracts.limits``), which central would refuse unread.
"""

from __future__ import annotations

import bisect
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel

from agent.disk import DiskWriter, connect
from contracts.limits import FRAME_BYTES, MAX_FRAME_BYTES
from contracts.messages import Status, dump_message

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS outbox (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    msg_id   TEXT NOT NULL UNIQUE,
    type     TEXT NOT NULL,
    body     TEXT NOT NULL,
    queued   REAL NOT NULL
)""",
    """CREATE TABLE IF NOT EXISTS parked (
    msg_id   TEXT PRIMARY KEY,
    type     TEXT NOT NULL,
    body     TEXT NOT NULL,
    queued   REAL NOT NULL,
    reason   TEXT NOT NULL,
    parked   REAL NOT NULL
)""",
)


_DELETE = "DELETE FROM outbox WHERE msg_id = ?"


@dataclass(frozen=True)
class Pending:
    seq: int
    msg_id: str
    type: str
    body: str
    queued: float = 0.0
    #: for a status: the devices (and call devices) it reports, to find the ones a newer one covers
    covers: frozenset[str] | None = None


@dataclass(frozen=True)
class Parked:
    msg_id: str
    type: str
    body: str
    reason: str


class Outbox:
    """Thread-safe persistent FIFO of wire messages."""

    def __init__(self, path: str | Path, writer: DiskWriter | None = None) -> None:
        self.path = Path(path)
        self._own_writer = writer is None
        self.writer = writer or DiskWriter("agent-outbox")
        self._lock = threading.Lock()
        self._db = connect(self.path)
        for statement in _SCHEMA:
            self._db.execute(statement)
        self._rows: dict[int, Pending] = {}
        self._by_id: dict[str, int] = {}
        self._seqs: list[int] = []          # ascending; may hold seqs already removed (skipped)
        self._sent: set[str] = set()        # handed to the current link: no longer replaceable
        self._parked: dict[str, Parked] = {}
        self._statuses: dict[str, Pending] = {}     # pending statuses, by msg_id
        for seq, msg_id, kind, body, queued in self._db.execute(
                "SELECT seq, msg_id, type, body, queued FROM outbox ORDER BY seq"):
            self._remember(Pending(seq, msg_id, kind, body, queued, _covers(kind, body)))
        for msg_id, kind, body, reason in self._db.execute("SELECT msg_id, type, body, reason FROM parked"):
            self._parked[msg_id] = Parked(msg_id, kind, body, reason)
        self._next_seq = (self._seqs[-1] if self._seqs else 0) + 1
        row = self._db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'").fetchone()
        if row is not None:
            self._next_seq = max(self._next_seq, int(row[0]) + 1)
        self._listeners: list[Callable[[], None]] = []
        #: statuses replaced by a newer one before they were sent (issue: off-line for hours)
        self.replaced = 0

    def on_put(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (from the putting thread) after every new message (registered once)."""
        if callback not in self._listeners:
            self._listeners.append(callback)

    # -- writing -----------------------------------------------------------------------------------
    def put(self, message: BaseModel) -> str:
        msg_id = str(message.msg_id)  # type: ignore[attr-defined]
        kind = str(message.type)  # type: ignore[attr-defined]
        body = dump_message(message)
        covers = _status_covers(message) if isinstance(message, Status) else None
        now = time.time()
        limit = FRAME_BYTES.get(kind, MAX_FRAME_BYTES)
        if len(body) > limit:
            self._park_new(msg_id, kind, body, now, f"{len(body)} bytes: over the link's {limit} byte limit")
            return msg_id
        with self._lock:
            if msg_id in self._by_id:
                return msg_id          # the same message again: kept once (INSERT OR IGNORE)
            seq = self._next_seq
            self._next_seq += 1
            replaced = self._replaceable(covers) if covers else []
            for old in replaced:
                self._forget(old.msg_id)
            self.replaced += len(replaced)
            self._remember(Pending(seq, msg_id, kind, body, now, covers))
            gone = [(old.msg_id,) for old in replaced]

            def write(db: sqlite3.Connection) -> None:
                db.execute("INSERT OR IGNORE INTO outbox (seq, msg_id, type, body, queued) "
                           "VALUES (?, ?, ?, ?, ?)", (seq, msg_id, kind, body, now))
                if gone:
                    db.executemany(_DELETE, gone)

            self.writer.submit(self._db, write)
        for callback in self._listeners:
            callback()
        return msg_id

    def ack(self, msg_ids: Iterable[str]) -> int:
        ids = list(msg_ids)
        if not ids:
            return 0
        with self._lock:
            removed = [m for m in ids if self._forget(m)]
            rows = [(m,) for m in ids]
            self.writer.submit(self._db, lambda db: db.executemany(_DELETE, rows))
        return len(removed)

    def park(self, reasons: Mapping[str, str]) -> None:
        """Move these messages out of the queue, with central's reason, for good."""
        now = time.time()
        with self._lock:
            rows = []
            for msg_id, reason in reasons.items():
                seq = self._by_id.get(msg_id)
                if seq is None:
                    continue
                pending = self._rows[seq]
                self._forget(msg_id)
                self._parked[msg_id] = Parked(msg_id, pending.type, pending.body, reason)
                rows.append((msg_id, pending.type, pending.body, pending.queued, reason, now))

            def write(db: sqlite3.Connection) -> None:
                db.executemany("INSERT OR REPLACE INTO parked (msg_id, type, body, queued, reason, parked) "
                               "VALUES (?, ?, ?, ?, ?, ?)", rows)
                db.executemany(_DELETE, [(r[0],) for r in rows])

            if rows:
                self.writer.submit(self._db, write)

    def _park_new(self, msg_id: str, kind: str, body: str, queued: float, reason: str) -> None:
        with self._lock:
            self._parked[msg_id] = Parked(msg_id, kind, body, reason)
            row = (msg_id, kind, body, queued, reason, queued)
            self.writer.submit(self._db, lambda db: db.execute(
                "INSERT OR REPLACE INTO parked (msg_id, type, body, queued, reason, parked) "
                "VALUES (?, ?, ?, ?, ?, ?)", row))

    def mark_sent(self, msg_ids: Iterable[str]) -> None:
        """These went out on the current link: a newer status no longer replaces them."""
        with self._lock:
            self._sent.update(msg_ids)

    def forget_sent(self) -> None:
        """The link dropped: what was sent and not acked is pending again."""
        with self._lock:
            self._sent.clear()

    async def durable(self) -> None:
        """Wait until everything queued so far is on disk."""
        await self.writer.flushed()

    # -- reading (memory only) ----------------------------------------------------------------------
    def pending(self, after_seq: int = 0, limit: int = 100) -> list[Pending]:
        with self._lock:
            start = bisect.bisect_right(self._seqs, after_seq)
            out: list[Pending] = []
            for seq in self._seqs[start:]:
                row = self._rows.get(seq)
                if row is not None:
                    out.append(row)
                    if len(out) >= limit:
                        break
            return out

    def parked(self) -> list[Parked]:
        with self._lock:
            return list(self._parked.values())

    def __len__(self) -> int:
        with self._lock:
            return len(self._rows)

    def oldest_age(self) -> float | None:
        """Seconds the oldest unacknowledged message has waited (for status and alerts)."""
        oldest = self.pending(limit=1)
        return time.time() - oldest[0].queued if oldest else None

    def close(self) -> None:
        if self._own_writer:
            self.writer.close()
        else:
            self.writer.barrier().result(timeout=30)
        with self._lock:
            self._db.close()

    # -- memory bookkeeping (under the lock) -------------------------------------------------------
    def _remember(self, row: Pending) -> None:
        self._rows[row.seq] = row
        self._by_id[row.msg_id] = row.seq
        if row.covers is not None:
            self._statuses[row.msg_id] = row
        if not self._seqs or row.seq > self._seqs[-1]:
            self._seqs.append(row.seq)
        else:
            bisect.insort(self._seqs, row.seq)

    def _forget(self, msg_id: str) -> bool:
        seq = self._by_id.pop(msg_id, None)
        if seq is None:
            return False
        del self._rows[seq]
        self._statuses.pop(msg_id, None)
        self._sent.discard(msg_id)
        if len(self._seqs) > 64 and len(self._seqs) > 2 * len(self._rows):
            self._seqs = sorted(self._rows)     # drop the removed ones now and then
        return True

    def _replaceable(self, covers: frozenset[str]) -> list[Pending]:
        """Unsent statuses that report nothing ``covers`` does not (a newer status replaces them)."""
        return [row for row in self._statuses.values()
                if row.covers is not None and row.msg_id not in self._sent and row.covers <= covers]


def _status_covers(status: Status) -> frozenset[str] | None:
    if status.recording is not None:
        return None           # recording state is not per device: keep it as it is
    return frozenset([d.id for d in status.devices] + [f"call:{c.device}" for c in status.calls])


def _covers(kind: str, body: str) -> frozenset[str] | None:
    if kind != "status":
        return None
    try:
        value = json.loads(body)
    except ValueError:
        return None
    if value.get("recording") is not None:
        return None
    return frozenset([d.get("id", "") for d in value.get("devices", ())]
                     + [f"call:{c.get('device', '')}" for c in value.get("calls", ())])
