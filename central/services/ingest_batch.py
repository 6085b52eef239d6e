"""Many ``status`` messages of one writer batch applied with a fixed number of statements.

``status`` is the message every agent sends most. Applied one by one, each costs five round
trips (claim, last seen, device states, open faults, device update); here a run of them shares
one multi-row ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` for the claims, one read of every
device's state and open faults, and one ``executemany`` for the device and site updates, with
the same per-message rules as ``central.services.ingest`` (messages applied in order, faults
opened and closed on a change, a replayed ``msg_id`` changing nothing). Messages carrying calls
take the one-by-one path: their meeting bookkeeping is per call.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from central.models import Device, Site, utcnow
from central.services.ingest import (
    _DEVICE_STATE,
    _MESSAGES,
    _TOUCH_SITE,
    _UPDATE_DEVICE,
    IngestOutcome,
    OrchestrationLimits,
    UnknownDevice,
    _check_device,
    _device_status,
    _DeviceState,
    _expire_cached,
    ingest,
)
from contracts.messages import Status

_INSERTS = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}


@dataclass(frozen=True)
class StatusJob:
    """A writer job for one ``status`` message; the writer hands a run of them to ``run_many``."""

    site_id: str
    msg: Status
    limits: OrchestrationLimits

    @staticmethod
    def batchable(msg: Any) -> bool:
        return isinstance(msg, Status) and not msg.calls

    def __call__(self, session: Session) -> IngestOutcome:
        return ingest(session, self.site_id, self.msg, self.limits)

    @staticmethod
    def run_many(session: Session, jobs: Sequence[StatusJob]) -> list[IngestOutcome]:
        insert = _INSERTS.get(session.get_bind().dialect.name)
        if insert is None or len(jobs) == 1:
            return [job(session) for job in jobs]
        return _apply(session, insert, jobs)


def _apply(session: Session, insert: Any, jobs: Sequence[StatusJob]) -> list[IngestOutcome]:
    for job in jobs:
        for status in job.msg.devices:
            _check_device(job.site_id, status.id)
    session.flush()     # the Core statements below must see pending ORM changes
    connection = session.connection()
    now = utcnow()
    rows = [{"msg_id": job.msg.msg_id, "site_id": job.site_id, "type": job.msg.type, "received_at": now}
            for job in jobs]
    claimed = set(connection.execute(
        insert(_MESSAGES).values(rows).on_conflict_do_nothing().returning(_MESSAGES.c.msg_id)).scalars())
    fresh: list[StatusJob] = []
    outcomes: list[IngestOutcome] = []
    for job in jobs:
        new = job.msg.msg_id in claimed
        claimed.discard(job.msg.msg_id)       # the same message twice in one batch counts once
        outcomes.append(IngestOutcome(new=new))
        if new:
            fresh.append(job)
    if not fresh:
        return outcomes
    ids = sorted({status.id for job in fresh for status in job.msg.devices})
    known: dict[str, _DeviceState] = {}
    if ids:
        states = connection.execute(_DEVICE_STATE, {"ids": ids})
        known = {row.id: _DeviceState(row.up, row.since, row.verdict, list(row.reasons or []))
                 for row in states}
    if set(ids) - set(known):
        # a device no hello declared: the batch rolls back and each message is written alone,
        # where only the offending one is rejected (``ingest._status`` says which devices)
        raise UnknownDevice("a status in the batch names a device the site's hello did not declare")
    updates = []
    for job in fresh:          # in order: a device's later report sees its earlier one
        for status in job.msg.devices:
            updates.append(_device_status(session, job.site_id, status, job.msg.sent_at, known))
    if updates:
        connection.execute(_UPDATE_DEVICE, updates)
        _expire_cached(session, Device, sorted({row["b_id"] for row in updates}))
    touched = sorted({job.site_id for job in fresh})
    connection.execute(_TOUCH_SITE, [{"b_site": site, "b_seen": now} for site in touched])
    _expire_cached(session, Site, touched)
    session.flush()
    return outcomes

