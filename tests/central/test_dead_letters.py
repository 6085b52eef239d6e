"""The dead-letter store on its own (real SQLite and PostgreSQL): a repeat is counted, not stored
twice; a frame over the limit keeps its first bytes only; a full quota is refused, not overflowed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from central import migrate
from central.db import make_engine, make_session_factory, transaction
from central.models import DeadLetter
from central.services import accounts, dead_letters
from contracts.limits import MAX_FRAME_BYTES


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    migrate.upgrade(engine)
    with transaction(make_session_factory(engine)) as session:
        accounts.create_site(session, "urumqi")
    try:
        yield engine
    finally:
        engine.dispose()


def keep(session: Session, raw: str, msg_id: str | None, kind: str | None = "event") -> bool:
    return dead_letters.keep(session, site_id="urumqi", raw=raw, msg_id=msg_id, kind=kind, reason="bad")


def test_repeat_counted_truncated_kept_and_quota(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    factory = make_session_factory(engine)
    with transaction(factory) as session:
        assert keep(session, '{"a": 1}', "m1")
        assert keep(session, '{"a": 1}', "m1")                      # the agent sent it again
        assert keep(session, "x" * (MAX_FRAME_BYTES + 10), "m2")
        assert keep(session, "garbage \x00 here", None, kind="zap\x00")
    with transaction(factory) as session:
        m1 = session.scalars(select(DeadLetter).where(DeadLetter.msg_id == "m1")).one()
        assert m1.received == 2 and m1.state == "held"
        m2 = session.scalars(select(DeadLetter).where(DeadLetter.msg_id == "m2")).one()
        assert m2.truncated and len(m2.body) == dead_letters.TRUNCATED_BYTES
        odd = session.scalars(select(DeadLetter).where(DeadLetter.msg_id.is_(None))).one()
        assert odd.type is None and "\x00" not in odd.body
    monkeypatch.setattr(dead_letters, "QUOTA_PER_SITE", 3)
    with transaction(factory) as session:
        assert not keep(session, "{}", "m4")                          # full: refused, not stored
        assert keep(session, '{"a": 1}', "m1")                        # a repeat is still counted
        assert session.scalar(select(func.count()).select_from(DeadLetter)) == 3
