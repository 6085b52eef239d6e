"""Committed changes: the payload form, the unit-of-work listeners, pg_notify inside the commit."""

from __future__ import annotations

import json
import time
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import update

from central import migrate
from central.db import make_engine, make_session_factory, transaction
from central.models import AgentToken, Site
from central.notify import unit as unit_events
from central.notify.bus import ChangeBus
from central.notify.changes import PAYLOAD_LIMIT, Changes
from central.notify.pg import libpq_url
from central.services import accounts
from central.services.wake import wake_commands, wake_schedule
from tests.central.helpers import postgres_database, postgres_reachable


def test_payloads_stay_under_the_limit_and_carry_every_id() -> None:
    sites = {f"site-with-a-long-name-{i:05d}" for i in range(2000)}
    changes = Changes(commands=set(sites), schedules={"a"}, meetings={"m1"}, tokens={"t1"},
                      topics={"commands"}, links={"a": 3})
    payloads = changes.payloads("instance-1")
    assert len(payloads) > 1
    assert all(len(p.encode()) <= PAYLOAD_LIMIT for p in payloads)
    merged = Changes()
    for payload in payloads:
        sender, part = Changes.from_payload(payload)
        assert sender == "instance-1"
        merged.merge(part)
    assert merged == changes


def test_a_resync_travels_alone_and_garbage_is_refused() -> None:
    (payload,) = Changes(resync=True).payloads("x")
    assert Changes.from_payload(payload)[1].resync
    for bad in ("[]", '{"c": ["a"]}', "not json"):
        with pytest.raises(ValueError):
            Changes.from_payload(bad)


class Heard:
    def __init__(self) -> None:
        self.changes: list[Changes] = []

    def __call__(self, changes: Changes) -> None:
        self.changes.append(changes)


def _factory(url: str, bus: ChangeBus, *, postgres: bool):  # type: ignore[no-untyped-def]
    engine = make_engine(url)
    migrate.upgrade(engine)
    sessions = make_session_factory(engine)
    unit_events.install(sessions, bus, "me", postgres=postgres)
    return engine, sessions


def test_changes_are_published_after_commit_and_never_after_rollback(tmp_path: Path) -> None:
    bus, heard = ChangeBus(), Heard()
    bus.subscribe(heard)
    engine, sessions = _factory(f"sqlite:///{tmp_path / 'c.db'}", bus, postgres=False)
    try:
        with transaction(sessions) as session:
            accounts.create_site(session, "urumqi")
            wake_commands(session, "urumqi")
            wake_schedule(session, "urumqi")
            assert heard.changes == []          # nothing before the commit
        (first,) = heard.changes
        assert first.commands == {"urumqi"} and first.schedules == {"urumqi"} and "sites" in first.topics
        with pytest.raises(RuntimeError), transaction(sessions) as session:
            wake_commands(session, "urumqi")
            session.execute(update(Site).values(name="x"))
            raise RuntimeError("rolled back")
        assert len(heard.changes) == 1
        with transaction(sessions) as session:
            _, secret = accounts.issue_site_token(session, "urumqi", "test")
        with transaction(sessions) as session:
            token_id = session.query(AgentToken.id).scalar()
            accounts.revoke_site_token(session, "urumqi", token_id)
        assert heard.changes[-1].tokens == {token_id}
        assert secret not in json.dumps(sorted(heard.changes[-1].tokens))
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_pg_notify_is_sent_with_the_commit_and_only_then() -> None:
    reason = postgres_reachable()
    if reason:
        pytest.skip(reason)
    with postgres_database() as url:
        bus = ChangeBus()
        engine, sessions = _factory(url, bus, postgres=True)
        try:
            with psycopg.connect(libpq_url(engine.url), autocommit=True) as listener:
                listener.execute(f"LISTEN {unit_events.CHANNEL}")
                with pytest.raises(RuntimeError), transaction(sessions) as session:
                    accounts.create_site(session, "lost")
                    wake_commands(session, "lost")
                    raise RuntimeError("rolled back")
                with transaction(sessions) as session:
                    accounts.create_site(session, "lhasa")
                    wake_schedule(session, "lhasa")
                heard = []
                deadline = time.monotonic() + 10
                while not heard and time.monotonic() < deadline:
                    heard += [n.payload for n in listener.notifies(timeout=1.0, stop_after=1)]
                assert heard, "no notification within 10 s"
                sender, changes = Changes.from_payload(heard[0])
                assert sender == "me"
                assert changes.schedules == {"lhasa"} and "lost" not in changes.commands
                assert "sites" in changes.topics
                assert not list(listener.notifies(timeout=0.5, stop_after=1))
        finally:
            engine.dispose()
