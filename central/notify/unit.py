"""Session listeners of the unit of work: collect what a transaction changed, announce it at commit.

Installed once on the app's session factory by the composition root (``central.app``), so services
and routers only write rows: the ORM writes themselves say which dashboard topics changed, and
services add the ids the hub needs (``central.services.wake``). On PostgreSQL the ids go out with
``pg_notify`` inside the committing transaction (delivered only if it commits); after the commit
they are published on this instance's bus. A rolled-back transaction announces nothing.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction, sessionmaker
from sqlalchemy.orm.attributes import get_history

from central.models import AgentToken, Meeting, MeetingSite
from central.notify.bus import ChangeBus
from central.notify.changes import Changes

log = logging.getLogger(__name__)

CHANNEL = "roomops_changes"
INFO_KEY = "roomops_changes"

#: table -> dashboard topic its rows belong to
TABLE_TOPICS = {
    "sites": "sites", "agent_tokens": "sites", "devices": "devices", "faults": "faults",
    "fault_notes": "faults", "selftests": "selftests", "meetings": "meetings", "meeting_sites": "meetings",
    "recordings": "meetings", "recording_checks": "meetings", "commands": "commands",
    "relocations": "relocations", "audit": "audit",
}


def changes_of(session: Session) -> Changes:
    """The changes noted so far in ``session``'s transaction."""
    found = session.info.get(INFO_KEY)
    if found is None:
        found = session.info[INFO_KEY] = Changes()
    return found


def install(sessions: sessionmaker[Session], bus: ChangeBus, instance_id: str, *, postgres: bool) -> None:
    """Attach the listeners to every session ``sessions`` makes."""

    @event.listens_for(sessions, "after_flush")
    def _flushed(session: Session, _flush: UOWTransaction) -> None:
        changes = changes_of(session)
        for obj in (*session.new, *session.dirty, *session.deleted):
            table = getattr(type(obj), "__tablename__", None)
            if table in TABLE_TOPICS:
                changes.topics.add(TABLE_TOPICS[table])
            if isinstance(obj, Meeting):
                changes.meetings.add(obj.id)
            elif isinstance(obj, MeetingSite):
                changes.meetings.add(obj.meeting_id)
            elif isinstance(obj, AgentToken) and obj.revoked_at is not None \
                    and get_history(obj, "revoked_at").added:
                changes.tokens.add(obj.id)

    @event.listens_for(sessions, "do_orm_execute")
    def _executed(state: ORMExecuteState) -> None:
        if state.is_insert or state.is_update or state.is_delete:
            table = getattr(getattr(state.statement, "table", None), "name", None)
            if table in TABLE_TOPICS:
                changes_of(state.session).topics.add(TABLE_TOPICS[table])

    if postgres:
        @event.listens_for(sessions, "before_commit")
        def _notify(session: Session) -> None:
            session.flush()      # the final flush comes after this hook; its writes count too
            changes = session.info.get(INFO_KEY)
            if changes:
                for payload in changes.payloads(instance_id):
                    session.execute(text("SELECT pg_notify(:channel, :payload)"),
                                    {"channel": CHANNEL, "payload": payload})

    @event.listens_for(sessions, "after_commit")
    def _committed(session: Session) -> None:
        changes = session.info.pop(INFO_KEY, None)
        if changes:
            bus.publish(changes)

    @event.listens_for(sessions, "after_rollback")
    def _rolled_back(session: Session) -> None:
        session.info.pop(INFO_KEY, None)


def is_postgres(sessions: sessionmaker[Any]) -> bool:
    bind = sessions.kw.get("bind")
    return bind is not None and bind.dialect.name == "postgresql"
