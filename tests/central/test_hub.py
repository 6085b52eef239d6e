"""The agent link over a real uvicorn server and a real WebSocket client."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from central.db import make_session_factory, transaction
from central.models import CommandRow, EventRow, Fault, IngestedMessage
from central.services import commands
from contracts.messages import Event, Hello, Status
from tests.central.helpers import FakeAgent, RunningServer, Seeded, login, wait_for


def count(server: RunningServer, model: type, *where: object) -> int:
    with transaction(make_session_factory(server.engine)) as session:
        return session.scalar(select(func.count()).select_from(model).where(*where)) or 0


async def test_link_refuses_missing_or_wrong_token(server: RunningServer, seeded: Seeded) -> None:
    for headers in ({}, {"Authorization": "Bearer rst_nope_nope"}, {"Authorization": "Basic abc"}):
        with pytest.raises(InvalidStatus) as info:
            async with connect(server.ws_url, additional_headers=headers, open_timeout=5):
                pass
        assert info.value.response.status_code == 403


async def test_token_for_site_a_cannot_speak_for_site_b(server: RunningServer, seeded: Seeded) -> None:
    agent = FakeAgent(server.ws_url, "urumqi", seeded.tokens["urumqi"])
    await agent.connect(hello=False)
    try:
        await agent.send(Hello(site="lhasa", agent_version="x"))
        await agent.wait(lambda: agent.closed_code is not None, what="close")
        assert agent.closed_code == 1008
    finally:
        await agent.close()
    assert count(server, IngestedMessage) == 0
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        headers = await login(http, "viewer")
        lhasa = (await http.get("/api/v1/sites/lhasa", headers=headers)).json()
    assert lhasa["agent_connected"] is False and lhasa["agent_version"] == ""


async def test_device_of_another_site_is_rejected_not_ingested(server: RunningServer, seeded: Seeded) -> None:
    async with FakeAgent(server.ws_url, "urumqi", seeded.tokens["urumqi"]) as agent:
        msg_id = await agent.send(Event(site="urumqi", kind="device_down", device="lhasa.codec"))
        await agent.wait(lambda: msg_id in agent.rejected, what="rejection")
        assert "does not belong to site" in agent.rejected[msg_id]
    assert count(server, EventRow) == 0


async def test_hello_is_acked_registers_devices_and_gets_schedule(server: RunningServer, seeded: Seeded,
                                                                 client: httpx.AsyncClient) -> None:
    async with FakeAgent(server.ws_url, "urumqi", seeded.tokens["urumqi"]) as agent:
        await agent.wait(lambda: agent.schedules, what="schedule")
        assert agent.schedules[0].meetings == []
        assert len(agent.acked) == 1
        headers = await login(client, "viewer")
        site = (await client.get("/api/v1/sites/urumqi", headers=headers)).json()
        assert site["agent_connected"] is True and site["agent_version"] == "fake-1"
        devices = (await client.get("/api/v1/sites/urumqi/devices", headers=headers)).json()
        assert [d["id"] for d in devices] == ["urumqi.codec", "urumqi.pdu", "urumqi.recorder"]
        assert "token" not in json.dumps(site)
    # after the agent leaves, the site shows disconnected (the server notices the close
    # asynchronously, so allow it a moment)

    async def disconnected() -> bool:
        site = (await client.get("/api/v1/sites/urumqi", headers=headers)).json()
        return site["agent_connected"] is False

    await wait_for(disconnected, timeout=5.0, what="site to show disconnected")


async def test_replayed_messages_are_ingested_once(server: RunningServer, seeded: Seeded) -> None:
    async with FakeAgent(server.ws_url, "urumqi", seeded.tokens["urumqi"]) as agent:
        event = Event(site="urumqi", kind="device_down", device="urumqi.codec", data={"reason": "no reply"})
        for _ in range(3):
            await agent.send(event)
        await agent.wait(lambda: sum(1 for m in agent.received
                                     if getattr(m, "ack_ids", None) == [event.msg_id]) == 3, what="3 acks")
    assert count(server, EventRow) == 1
    assert count(server, IngestedMessage, IngestedMessage.msg_id == event.msg_id) == 1
    assert count(server, Fault) == 1
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        metrics = (await http.get("/metrics")).text
    assert "roomops_messages_duplicate_total 2" in metrics
    assert "roomops_open_faults 1" in metrics


async def test_invalid_frames_are_rejected_by_msg_id(server: RunningServer, seeded: Seeded) -> None:
    async with FakeAgent(server.ws_url, "urumqi", seeded.tokens["urumqi"]) as agent:
        await agent.send_raw(json.dumps({"type": "status", "msg_id": "bad1", "site": "urumqi",
                                         "devices": [{"id": "urumqi.codec"}]}))
        await agent.send_raw("not json at all")
        await agent.wait(lambda: "bad1" in agent.rejected, what="rejection")
        assert "devices.0" in agent.rejected["bad1"]
        # the link survives bad frames
        ok = await agent.send(Status(site="urumqi"))
        await agent.wait_acked(ok)


async def test_command_delivered_with_id_and_deadline_then_result(server: RunningServer, seeded: Seeded,
                                                                  client: httpx.AsyncClient) -> None:
    async with FakeAgent(server.ws_url, "urumqi", seeded.tokens["urumqi"]) as agent:
        await agent.wait(lambda: agent.schedules, what="schedule")
        headers = await login(client, "engineer")
        response = await client.post("/api/v1/devices/urumqi.codec/commands", headers=headers,
                                     json={"kind": "reboot", "deadline_seconds": 30})
        assert response.status_code == 202, response.text
        command_id = response.json()["id"]
        command = await agent.wait(
            lambda: next((c for c in agent.commands if c.command_id == command_id), None), what="command")
        assert command.kind == "reboot" and command.device == "urumqi.codec" and command.msg_id == command_id
        assert timedelta(seconds=25) < command.deadline - datetime.now(UTC) <= timedelta(seconds=30)

        async def finished() -> dict | None:  # type: ignore[type-arg]
            got = (await client.get(f"/api/v1/commands/{command_id}", headers=headers)).json()
            return got if got["state"] == "succeeded" else None

        body = await wait_for(finished, what="reboot succeeded")
        assert body["result"] == {"downtime_s": 0.2} and body["acked_at"] and body["finished_at"]


async def test_command_for_offline_site_waits_then_expires(server: RunningServer, seeded: Seeded,
                                                           client: httpx.AsyncClient) -> None:
    # a device row exists from an earlier hello
    async with FakeAgent(server.ws_url, "lhasa", seeded.tokens["lhasa"]) as agent:
        await agent.wait(lambda: agent.schedules, what="schedule")
    headers = await login(client, "engineer")
    response = await client.post("/api/v1/devices/lhasa.codec/commands", headers=headers,
                                 json={"kind": "reboot", "deadline_seconds": 0.5})
    command_id = response.json()["id"]
    body = (await client.get(f"/api/v1/commands/{command_id}", headers=headers)).json()
    assert body["state"] == "queued"

    async def expired() -> dict | None:  # type: ignore[type-arg]
        got = (await client.get(f"/api/v1/commands/{command_id}", headers=headers)).json()
        return got if got["state"] == "expired" else None

    body = await wait_for(expired, timeout=5, what="expiry")
    assert "not reachable" in body["error"]
    # the agent coming back later does not receive the expired command
    async with FakeAgent(server.ws_url, "lhasa", seeded.tokens["lhasa"]) as agent:
        await agent.wait(lambda: agent.schedules, what="schedule")
        assert agent.commands == []
    audit = (await client.get("/api/v1/audit", headers=headers, params={"action": "device.reboot"})).json()
    assert audit[0]["outcome"] == "expired" and audit[0]["actor"] == "engineer"


async def test_commands_queued_while_offline_are_delivered_on_connect(server: RunningServer,
                                                                      seeded: Seeded) -> None:
    with transaction(make_session_factory(server.engine)) as session:
        row = commands.enqueue(session, site_id="kunming", kind="standby", requested_by="t",
                               deadline=commands.deadline_in(30))
        command_id = row.id
    async with FakeAgent(server.ws_url, "kunming", seeded.tokens["kunming"], handlers={}) as agent:
        await agent.wait(lambda: agent.commands, what="command")
        assert agent.commands[0].command_id == command_id

        def acked_state() -> str:
            with transaction(make_session_factory(server.engine)) as session:
                got = session.get(CommandRow, command_id)
                assert got is not None
                return got.state

        await agent.wait(lambda: acked_state() == "running", what="running after ack")


async def test_unacked_command_is_redelivered_after_reconnect(server: RunningServer, seeded: Seeded) -> None:
    with transaction(make_session_factory(server.engine)) as session:
        command_id = commands.enqueue(session, site_id="xining", kind="standby", requested_by="t",
                                      deadline=commands.deadline_in(30)).id
    agent = FakeAgent(server.ws_url, "xining", seeded.tokens["xining"], handlers={}, auto_ack=False)
    async with agent:
        await agent.wait(lambda: agent.commands, what="first delivery")
    again = FakeAgent(server.ws_url, "xining", seeded.tokens["xining"], handlers={})
    async with again:
        await again.wait(lambda: again.commands, what="redelivery")
        assert again.commands[0].command_id == command_id == agent.commands[0].command_id


async def test_silent_agent_is_dropped(server: RunningServer, seeded: Seeded) -> None:
    agent = FakeAgent(server.ws_url, "guangzhou", seeded.tokens["guangzhou"], heartbeat=60)
    await agent.connect()
    try:
        # heartbeat 1 s x 3 misses: the server closes a link that stays silent
        await agent.wait(lambda: agent.closed_code is not None, timeout=8, what="server close")
        assert agent.closed_code == 4008
        assert any(m.type == "heartbeat" for m in agent.received)
    finally:
        await agent.close()


async def test_second_connection_replaces_the_first(server: RunningServer, seeded: Seeded) -> None:
    first = FakeAgent(server.ws_url, "urumqi", seeded.tokens["urumqi"])
    await first.connect()
    try:
        async with FakeAgent(server.ws_url, "urumqi", seeded.tokens["urumqi"]) as second:
            await first.wait(lambda: first.closed_code is not None, what="first closed")
            assert first.closed_code == 4000
            await second.wait(lambda: second.schedules, what="schedule")
            assert server.ctx.hub.connected_sites == ["urumqi"]
    finally:
        await first.close()
