"""``PgListener``: other instances' changes, heard through PostgreSQL LISTEN on a connection of its own.

One dedicated autocommit psycopg connection per instance, used for nothing else (while
``notifies()`` runs, other statements on the same connection would hang). A listener that
reconnects has missed whatever was sent in between, so after every (re)connect it publishes one
``resync`` and the subscribers re-read from the tables once.
"""

from __future__ import annotations

import asyncio
import logging

import psycopg
from sqlalchemy.engine import URL

from central.notify.bus import ChangeBus
from central.notify.changes import Changes
from central.notify.unit import CHANNEL

log = logging.getLogger(__name__)

RETRY_FIRST_SECONDS = 0.5
RETRY_MAX_SECONDS = 10.0


def libpq_url(url: URL) -> str:
    """The SQLAlchemy URL as a libpq connection URI (no ``+psycopg`` driver suffix)."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


class PgListener:
    def __init__(self, url: URL, bus: ChangeBus, instance_id: str) -> None:
        self._conninfo = libpq_url(url)
        self._bus = bus
        self._instance = instance_id
        #: how many times a LISTEN connection was established (for tests and metrics)
        self.connects = 0
        #: notifications received from other instances
        self.received = 0
        self.listening = asyncio.Event()

    async def run(self) -> None:
        """Listen until cancelled; reconnect with a capped backoff when the connection drops."""
        delay = RETRY_FIRST_SECONDS
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    self.connects += 1
                    self.listening.set()
                    delay = RETRY_FIRST_SECONDS
                    # whatever was sent while no one listened is read again from the tables
                    self._bus.publish(Changes(resync=True))
                    async for note in conn.notifies():
                        self._heard(note.payload)
            except psycopg.Error as exc:
                log.warning("change listener lost PostgreSQL (%s); retrying in %.1f s",
                            str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__,
                            delay)
            finally:
                self.listening.clear()
            await asyncio.sleep(delay)       # backoff before reconnecting to the database
            delay = min(delay * 2, RETRY_MAX_SECONDS)

    def _heard(self, payload: str) -> None:
        try:
            sender, changes = Changes.from_payload(payload)
        except (ValueError, TypeError) as exc:
            log.warning("ignoring a malformed change notification: %s", exc)
            return
        if sender == self._instance:
            return      # published on this instance's bus right after its own commit
        self.received += 1
        self._bus.publish(changes)
