"""Row locks for decisions that several central instances could take at the same time.

On PostgreSQL ``SELECT ... FOR UPDATE`` makes a second instance wait until the first one's
transaction ends and then read what it wrote, so "read, decide, write" runs once per change (a
host dials once, not twice or never). SQLite takes no row locks (the dialect drops FOR UPDATE);
there one instance's single writer lock already serialises the transactions.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from central.models import Meeting


def lock_meeting(session: Session, meeting_id: str) -> Meeting | None:
    """The meeting row, locked until this transaction ends and read fresh after the lock."""
    return session.scalars(
        select(Meeting).where(Meeting.id == meeting_id).with_for_update()
        .execution_options(populate_existing=True)
    ).first()
