"""Two central instances on one PostgreSQL database: changes cross through LISTEN/NOTIFY only.

The safety-net delivery round is set to two minutes here, so anything that arrives within the
tests' deadlines came through a notification.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg
import pytest
from sqlalchemy import select

from central.db import make_session_factory, transaction
from central.models import Site
from central.notify.pg import libpq_url
from tests.central.helpers import (
    FakeAgent,
    RunningServer,
    Seeded,
    central_settings,
    login,
    postgres_database,
    postgres_reachable,
    seed,
    wait_for,
)

pytestmark = pytest.mark.postgres
SLOW_POLL = {"delivery_poll_seconds": 120.0}


@pytest.fixture
def pair(tmp_path: Path, loopback_factory) -> Iterator[tuple[RunningServer, RunningServer, Seeded]]:  # type: ignore[no-untyped-def]
    reason = postgres_reachable()
    if reason:
        pytest.skip(reason)
    with postgres_database() as url:
        (tmp_path / "a").mkdir()
        (tmp_path / "b").mkdir()
        a = RunningServer(central_settings(tmp_path / "a", url, **SLOW_POLL), loopback_factory()).start()
        try:
            b = RunningServer(central_settings(tmp_path / "b", url, **SLOW_POLL), loopback_factory()).start()
            try:
                yield a, b, seed(a.engine)
            finally:
                b.stop()
        finally:
            a.stop()


async def _listening(server: RunningServer, connects: int = 1) -> None:
    listener = server.app.state.change_listener

    async def ready() -> bool:
        return listener.connects >= connects and listener.listening.is_set()

    await wait_for(ready, timeout=15, what="the change listener")


async def _schedule_meeting(base_url: str, sites: list[str], title: str) -> str:
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
        headers = await login(http, "secretariat")
        start = datetime.now(UTC) + timedelta(hours=2)
        reply = await http.post("/api/v1/meetings", headers=headers, json={
            "title": title, "start": start.isoformat(), "end": (start + timedelta(hours=1)).isoformat(),
            "host_site": sites[0], "sites": sites, "mode": "bridge", "bridge_uri": "sip:bridge@roomops.test"})
        assert reply.status_code == 201, reply.text
        return str(reply.json()["id"])


async def test_schedule_and_command_made_on_b_reach_the_agent_on_a(
        pair: tuple[RunningServer, RunningServer, Seeded]) -> None:
    a, b, seeded = pair
    await _listening(a)
    async with FakeAgent(a.ws_url, "urumqi", seeded.tokens["urumqi"]) as agent:
        await agent.wait(lambda: agent.schedules, what="first schedule")
        meeting = await _schedule_meeting(b.base_url, ["shanghai", "urumqi"], "cross-instance")
        await agent.wait(lambda: any(m.id == meeting for s in agent.schedules for m in s.meetings),
                         timeout=10, what="the schedule changed on instance B")
        async with httpx.AsyncClient(base_url=b.base_url, timeout=10) as http:
            headers = await login(http, "engineer")
            reply = await http.post("/api/v1/devices/urumqi.codec/commands", headers=headers,
                                    json={"kind": "reboot"})
            assert reply.status_code in (201, 202), reply.text
            command_id = reply.json()["id"]
        await agent.wait(lambda: any(c.command_id == command_id for c in agent.commands), timeout=10,
                         what="the command queued on instance B")


async def test_a_link_taken_over_by_the_other_instance_closes_and_the_site_stays_connected(
        pair: tuple[RunningServer, RunningServer, Seeded]) -> None:
    a, b, seeded = pair
    await _listening(a)
    await _listening(b)
    old = await FakeAgent(a.ws_url, "lhasa", seeded.tokens["lhasa"]).connect()
    try:
        await old.wait(lambda: old.schedules, what="schedule on A")
        async with FakeAgent(b.ws_url, "lhasa", seeded.tokens["lhasa"]) as new:
            await new.wait(lambda: new.schedules, what="schedule on B")
            await old.wait(lambda: old.closed_code is not None, timeout=10, what="A to close the old link")
            assert old.closed_code == 4000

            def owner() -> tuple[bool, str | None, int]:
                with transaction(make_session_factory(a.engine)) as session:
                    site = session.scalars(select(Site).where(Site.id == "lhasa")).one()
                    return site.agent_connected, site.link_instance, site.link_generation

            async def settled() -> bool:
                return "lhasa" not in a.ctx.hub.connected_sites

            await wait_for(settled, timeout=10, what="A to forget the old link")
            connected, instance, generation = owner()
            # A's disconnect lost the compare-and-set: B's newer link owns the site
            assert connected is True and instance == b.ctx.instance_id and generation == 2
    finally:
        await old.close()


async def test_the_listener_reconnects_and_resynchronises(
        pair: tuple[RunningServer, RunningServer, Seeded]) -> None:
    a, b, seeded = pair
    await _listening(a)
    async with FakeAgent(a.ws_url, "kunming", seeded.tokens["kunming"]) as agent:
        await agent.wait(lambda: agent.schedules, what="first schedule")
        before = len(agent.schedules)
        with psycopg.connect(libpq_url(a.engine.url), autocommit=True) as admin:
            killed = admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND query LIKE 'LISTEN %%' AND pid <> pg_backend_pid()"
            ).fetchall()
        assert killed, "found no listening connection to drop"
        await _listening(a, connects=2)
        # the resync after the reconnect re-sends the schedule once
        await agent.wait(lambda: len(agent.schedules) > before, timeout=10, what="the resync schedule")
        meeting = await _schedule_meeting(b.base_url, ["shanghai", "kunming"], "after reconnect")
        await agent.wait(lambda: any(m.id == meeting for s in agent.schedules for m in s.meetings),
                         timeout=10, what="a schedule after the listener came back")
