"""Version skew between a real agent process and a real central (uvicorn, SQLite): an agent one
minor version ahead of central and one behind, each way, loses nothing and refuses nothing it
could take. The newer side is simulated as a minor version adds things: a higher
``schema_minor`` and fields (and kinds) the older side does not know."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

import central.hub.connection
from agent.outbox import Outbox
from central.db import make_session_factory, transaction
from central.models import CommandRow, DeadLetter, EventRow
from central.services import commands
from contracts import messages
from tests.central.helpers import RunningServer, Seeded, central_settings, seed

ROOT = Path(__file__).resolve().parents[2]
SITE = "urumqi"


@pytest.fixture
def central_server(tmp_path: Path, loopback: str) -> Iterator[tuple[RunningServer, Seeded]]:
    server = RunningServer(central_settings(tmp_path / "central"), loopback).start()
    try:
        yield server, seed(server.engine)
    finally:
        server.stop()


def _start(state: Path, server: RunningServer, token: str, mode: str, count: int) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    argv = [sys.executable, "-m", "tests.agent.skew_proc", str(state), server.base_url, token, SITE, mode,
            str(count)]
    return subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)


def _stop(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    if proc.stdout:
        proc.stdout.close()


def _count(server: RunningServer, model: type, *where: Any) -> int:
    with transaction(make_session_factory(server.engine)) as session:
        return session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def _command(server: RunningServer, command_id: str) -> CommandRow:
    with transaction(make_session_factory(server.engine)) as session:
        row = session.get(CommandRow, command_id)
        assert row is not None
        return row


def _enqueue(server: RunningServer, kind: str) -> str:
    with server.ctx.unit() as session:
        return commands.enqueue(session, site_id=SITE, kind=kind, requested_by="test",
                                deadline=commands.deadline_in(60)).id


async def _until(check: Any, timeout: float = 30.0, what: str = "condition") -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        value = await asyncio.to_thread(check)
        if value:
            return value
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _drained(state: Path) -> int:
    box = Outbox(state / "outbox.sqlite")
    try:
        return len(box) + len(box.parked())
    finally:
        box.close()


@pytest.mark.slow
async def test_agent_one_minor_ahead_of_central_loses_nothing(tmp_path: Path, central_server) -> None:
    server, seeded = central_server
    state = tmp_path / "agent"
    proc = _start(state, server, seeded.tokens[SITE], "ahead", 60)
    try:
        assert (await asyncio.to_thread(proc.stdout.readline)).strip() == "QUEUED"
        # agent -> central: every report with its added fields is ingested, none set aside
        await _until(lambda: _count(server, EventRow, EventRow.kind == "test") == 60, what="60 events")
        assert _count(server, DeadLetter) == 0
        with transaction(make_session_factory(server.engine)) as session:
            first = session.scalars(select(EventRow).where(EventRow.msg_id == "skew-0000")).one()
            assert first.data["n"] == 0 and first.data["newer_detail"] == [1, 2, 3]
        # central -> agent: commands still go the other way and are carried out
        command_id = _enqueue(server, "standby")
        row = await _until(lambda: (r := _command(server, command_id)).state in ("succeeded", "failed") and r,
                           what="result")
        assert not row.result.get("unsupported"), row.error
    finally:
        _stop(proc)
    assert _drained(state) == 0
    assert _count(server, EventRow, EventRow.kind == "test") == 60     # once each


@pytest.mark.slow
async def test_central_one_minor_ahead_of_the_agent_loses_nothing(tmp_path: Path, central_server,
                                                                  monkeypatch: pytest.MonkeyPatch,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    server, seeded = central_server
    plain = central.hub.connection.dump_message

    def dump_newer(msg: Any, peer_minor: int | None = None) -> str:
        body = json.loads(plain(msg, peer_minor))
        body["schema_minor"] = messages.SCHEMA_MINOR + 1
        body["trace_id"] = "abc"                       # an envelope field of the next minor version
        if body.get("type") == "command" and body.get("kind") == "reboot":
            body["confirm_with_operator"] = True        # an order the older agent cannot honour
        if body.get("type") == "schedule":
            body["meetings"] = [{**m, "room_layout": "u-shape"} for m in body.get("meetings", [])]
        return json.dumps(body)

    monkeypatch.setattr(central.hub.connection, "dump_message", dump_newer)
    state = tmp_path / "agent"
    proc = _start(state, server, seeded.tokens[SITE], "current", 40)
    try:
        assert (await asyncio.to_thread(proc.stdout.readline)).strip() == "QUEUED"
        await _until(lambda: _count(server, EventRow, EventRow.kind == "test") == 40, what="40 events")
        # a command with a field the agent does not know is refused whole, with a result
        command_id = _enqueue(server, "reboot")
        row = await _until(lambda: (r := _command(server, command_id)).state == "failed" and r, what="result")
        assert row.result.get("unsupported") is True and "confirm_with_operator" in (row.error or "")
        # so is a command kind newer than the agent
        monkeypatch.setattr(commands, "COMMAND_KINDS", commands.COMMAND_KINDS | {"teleport"})
        command_id = _enqueue(server, "teleport")
        row = await _until(lambda: (r := _command(server, command_id)).state == "failed" and r, what="result")
        assert row.result.get("unsupported") is True and "teleport" in (row.error or "")
        # a message type the agent does not know is answered with a reject (central logs it)
        hub = server.ctx.hub
        conn = hub._connections[SITE]
        frame = json.dumps({"type": "config_push", "msg_id": "push-1", "site": SITE, "schema_version": 1,
                            "schema_minor": messages.SCHEMA_MINOR + 1, "settings": {}})
        caplog.set_level(logging.WARNING, logger="central.hub.connection")
        asyncio.run_coroutine_threadsafe(conn.ws.send_text(frame), hub._loop).result(timeout=5)
        await _until(lambda: "push-1" in caplog.text and "config_push" in caplog.text, what="agent's reject")
        assert _count(server, DeadLetter) == 0
    finally:
        _stop(proc)
    assert _drained(state) == 0
