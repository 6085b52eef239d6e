"""Notes for the agent hub, collected on the session and announced only after commit.

Services only note *which* site has new commands or a changed schedule; the unit of work's
listeners (``central.notify.unit``) announce the notes once the transaction has committed (and, on
PostgreSQL, to every other instance with ``pg_notify``), so nobody reads uncommitted rows.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from central.notify.unit import changes_of


def wake_commands(session: Session, site_id: str) -> None:
    changes_of(session).commands.add(site_id)


def wake_schedule(session: Session, site_id: str) -> None:
    changes_of(session).schedules.add(site_id)
