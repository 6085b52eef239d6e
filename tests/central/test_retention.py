"""Retention: old history is pruned by the policy, open work and recent rows stay; admins set it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
from sqlalchemy import func, select

from central import migrate
from central.app import create_app
from central.db import make_engine, make_session_factory, transaction
from central.models import AuditEntry, CommandRow, EventRow, IngestedMessage, utcnow
from central.services import accounts, retention
from central.sweeper import retain_once
from tests.central.helpers import RunningServer, Seeded, central_settings, login


def _count(session, model) -> int:  # type: ignore[no-untyped-def]
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_prune_deletes_only_what_is_older_than_the_policy(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'r.db'}")
    migrate.upgrade(engine)
    sessions = make_session_factory(engine)
    now = utcnow()
    old, recent = now - timedelta(days=50), now - timedelta(days=5)
    with transaction(sessions) as session:
        accounts.create_site(session, "urumqi")
        for i, at in enumerate((old, recent)):
            session.add(IngestedMessage(msg_id=f"m{i}", site_id="urumqi", type="status", received_at=at))
            session.add(EventRow(site_id="urumqi", kind="device_down", at=at))
            session.add(AuditEntry(actor="a", action="x", target="t", outcome="succeeded", at=at))
            session.add(CommandRow(id=f"done{i}", site_id="urumqi", kind="reboot", state="succeeded",
                                   deadline=at, created_at=at))
        session.add(CommandRow(id="open", site_id="urumqi", kind="reboot", state="queued", deadline=now,
                               created_at=old))
    policy = retention.Policy(messages_days=30, events_days=30, commands_days=30, audit_days=0)
    with transaction(sessions) as session:
        deleted = retention.prune(session, policy, now, chunk=1)
        assert deleted == {"messages_ingested": 1, "events": 1, "commands": 1, "audit": 0}
        again = retention.prune(session, policy, now, chunk=1)
        assert again == {"messages_ingested": 0, "events": 0, "commands": 0, "audit": 0}
        assert _count(session, IngestedMessage) == 1 and _count(session, EventRow) == 1
        assert _count(session, AuditEntry) == 2            # 0 days: kept forever
        assert sorted(session.scalars(select(CommandRow.id))) == ["done1", "open"]   # open work stays
    engine.dispose()


def test_the_sweep_uses_the_stored_policy(tmp_path: Path) -> None:
    app = create_app(central_settings(tmp_path))
    ctx = app.state.ctx
    with ctx.unit() as session:
        accounts.create_site(session, "lhasa")
        session.add(EventRow(site_id="lhasa", kind="device_down", at=utcnow() - timedelta(days=3)))
    assert retain_once(ctx) == {"messages_ingested": 0, "events": 0, "commands": 0, "audit": 0}
    with ctx.unit() as session:
        retention.store(session, retention.Policy(30, 2, 30, 0), "admin", utcnow())
    assert retain_once(ctx)["events"] == 1
    ctx.engine.dispose()


async def test_admins_read_and_set_the_policy(server: RunningServer, seeded: Seeded,
                                              client: httpx.AsyncClient) -> None:
    headers = await login(client, "admin")
    first = (await client.get("/api/v1/admin/retention", headers=headers)).json()
    assert first["messages_days"] == server.settings.retention_messages_days and first["updated_by"] == ""
    body = {"messages_days": 7, "events_days": 90, "commands_days": 60, "audit_days": 0}
    stored = await client.put("/api/v1/admin/retention", headers=headers, json=body)
    assert stored.status_code == 200 and stored.json()["updated_by"] == "admin"
    assert (await client.get("/api/v1/admin/retention", headers=headers)).json()["events_days"] == 90
    bad = await client.put("/api/v1/admin/retention", headers=headers, json={**body, "events_days": -1})
    assert bad.status_code == 422
    viewer = await login(client, "viewer")
    assert (await client.put("/api/v1/admin/retention", headers=viewer, json=body)).status_code == 403
