"""The dashboard overview: grouped queries give what the per-site reads give, in a fixed number
of statements whatever the number of sites."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from central import migrate
from central.api.sites import _health
from central.db import make_engine, make_session_factory, transaction
from central.models import Device, SelftestRow, utcnow
from central.services import accounts, faults, meetings
from central.settings import Settings
from central.web.overview import overview_rows


def _fill(session: Any, sites: int) -> None:
    now = utcnow()
    for i in range(sites):
        site = f"s{i:03d}"
        accounts.create_site(session, site, name=site.upper())
        for n, (up, verdict) in enumerate([(True, "ok"), (i % 3 != 0, "ok" if i % 3 else "down"),
                                           (None, "unknown"), (True, "degraded" if i % 4 == 0 else "ok")]):
            session.add(Device(id=f"{site}.d{n}", site_id=site, up=up, verdict=verdict))
        if i % 3 == 0:
            faults.open_fault(session, site_id=site, device_id=f"{site}.d1", check_name=None, cause="down",
                              at=now)
        for k in range(2):
            session.add(SelftestRow(site_id=site, trigger="manual", state="done", verdict=f"v{k}",
                                    finished_at=now - timedelta(hours=k + i % 2)))
    session.flush()
    for k in range(2):
        start = now + timedelta(days=k + 1)
        meetings.create(session, meetings.MeetingRequest(
            title=f"m{k}", start=start, end=start + timedelta(hours=1), host_site="s000",
            sites=[f"s{i:03d}" for i in range(0, sites, k + 1)], mode="bridge", bridge_uri="sip:b@x"),
            "test", 3)


@pytest.mark.parametrize("sites", [3, 30])
def test_overview_matches_the_per_site_reads_in_fixed_statements(tmp_path: Path, sites: int) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'o.db'}")
    migrate.upgrade(engine)
    sessions = make_session_factory(engine)
    with transaction(sessions) as session:
        _fill(session, sites)
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    with transaction(sessions) as session:
        rows = overview_rows(session, Settings(data_dir=tmp_path), utcnow())
        grouped = len(statements)
        assert [r["id"] for r in rows] == [f"s{i:03d}" for i in range(sites)]
        for row in rows:
            health = _health(session, row["id"])
            assert (row["devices_total"], row["devices_up"], row["devices_down"], row["open_faults"],
                    row["verdict"]) == (health.devices, health.up, health.down, health.open_faults,
                                        health.verdict), row["id"]
            assert row["last_selftest"]["verdict"] == "v0"
            assert row["next_meeting"]["title"] == "m0"       # every site is in m0, the earlier one
    assert {r["verdict"] for r in rows} >= {"degraded"}
    assert grouped <= 6, statements[:grouped]
    engine.dispose()
