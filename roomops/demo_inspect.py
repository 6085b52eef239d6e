"""The demo's monthly inspection: one real inspection per site at start, so the inspection
report has records from the first minutes (otherwise the first would run on inspection day).

It goes the way central asks for an inspection on demand: a self-test row with the
``inspection`` trigger and a ``selftest`` command whose arguments say so; the running central
delivers it within a delivery tick, the agent runs the whole inspection (self-test, inventory,
configuration drift, uplink) and reports it like the monthly one. Audited as the ``demo`` actor.
"""

from __future__ import annotations

from pathlib import Path

from central.db import make_engine, make_session_factory, transaction
from central.models import SelftestRow
from central.services import audit, commands
from central.settings import Settings

ACTOR = "demo"
TRIGGER = "inspection"
DEADLINE_SECONDS = 600.0


def request_inspections(data_dir: Path, site_ids: list[str]) -> dict[str, str]:
    """Queue one inspection per site in central's database; site id -> self-test run id."""
    settings = Settings.from_env(data_dir=data_dir, database_url="")
    engine = make_engine(settings.resolved_database_url())
    runs: dict[str, str] = {}
    try:
        with transaction(make_session_factory(engine)) as session:
            for site_id in site_ids:
                row = SelftestRow(site_id=site_id, trigger=TRIGGER, state="requested", requested_by=ACTOR)
                session.add(row)
                session.flush()
                command = commands.enqueue(
                    session, site_id=site_id, kind="selftest", requested_by=ACTOR,
                    deadline=commands.deadline_in(DEADLINE_SECONDS),
                    args={"run_id": row.id, "trigger": TRIGGER})
                row.command_id = command.id
                audit.record(session, actor=ACTOR, action="site.inspection", target=site_id,
                             outcome="accepted", command_id=command.id)
                runs[site_id] = row.id
    finally:
        engine.dispose()
    return runs
