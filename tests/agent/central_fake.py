"""A small stand-in for central's ``/agent/v1/link`` on the real ``websockets`` server: checks the
site token, acks every message, ingests each ``msg_id`` once (as central does), can push commands
and schedules."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request, Response

from contracts.messages import Ack, BadMessage, dump_message, parse_message


class FakeCentral:
    def __init__(self, host: str, token: str, port: int = 0) -> None:
        self.host = host
        self.port = port
        self.token = token
        self.ingested: list[Any] = []         # first arrival of each msg_id, in order
        self.seen: set[str] = set()
        self.wire_duplicates = 0
        self.connections: list[ServerConnection] = []
        self.refused = 0
        self.hellos = 0
        self.acks_from_agent: list[str] = []
        self.hold_acks = False                # ingest but do not acknowledge (agent must resend)
        #: close every link with (code, reason) when its hello arrives (central refusing the agent)
        self.close_on_hello: tuple[int, str] | None = None
        #: msg_id -> (reason, kept): answer these with a reject instead of ingesting them
        self.reject: dict[str, tuple[str, bool]] = {}
        self._server: Server | None = None
        self.arrived = asyncio.Event()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _check(self, connection: ServerConnection, request: Request) -> Response | None:
        if request.path != "/agent/v1/link":
            return connection.respond(404, "not found\n")
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            self.refused += 1
            return connection.respond(401, "bad token\n")
        return None

    async def _handler(self, ws: ServerConnection) -> None:
        self.connections.append(ws)
        try:
            async for raw in ws:
                try:
                    msg = parse_message(raw)
                except BadMessage:
                    continue
                if msg.type == "ack":
                    self.acks_from_agent += msg.ack_ids
                    continue
                if msg.type == "heartbeat":
                    continue
                if msg.msg_id in self.reject:
                    reason, kept = self.reject[msg.msg_id]
                    await ws.send(dump_message(Ack(site=msg.site, ack_ids=[], rejected={msg.msg_id: reason},
                                                   kept=[msg.msg_id] if kept else [])))
                    continue
                if msg.type == "hello":
                    self.hellos += 1
                    if self.close_on_hello is not None:
                        await ws.close(*self.close_on_hello)
                        return
                elif msg.msg_id in self.seen:
                    self.wire_duplicates += 1
                else:
                    self.seen.add(msg.msg_id)
                    self.ingested.append(msg)
                    self.arrived.set()
                if not self.hold_acks:
                    await ws.send(dump_message(Ack(site=msg.site, ack_ids=[msg.msg_id])))
        except Exception:  # noqa: BLE001 - the agent going away mid-frame ends this connection
            pass
        finally:
            with contextlib.suppress(ValueError):
                self.connections.remove(ws)

    async def start(self) -> FakeCentral:
        self._server = await serve(self._handler, self.host, self.port, process_request=self._check)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def send(self, message: Any) -> None:
        for ws in list(self.connections):
            await ws.send(dump_message(message))

    async def wait_for(self, predicate: Any, timeout: float = 10.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            if loop.time() > deadline:
                raise AssertionError("fake central: condition not met in time")
            await asyncio.sleep(0.02)

    def of_type(self, kind: str) -> list[Any]:
        return [m for m in self.ingested if m.type == kind]
