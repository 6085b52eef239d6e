"""Wake-ups for the agent hub, collected on the session and delivered after commit.

Services only note *which* site has new commands or a changed schedule; the unit of work hands the
notes to the hub once the transaction is committed, so the hub never reads uncommitted rows.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

COMMANDS = "wake_commands"
SCHEDULE = "wake_schedule"


def wake_commands(session: Session, site_id: str) -> None:
    session.info.setdefault(COMMANDS, set()).add(site_id)


def wake_schedule(session: Session, site_id: str) -> None:
    session.info.setdefault(SCHEDULE, set()).add(site_id)


def take(session: Session) -> tuple[set[str], set[str]]:
    return session.info.pop(COMMANDS, set()), session.info.pop(SCHEDULE, set())
