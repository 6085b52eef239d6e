"""Lightweight stand-ins for site agents: one WebSocket each, speaking the ``contracts`` messages.

A ``FakeLink`` sends ``hello``/``status`` and waits for central's ``ack``; it acknowledges every
command, reports ``prepare`` as succeeded at once, and notes when each command kind arrived, so
hundreds of them fit in one benchmark process where hundreds of agent processes would not.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from contracts.messages import (
    Ack,
    Command,
    CommandResult,
    DeviceInfo,
    DeviceStatus,
    Heartbeat,
    Hello,
    Status,
    dump_message,
    parse_message,
    utcnow,
)

ROOM = ("codec", "camera1", "camera2", "switcher", "display1", "recorder", "router", "pdu")
HEARTBEAT_SECONDS = 10.0      # well inside central's default allowance (15 s x 3)


class FakeLink:
    def __init__(self, ws_url: str, site: str, token: str) -> None:
        self.ws_url = ws_url
        self.site = site
        self.token = token
        self.ws: ClientConnection | None = None
        self._pending: dict[str, asyncio.Future[float]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        #: (command kind, meeting id) -> perf_counter when it arrived
        self.received: dict[tuple[str, str], float] = {}
        self.arrivals = asyncio.Event()

    async def open(self) -> None:
        self.ws = await connect(self.ws_url, additional_headers={"Authorization": f"Bearer {self.token}"},
                                open_timeout=60, ping_interval=None, max_size=2**22)
        self._tasks = [asyncio.create_task(self._reader()), asyncio.create_task(self._heartbeats())]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.ws is not None:
            await self.ws.close()

    async def request(self, msg: Any, timeout: float = 60.0) -> float:
        """Send ``msg`` and wait for central's ack of it; returns the round trip in seconds."""
        assert self.ws is not None
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._pending[msg.msg_id] = future
        start = time.perf_counter()
        await self.ws.send(dump_message(msg))
        acked_at = await asyncio.wait_for(future, timeout)
        return acked_at - start

    def hello(self) -> Hello:
        return Hello(site=self.site, agent_version="bench-1", devices=[
            DeviceInfo(id=f"{self.site}.{name}", model="bench", roles=[name.rstrip("12")],
                       address=f"tcp://127.0.0.{i + 10}:23", identity={"serial": f"B{i:04d}"})
            for i, name in enumerate(ROOM)])

    def status(self) -> Status:
        now = utcnow()
        return Status(site=self.site, devices=[
            DeviceStatus(id=f"{self.site}.{name}", up=True, verdict="ok", since=now) for name in ROOM])

    async def _reader(self) -> None:
        assert self.ws is not None
        with contextlib.suppress(ConnectionClosed):
            async for raw in self.ws:
                now = time.perf_counter()
                msg = parse_message(raw)
                if isinstance(msg, Ack):
                    for msg_id in [*msg.ack_ids, *msg.rejected]:
                        future = self._pending.pop(msg_id, None)
                        if future is not None and not future.done():
                            if msg_id in msg.rejected:
                                future.set_exception(RuntimeError(f"rejected: {msg.rejected[msg_id]}"))
                            else:
                                future.set_result(now)
                elif isinstance(msg, Command):
                    self.received[(msg.kind, str(msg.args.get("meeting_id", "")))] = now
                    self.arrivals.set()
                    await self.ws.send(dump_message(Ack(site=self.site, ack_ids=[msg.command_id])))
                    if msg.kind == "prepare":
                        await self.ws.send(dump_message(CommandResult(
                            site=self.site, command_id=msg.command_id, state="succeeded",
                            finished_at=utcnow())))

    async def _heartbeats(self) -> None:
        assert self.ws is not None
        with contextlib.suppress(ConnectionClosed):
            while True:
                await asyncio.sleep(HEARTBEAT_SECONDS)   # link keep-alive cadence, not a device wait
                await self.ws.send(dump_message(Heartbeat(site=self.site)))
