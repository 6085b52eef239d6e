"""Test-side pieces for central: a real uvicorn server in a thread, databases, a fake agent.

The fake agent speaks the contracts messages over a real WebSocket with the ``websockets`` client;
it stands in for agent/ until the end-to-end tests with real agents land.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import psycopg
import uvicorn
from sqlalchemy import Engine
from websockets.asyncio.client import ClientConnection, connect

from central.app import create_app
from central.db import make_session_factory, transaction
from central.services import accounts
from central.settings import Settings
from contracts.messages import (
    Ack,
    CallState,
    Command,
    CommandResult,
    DeviceInfo,
    Event,
    Heartbeat,
    Hello,
    Schedule,
    Status,
    dump_message,
    parse_message,
)

PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
PASSWORD = "correct horse battery"
ROLES = ("viewer", "secretariat", "engineer", "admin")
SITES = ("shanghai", "urumqi", "lhasa", "guangzhou", "kunming", "xining")


# -- databases --------------------------------------------------------------------------------------
def postgres_reachable() -> str | None:
    """None when the server answers, else why not."""
    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return None
    except psycopg.OperationalError as exc:
        return f"PostgreSQL at 127.0.0.1:5432 (database test) is unreachable: {exc}"


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh, uniquely named database for this run; dropped afterwards."""
    name = f"roomops_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# -- seeding ------------------------------------------------------------------------------------------
@dataclass
class Seeded:
    tokens: dict[str, str] = field(default_factory=dict)      # site -> agent token


def seed(engine: Engine, sites: tuple[str, ...] = SITES, **site_options: dict[str, Any]) -> Seeded:
    """One user per role (named after the role) and the given sites, each with an agent token."""
    out = Seeded()
    with transaction(make_session_factory(engine)) as session:
        for role in ROLES:
            accounts.create_user(session, role, PASSWORD, [role])
        for site in sites:
            accounts.create_site(session, site, **site_options.get(site, {}))
            _, out.tokens[site] = accounts.issue_site_token(session, site, "test")
    return out


# -- a real uvicorn server --------------------------------------------------------------------------
PORT = 18080


class RunningServer:
    def __init__(self, settings: Settings, host: str) -> None:
        self.settings = settings
        self.host = host
        self.app = create_app(settings)
        self.ctx = self.app.state.ctx
        config = uvicorn.Config(self.app, host=host, port=PORT, log_level="warning", lifespan="on",
                                ws_ping_interval=None)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="uvicorn-test", daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{PORT}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{PORT}/agent/v1/link"

    def start(self) -> RunningServer:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)   # test harness start-up, not a device wait
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)
        if self.thread.is_alive():
            raise RuntimeError("uvicorn did not stop")

    @property
    def engine(self) -> Engine:
        return self.ctx.engine


def central_settings(tmp_path: Any, database_url: str = "", **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": tmp_path, "database_url": database_url, "heartbeat_interval_seconds": 1.0,
        "delivery_poll_seconds": 0.2, "expiry_sweep_seconds": 0.1, "command_deadline_seconds": 10.0,
        "command_result_grace_seconds": 1.0,
    }
    if database_url.startswith("postgresql"):     # shared databases need one configured key
        values["secret_key"] = "test-secret-key-shared-by-instances"
    values.update(overrides)
    return Settings(**values)


# -- API client -------------------------------------------------------------------------------------
async def login(client: httpx.AsyncClient, username: str, password: str = PASSWORD) -> dict[str, str]:
    response = await client.post("/api/v1/auth/token", data={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def wait_for(check: Callable[[], Awaitable[Any]], timeout: float = 10.0,
                   what: str = "condition") -> Any:
    """Poll an async check until it returns something truthy, with a deadline."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}; last value {last!r}")


# -- fake agent -------------------------------------------------------------------------------------
Handler = Callable[["FakeAgent", Command], Awaitable[None]]


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class FakeAgent:
    """A site agent reduced to its link: hello, acks, scripted command handling, reports."""

    def __init__(self, url: str, site: str, token: str, *, devices: list[DeviceInfo] | None = None,
                 handlers: dict[str, Handler] | None = None, auto_ack: bool = True,
                 heartbeat: float = 0.5) -> None:
        self.url, self.site, self.token = url, site, token
        self.devices = devices if devices is not None else default_devices(site)
        self.handlers = dict(DEFAULT_HANDLERS if handlers is None else handlers)
        self.auto_ack = auto_ack
        self.heartbeat = heartbeat
        self.received: list[Any] = []
        self.acked: set[str] = set()
        self.rejected: dict[str, str] = {}
        self.commands: list[Command] = []
        self.schedules: list[Schedule] = []
        self.calls: dict[str, CallState] = {}
        self.executed: set[str] = set()
        self.ws: ClientConnection | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._changed = asyncio.Event()
        self.closed_code: int | None = None
        #: when set, a rebooting device stays down until the test opens the gate
        self.boot_gate: asyncio.Event | None = None

    async def connect(self, hello: bool = True) -> FakeAgent:
        self.ws = await connect(self.url, additional_headers={"Authorization": f"Bearer {self.token}"},
                                open_timeout=5, ping_interval=None)
        self._tasks.append(asyncio.create_task(self._reader()))
        self._tasks.append(asyncio.create_task(self._heartbeats()))
        if hello:
            await self.send(Hello(site=self.site, agent_version="fake-1", devices=self.devices))
        return self

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self.ws is not None:
            await self.ws.close()

    async def __aenter__(self) -> FakeAgent:
        return await self.connect()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def send(self, msg: Any) -> str:
        assert self.ws is not None
        await self.ws.send(dump_message(msg))
        return msg.msg_id

    async def send_raw(self, text: str) -> None:
        assert self.ws is not None
        await self.ws.send(text)

    async def wait(self, predicate: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{self.site}: timed out waiting for {what}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(left, 0.2))

    async def wait_acked(self, msg_id: str, timeout: float = 10.0) -> None:
        await self.wait(lambda: msg_id in self.acked, timeout, f"ack of {msg_id}")

    async def _heartbeats(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat)
            await self.send(Heartbeat(site=self.site))

    async def _reader(self) -> None:
        assert self.ws is not None
        try:
            async for raw in self.ws:
                msg = parse_message(raw)
                self.received.append(msg)
                if isinstance(msg, Ack):
                    self.acked.update(msg.ack_ids)
                    self.rejected.update(msg.rejected)
                elif isinstance(msg, Schedule):
                    self.schedules.append(msg)
                    await self.send(Ack(site=self.site, ack_ids=[msg.msg_id]))
                elif isinstance(msg, Command):
                    self.commands.append(msg)
                    if self.auto_ack:
                        await self.send(Ack(site=self.site, ack_ids=[msg.msg_id]))
                    if msg.command_id not in self.executed and msg.kind in self.handlers:
                        self.executed.add(msg.command_id)   # at most once per command id
                        self._tasks.append(asyncio.create_task(self.handlers[msg.kind](self, msg)))
                self._changed.set()
        finally:
            self.closed_code = self.ws.close_code
            self._changed.set()

    # -- reports -------------------------------------------------------------------------------------
    async def result(self, command: Command, state: str = "succeeded", result: dict[str, Any] | None = None,
                     error: str | None = None) -> None:
        await self.send(CommandResult(site=self.site, command_id=command.command_id, state=state,
                                      result=result or {}, error=error,
                                      finished_at=datetime.now(UTC) if state != "running" else None))

    async def call(self, meeting_id: str | None, state: str, remote: str = "") -> None:
        call = CallState(device=f"{self.site}.codec", call_id="1", remote_uri=remote, state=state,
                         rate_kbps=4096 if state == "connected" else 0, hd=state == "connected",
                         meeting_id=meeting_id)
        self.calls[call.call_id] = call
        await self.send(Status(site=self.site, calls=[call]))

    async def device(self, device: str, up: bool, reason: str = "") -> None:
        await self.send(Event(site=self.site, kind="device_up" if up else "device_down", device=device,
                              data={"reason": reason} if reason else {}))


def default_devices(site: str) -> list[DeviceInfo]:
    return [
        DeviceInfo(id=f"{site}.codec", model="cisco-roomkit", roles=["codec"],
                   capabilities={"uri": f"sip:{site}@roomops.test", "multisite_capacity": 5}),
        DeviceInfo(id=f"{site}.recorder", model="recorder", roles=["recorder"]),
        DeviceInfo(id=f"{site}.pdu", model="apc", roles=["power_outlet"]),
    ]


# -- scripted room behaviour -------------------------------------------------------------------------
async def on_ok(agent: FakeAgent, command: Command) -> None:
    await agent.result(command)


async def on_connect(agent: FakeAgent, command: Command) -> None:
    meeting_id = command.args.get("meeting_id")
    await agent.call(meeting_id, "dialing", command.args.get("bridge_uri") or "")
    await agent.call(meeting_id, "connected", command.args.get("bridge_uri") or "")
    await agent.result(command, result={"call_state": "connected"})


async def on_disconnect(agent: FakeAgent, command: Command) -> None:
    await agent.call(command.args.get("meeting_id"), "idle")
    await agent.result(command)


RECORDING = b"fake recording bytes"


async def on_record_stop(agent: FakeAgent, command: Command) -> None:
    await agent.result(command, result={
        "file": f"/recordings/{command.args['meeting_id']}.mp4", "size": len(RECORDING), "duration": 61.5,
        "sha256": sha256_of(RECORDING),
    })


async def on_reboot(agent: FakeAgent, command: Command) -> None:
    assert command.device is not None
    await agent.result(command, state="running")
    await agent.device(command.device, up=False, reason="rebooting")
    if agent.boot_gate is not None:
        await agent.boot_gate.wait()
    else:
        await asyncio.sleep(0.2)   # the simulated device's boot time
    await agent.device(command.device, up=True)
    await agent.result(command, result={"downtime_s": 0.2})


DEFAULT_HANDLERS: dict[str, Handler] = {
    "prepare": on_ok, "connect": on_connect, "disconnect": on_disconnect, "record_start": on_ok,
    "record_stop": on_record_stop, "reboot": on_reboot, "power_cycle": on_reboot,
}
