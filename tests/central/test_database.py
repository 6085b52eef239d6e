"""The database suite, on SQLite and on the machine's PostgreSQL: migrations and ingest rules."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, select
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session

from central import migrate
from central.db import make_engine, make_session_factory, transaction
from central.models import (
    AgentToken,
    Base,
    CommandRow,
    Device,
    EventRow,
    Fault,
    IngestedMessage,
    Meeting,
    Site,
)
from central.services import accounts, commands, meetings
from central.services.ingest import ForeignDevice, OrchestrationLimits, ingest
from contracts.messages import CommandResult, DeviceInfo, DeviceStatus, Event, Hello, Status

LIMITS = OrchestrationLimits(command_deadline_seconds=30, default_multisite_capacity=3)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    migrate.upgrade(engine)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with transaction(make_session_factory(engine)) as session:
        accounts.create_site(session, "urumqi")
        accounts.create_site(session, "shanghai")
        session.flush()
        yield session


def test_migrations_apply_from_empty_and_match_the_models(engine: Engine) -> None:
    head = migrate.head_revision(engine)
    assert head is not None and migrate.current_revision(engine) == head
    migrate.load_all_models()
    tables = set(inspect(engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
    migrate.upgrade(engine)       # idempotent at head
    assert migrate.current_revision(engine) == head


def test_sqlite_runs_in_wal_with_foreign_keys(tmp_path: object) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/x.db")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()


def test_times_come_back_aware_utc(session: Session) -> None:
    beijing = datetime(2031, 5, 1, 9, 0, tzinfo=UTC).astimezone().replace(tzinfo=None)
    start = datetime.fromisoformat("2031-05-01T09:00:00+08:00")
    meeting = meetings.create(session, meetings.MeetingRequest(
        title="t", start=start, end=start + timedelta(hours=1), host_site="shanghai", sites=["urumqi"],
        mode="bridge", bridge_uri="sip:b@x"), "t", 3)
    session.flush()
    session.expire_all()
    got = session.get(Meeting, meeting.id)
    assert got is not None and got.start == start and got.start.utcoffset() == timedelta(0)
    with pytest.raises(StatementError, match="naive datetime"):   # a bug, not something to guess about
        session.add(Meeting(title="n", start=beijing, end=beijing, host_site="shanghai", mode="bridge"))
        session.flush()


def test_ingest_is_idempotent(session: Session) -> None:
    hello = Hello(site="urumqi", agent_version="1", devices=[DeviceInfo(id="urumqi.codec", model="m")])
    assert ingest(session, "urumqi", hello, LIMITS).new is True
    assert ingest(session, "urumqi", hello, LIMITS).new is False
    event = Event(site="urumqi", kind="device_down", device="urumqi.codec")
    for _ in range(3):
        ingest(session, "urumqi", event, LIMITS)
    assert len(session.scalars(select(EventRow)).all()) == 1
    assert len(session.scalars(select(IngestedMessage)).all()) == 2


def test_foreign_device_raises(session: Session) -> None:
    with pytest.raises(ForeignDevice):
        status = Status(site="urumqi", devices=[DeviceStatus(id="shanghai.codec", up=False)])
        ingest(session, "urumqi", status, LIMITS)


def test_device_down_opens_one_fault_and_up_closes_it_with_times(session: Session) -> None:
    t0 = datetime(2031, 1, 1, 8, 0, tzinfo=UTC)
    down = DeviceStatus(id="urumqi.display", up=False, verdict="down", reasons=["no reply"], since=t0)
    ingest(session, "urumqi", Hello(site="urumqi", agent_version="1",
                                    devices=[DeviceInfo(id="urumqi.display", model="m")]), LIMITS)
    ingest(session, "urumqi", Status(site="urumqi", devices=[down]), LIMITS)
    ingest(session, "urumqi", Status(site="urumqi", devices=[down]), LIMITS)
    up = DeviceStatus(id="urumqi.display", up=True, verdict="ok", since=t0 + timedelta(minutes=42))
    ingest(session, "urumqi", Status(site="urumqi", devices=[up]), LIMITS)
    [fault] = session.scalars(select(Fault)).all()
    assert fault.cause == "no reply" and fault.check_name is None
    assert fault.closed_at is not None and fault.closed_at - fault.opened_at == timedelta(minutes=42)
    device = session.get(Device, "urumqi.display")
    assert device is not None and device.up is True and device.since == t0 + timedelta(minutes=42)


def test_results_for_another_sites_command_or_after_final_are_ignored(session: Session) -> None:
    row = commands.enqueue(session, site_id="shanghai", kind="standby", requested_by="t",
                           deadline=commands.deadline_in(30))
    ingest(session, "urumqi", CommandResult(site="urumqi", command_id=row.id, state="succeeded"), LIMITS)
    assert row.state == "queued"
    failed = CommandResult(site="shanghai", command_id=row.id, state="failed", error="E13")
    ingest(session, "shanghai", failed, LIMITS)
    ingest(session, "shanghai", CommandResult(site="shanghai", command_id=row.id, state="succeeded"), LIMITS)
    session.refresh(row)
    assert (row.state, row.error) == ("failed", "E13")


def test_expiry_of_queued_and_silent_running_commands(session: Session) -> None:
    now = datetime.now(UTC)
    queued = commands.enqueue(session, site_id="urumqi", kind="reboot", requested_by="t",
                              deadline=now - timedelta(seconds=1))
    running = commands.enqueue(session, site_id="urumqi", kind="reboot", requested_by="t",
                               deadline=now - timedelta(seconds=5))
    running.state = "running"
    fresh = commands.enqueue(session, site_id="urumqi", kind="reboot", requested_by="t",
                             deadline=now + timedelta(seconds=60))
    expired = commands.expire_overdue(session, now, grace_seconds=2)
    assert {c.id for c in expired} == {queued.id, running.id}
    assert fresh.state == "queued"
    assert "not reachable" in (queued.error or "") and "no result" in (running.error or "")
    assert session.scalars(select(CommandRow).where(CommandRow.state == "expired")).all()


def test_site_tokens_are_stored_hashed_and_bound_to_their_site(session: Session) -> None:
    _, secret = accounts.issue_site_token(session, "urumqi", "t")
    assert accounts.site_for_token(session, secret) == "urumqi"
    assert accounts.site_for_token(session, secret[:-1] + ("A" if secret[-1] != "A" else "B")) is None
    assert accounts.site_for_token(session, "rst_unknown_x") is None
    [row] = session.scalars(select(AgentToken)).all()
    assert secret not in row.token_hash and len(row.token_hash) == 64
    assert session.get(Site, "urumqi") is not None
