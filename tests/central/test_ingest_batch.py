"""Status messages applied as one batch end exactly where applying them one by one ends."""

from __future__ import annotations

import asyncio
import functools
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from central import migrate
from central.db import make_engine, make_session_factory, transaction
from central.hub.writer import BatchWriter
from central.models import Device, Fault, IngestedMessage, Site
from central.services import accounts
from central.services.ingest import IngestOutcome, OrchestrationLimits, ingest
from central.services.ingest_batch import StatusJob
from contracts.messages import DeviceStatus, Status

LIMITS = OrchestrationLimits(300.0, 3)
SITES = ("alpha", "beta", "gamma")


def _messages() -> list[Status]:
    """Devices going down and up again across messages, a replay, a declared device reported late."""
    rng = random.Random(15)
    base = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
    out = []
    for n in range(40):
        site = SITES[n % 3]
        devices = [DeviceStatus(id=f"{site}.d{k}", up=rng.random() > 0.3, verdict="ok",
                                reasons=["r"] if k == 1 else []) for k in range(3)]
        if n == 20:
            devices.append(DeviceStatus(id=f"{site}.new", up=True, verdict="ok"))
        out.append(Status(site=site, devices=devices, sent_at=base + timedelta(seconds=n)))
    out.insert(10, out[3])            # a replay in a later batch
    out.insert(15, out[14])           # a new message twice in a row (one batch): applied once
    return out


def _state(url: str) -> dict[str, Any]:
    engine = make_engine(url)
    with transaction(make_session_factory(engine)) as session:
        devices = [(d.id, d.up, d.verdict, d.reasons, d.since, d.last_seen)
                   for d in session.scalars(select(Device).order_by(Device.id))]
        faults = [(f.device_id, f.opened_at, f.closed_at, f.cause)
                  for f in session.scalars(select(Fault).order_by(Fault.device_id, Fault.opened_at))]
        claimed = sorted(session.scalars(select(IngestedMessage.msg_id)))
        seen = {s.id: s.last_seen is not None for s in session.scalars(select(Site))}
    engine.dispose()
    return {"devices": devices, "faults": faults, "claimed": claimed, "seen": seen}


async def _apply(url: str, batched: bool, messages: list[Status]) -> list[bool]:
    engine = make_engine(url)
    migrate.upgrade(engine)
    sessions = make_session_factory(engine)
    with transaction(sessions) as session:
        for site in SITES:
            accounts.create_site(session, site)
            for k in range(3):
                session.add(Device(id=f"{site}.d{k}", site_id=site))
            session.add(Device(id=f"{site}.new", site_id=site))   # declared by the hello, reported late
    writer = BatchWriter(functools.partial(transaction, sessions))
    results: list[IngestOutcome] = []
    for start in range(0, len(messages), 12):        # batches of 12, as a busy writer would take them
        chunk = messages[start:start + 12]
        if batched:
            with transaction(sessions) as session:
                results += StatusJob.run_many(session, [StatusJob(m.site, m, LIMITS) for m in chunk])
        else:
            for msg in chunk:
                results.append(await writer.submit(functools.partial(ingest, site_id=msg.site, msg=msg,
                                                                     limits=LIMITS)))
    await writer.close()
    engine.dispose()
    return [r.new for r in results]


async def test_a_batch_of_status_messages_equals_one_by_one(tmp_path: Path, database_url: str) -> None:
    messages = _messages()
    alone = f"sqlite:///{tmp_path / 'alone.db'}"
    one_by_one = await _apply(alone, False, messages)
    batched = await _apply(database_url, True, messages)
    assert batched == one_by_one
    assert one_by_one.count(False) == 2 and one_by_one[14] and not one_by_one[15]
    expected, got = _state(alone), _state(database_url)
    assert got == expected
    assert expected["faults"], "the sequence should open faults"
    assert any(closed is not None for _, _, closed, _ in expected["faults"]), "and close some"


async def test_the_writer_hands_a_run_of_status_jobs_over_whole(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'w.db'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    sessions = make_session_factory(engine)
    with transaction(sessions) as session:
        accounts.create_site(session, "alpha")
        session.add(Device(id="alpha.d0", site_id="alpha"))
    calls: list[int] = []
    original = StatusJob.run_many

    def counting(session: Any, jobs: Any) -> Any:
        calls.append(len(jobs))
        return original(session, jobs)

    StatusJob.run_many = staticmethod(counting)  # type: ignore[method-assign]
    try:
        writer = BatchWriter(functools.partial(transaction, sessions))
        msgs = [Status(site="alpha", devices=[DeviceStatus(id="alpha.d0", up=True)]) for _ in range(20)]
        outcomes = await asyncio.gather(*(writer.submit(StatusJob("alpha", m, LIMITS)) for m in msgs))
        await writer.close()
    finally:
        StatusJob.run_many = staticmethod(original)  # type: ignore[method-assign]
    assert all(o.new for o in outcomes)
    assert sum(calls) == 20 and max(calls) > 1
    engine.dispose()
