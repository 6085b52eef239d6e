"""The on-disk outbox: everything the agent reports waits here until central acknowledges it.

SQLite in WAL mode with ``synchronous=FULL``: a row is on disk when ``put`` returns, so it
survives ``kill -9`` of the agent (and a power cut). Rows leave in insertion order and are
deleted only by ``ack``. Central ingests a repeated ``msg_id`` once, so re-sending after a
reconnect is safe; a message is never lost and never counted twice.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel

from contracts.messages import dump_message

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    msg_id   TEXT NOT NULL UNIQUE,
    type     TEXT NOT NULL,
    body     TEXT NOT NULL,
    queued   REAL NOT NULL
)
"""


@dataclass(frozen=True)
class Pending:
    seq: int
    msg_id: str
    type: str
    body: str


class Outbox:
    """Thread-safe persistent FIFO of wire messages."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(_SCHEMA)
        self._listeners: list[Callable[[], None]] = []

    def on_put(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (from the putting thread) after every new message."""
        self._listeners.append(callback)

    def put(self, message: BaseModel) -> str:
        msg_id = str(message.msg_id)  # type: ignore[attr-defined]
        body = dump_message(message)
        with self._lock:
            self._db.execute("INSERT OR IGNORE INTO outbox (msg_id, type, body, queued) VALUES (?, ?, ?, ?)",
                             (msg_id, str(message.type), body, time.time()))  # type: ignore[attr-defined]
        for callback in self._listeners:
            callback()
        return msg_id

    def pending(self, after_seq: int = 0, limit: int = 100) -> list[Pending]:
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, msg_id, type, body FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?",
                (after_seq, limit)).fetchall()
        return [Pending(*row) for row in rows]

    def ack(self, msg_ids: list[str]) -> int:
        if not msg_ids:
            return 0
        with self._lock:
            cur = self._db.executemany("DELETE FROM outbox WHERE msg_id = ?", [(m,) for m in msg_ids])
            return cur.rowcount

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])

    def oldest_age(self) -> float | None:
        """Seconds the oldest unacknowledged message has waited (for status and alerts)."""
        with self._lock:
            row = self._db.execute("SELECT MIN(queued) FROM outbox").fetchone()
        return None if row[0] is None else time.time() - float(row[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
