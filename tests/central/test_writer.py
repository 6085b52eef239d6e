"""The agent links' batch writer and the ingest paths it batches, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from central import migrate
from central.db import make_engine, make_session_factory, transaction
from central.hub.writer import BatchWriter
from central.models import CommandRow, Device, Fault, IngestedMessage, Meeting, Site
from central.services import accounts, commands, meetings
from central.services.ingest import ForeignDevice, OrchestrationLimits, ingest
from contracts.messages import CallState, CommandResult, DeviceStatus, Status

LIMITS = OrchestrationLimits(command_deadline_seconds=30, default_multisite_capacity=3)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    migrate.upgrade(engine)
    with transaction(make_session_factory(engine)) as session:
        for site in ("urumqi", "lhasa"):
            accounts.create_site(session, site)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def factory(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


def writer_for(factory: sessionmaker[Session]) -> BatchWriter:
    return BatchWriter(functools.partial(transaction, factory))


def add_site(session: Session, site_id: str) -> str:
    accounts.create_site(session, site_id)
    return site_id


def site_count(factory: sessionmaker[Session]) -> int:
    with transaction(factory) as session:
        return session.scalar(select(func.count()).select_from(Site)) or 0


async def test_jobs_queued_together_commit_in_one_transaction(factory: sessionmaker[Session]) -> None:
    writer = writer_for(factory)
    started, release = threading.Event(), threading.Event()

    def blocker(session: Session) -> str:
        started.set()
        assert release.wait(10), "the test never released the first batch"
        return add_site(session, "first")

    first = asyncio.create_task(writer.submit(blocker))
    assert await asyncio.to_thread(started.wait, 10)     # the first batch is in the writer's thread
    rest = [asyncio.create_task(writer.submit(functools.partial(add_site, site_id=f"s{i}")))
            for i in range(20)]
    await asyncio.sleep(0.05)
    assert site_count(factory) == 2               # nothing of the queued jobs is visible yet
    release.set()
    assert await first == "first"
    assert await asyncio.gather(*rest) == [f"s{i}" for i in range(20)]
    # every submit returned after its commit: another session sees all rows
    assert site_count(factory) == 2 + 21
    assert (writer.batches, writer.jobs) == (2, 21)
    await writer.close()


async def test_a_failing_job_leaves_the_others_committed(factory: sessionmaker[Session]) -> None:
    writer = writer_for(factory)

    def bad(session: Session) -> None:
        add_site(session, "bad")
        raise ValueError("this job fails after writing")

    results = await asyncio.gather(
        writer.submit(functools.partial(add_site, site_id="good1")), writer.submit(bad),
        writer.submit(functools.partial(add_site, site_id="good2")), return_exceptions=True)
    assert results[0] == "good1" and results[2] == "good2"
    assert isinstance(results[1], ValueError) and "fails after writing" in str(results[1])
    with transaction(factory) as session:
        assert session.get(Site, "bad") is None
        assert session.get(Site, "good1") is not None and session.get(Site, "good2") is not None
    await writer.close()


async def test_close_writes_what_is_queued_and_later_jobs_run_alone(factory: sessionmaker[Session]) -> None:
    writer = writer_for(factory)
    queued = [asyncio.create_task(writer.submit(functools.partial(add_site, site_id=f"q{i}")))
              for i in range(5)]
    await asyncio.sleep(0)                 # the tasks have queued their jobs
    await writer.close()
    assert [t.result() for t in queued] == [f"q{i}" for i in range(5)]
    assert await writer.submit(functools.partial(add_site, site_id="late")) == "late"
    assert site_count(factory) == 2 + 6


def test_a_message_that_fails_midway_leaves_no_trace(factory: sessionmaker[Session]) -> None:
    # the device statuses are applied before the foreign call device is found: all must roll back,
    # including the msg_id row (a retry of the corrected message must not look like a replay)
    declare(factory, "urumqi.codec")
    status = Status(site="urumqi", devices=[DeviceStatus(id="urumqi.codec", up=False)],
                    calls=[CallState(device="lhasa.codec", call_id="1", state="connected")])
    with pytest.raises(ForeignDevice), transaction(factory) as session:
        ingest(session, "urumqi", status, LIMITS)
    with transaction(factory) as session:
        assert session.scalar(select(func.count()).select_from(IngestedMessage)) == 0
        codec = session.get(Device, "urumqi.codec")
        assert codec is not None and codec.up is None
        assert session.scalar(select(func.count()).select_from(Fault)) == 0


def declare(factory: sessionmaker[Session], *device_ids: str) -> None:
    """The devices a hello declared (a status naming any other device is rejected)."""
    with transaction(factory) as session:
        for device_id in device_ids:
            session.add(Device(id=device_id, site_id=device_id.split(".")[0]))


def test_status_batch_keeps_since_and_faults_per_device(factory: sessionmaker[Session]) -> None:
    t0 = datetime(2031, 1, 1, 8, 0, tzinfo=UTC)
    declare(factory, "urumqi.codec", "urumqi.display")

    def status(up: bool, minutes: int) -> Status:
        return Status(site="urumqi", sent_at=t0 + timedelta(minutes=minutes), devices=[
            DeviceStatus(id="urumqi.codec", up=True, verdict="ok"),
            DeviceStatus(id="urumqi.display", up=up, verdict="ok" if up else "down",
                         reasons=[] if up else ["no reply"])])

    with transaction(factory) as session:       # several messages in one transaction, as the writer does
        for up, minutes in ((True, 0), (False, 5), (False, 6), (True, 9)):
            assert ingest(session, "urumqi", status(up, minutes), LIMITS).new
    with transaction(factory) as session:
        codec, display = session.get(Device, "urumqi.codec"), session.get(Device, "urumqi.display")
        assert codec is not None and display is not None
        assert codec.since == t0 and codec.last_seen == t0 + timedelta(minutes=9)
        assert display.up is True and display.since == t0 + timedelta(minutes=9)
        [fault] = session.scalars(select(Fault)).all()
        assert fault.device_id == "urumqi.display" and fault.cause == "no reply"
        assert (fault.opened_at, fault.closed_at) == (t0 + timedelta(minutes=5), t0 + timedelta(minutes=9))


def test_acks_and_results_of_many_sites_in_one_transaction(factory: sessionmaker[Session]) -> None:
    sites = [f"site{i:02d}" for i in range(30)]
    start = datetime.now(UTC) + timedelta(days=1)
    with transaction(factory) as session:
        for site in sites:
            accounts.create_site(session, site)
        meeting = meetings.create(session, meetings.MeetingRequest(
            title="many", start=start, end=start + timedelta(hours=1), host_site=sites[0], sites=sites,
            mode="bridge", bridge_uri="sip:bridge@x"), "t", 3)
        meetings.start(session, meeting, "t", 60)
        meeting_id = meeting.id
    with transaction(factory) as session:
        prepares = {site: command_id for site, command_id in session.execute(
            select(CommandRow.site_id, CommandRow.id))}
        assert len(prepares) == 30
        schedules = meetings.schedules_for_sites(session, sites, datetime.now(UTC))
        assert all([m.id for m in schedules[s]] == [meeting_id] for s in sites)
        assert schedules["site07"][0].sites == sorted(sites)
        assert meetings.schedule_for_site(session, "site07", datetime.now(UTC)) == schedules["site07"]
    with transaction(factory) as session:
        for site, command_id in prepares.items():
            commands.mark_acked(session, site, [command_id], datetime.now(UTC))
            ingest(session, site, CommandResult(site=site, command_id=command_id, state="succeeded"), LIMITS)
    with transaction(factory) as session:
        rows = session.scalars(select(CommandRow).where(CommandRow.meeting_id == meeting_id)).all()
        assert sorted((r.kind, r.state) for r in rows) == (
            [("connect", "queued")] * 30 + [("prepare", "succeeded")] * 30)
        assert all(r.acked_at is not None for r in rows if r.kind == "prepare")
        assert session.get(Meeting, meeting_id) is not None
        queued = commands.queued_ids(session, sites, datetime.now(UTC))
        assert all(len(queued[s]) == 1 for s in sites)
        taken = commands.take_by_ids(session, queued["site03"], datetime.now(UTC))
        assert [c.kind for c in taken["site03"]] == ["connect"]
