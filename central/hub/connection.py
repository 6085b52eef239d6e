"""One agent's WebSocket: receive -> ingest -> ack, and deliver schedule, commands and heartbeats."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import TYPE_CHECKING, Any

from anyio import to_thread
from sqlalchemy.exc import SQLAlchemyError
from starlette.websockets import WebSocket, WebSocketState

from central.models import Site, utcnow
from central.services import commands, meetings
from central.services.ingest import ForeignDevice, IngestOutcome, ingest
from contracts.messages import (
    Ack,
    BadMessage,
    Command,
    Heartbeat,
    Hello,
    Schedule,
    dump_message,
    parse_message,
)

if TYPE_CHECKING:
    from pydantic import BaseModel

    from central.context import AppContext

log = logging.getLogger(__name__)

CLOSE_POLICY = 1008          # a message for another site
CLOSE_INTERNAL = 1011        # central could not store what the agent sent
CLOSE_REPLACED = 4000        # the site connected again
CLOSE_SILENT = 4008          # no message within the heartbeat allowance


class LinkClosed(Exception):
    """Central closed the link on purpose."""


def _msg_id_of(raw: str) -> str | None:
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    msg_id = value.get("msg_id") if isinstance(value, dict) else None
    return msg_id if isinstance(msg_id, str) and msg_id else None


class AgentConnection:
    def __init__(self, ctx: AppContext, ws: WebSocket, site_id: str) -> None:
        self.ctx = ctx
        self.ws = ws
        self.site_id = site_id
        self._wake = asyncio.Event()
        self._schedule_due = False
        self._sent: set[str] = set()
        self._send_lock = asyncio.Lock()
        self._last_touch = 0.0

    # -- called on the event loop by the hub ----------------------------------------------------
    def wake(self, schedule: bool = False) -> None:
        self._schedule_due = self._schedule_due or schedule
        self._wake.set()

    async def close(self, code: int, reason: str) -> None:
        if self.ws.application_state == WebSocketState.CONNECTED:
            try:
                await self.ws.close(code, reason)
            except RuntimeError as exc:   # already closing from the other side
                log.debug("site %s: close raced: %s", self.site_id, exc)

    async def send(self, msg: BaseModel) -> None:
        async with self._send_lock:
            await self.ws.send_text(dump_message(msg))

    # -- lifetime ---------------------------------------------------------------------------------
    async def run(self) -> None:
        receiver = asyncio.create_task(self._receive_loop(), name=f"link-recv-{self.site_id}")
        sender = asyncio.create_task(self._send_loop(), name=f"link-send-{self.site_id}")
        done, pending = await asyncio.wait({receiver, sender}, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        for task in done:
            exc = task.exception()
            if exc is None or isinstance(exc, LinkClosed):
                continue
            if isinstance(exc, SQLAlchemyError):
                log.error("site %s: database error on the link: %s", self.site_id, exc)
                await self.close(CLOSE_INTERNAL, "central could not store the message; retry later")
            elif not _is_disconnect(exc):
                log.error("site %s: link failed", self.site_id, exc_info=exc)
                await self.close(CLOSE_INTERNAL, "internal error")

    async def _receive_loop(self) -> None:
        allowance = self.ctx.settings.heartbeat_interval_seconds * self.ctx.settings.heartbeat_misses
        while True:
            try:
                message = await asyncio.wait_for(self.ws.receive(), allowance)
            except TimeoutError:
                await self.close(CLOSE_SILENT, f"no message for {allowance:g} s")
                raise LinkClosed from None
            if message["type"] == "websocket.disconnect":
                return
            raw = message.get("text")
            if raw is None:
                raw = (message.get("bytes") or b"").decode("utf-8", "replace")
            await self._handle(raw)

    async def _handle(self, raw: str) -> None:
        try:
            msg: Any = parse_message(raw)
        except BadMessage as exc:
            await self._reject(_msg_id_of(raw), str(exc))
            return
        if msg.site != self.site_id:
            log.warning("site %s: message claims site %r; closing", self.site_id, msg.site)
            await self.close(CLOSE_POLICY, f"this link is authenticated for site {self.site_id!r}")
            raise LinkClosed
        await self._touch()
        if isinstance(msg, Heartbeat):
            return
        if isinstance(msg, Ack):
            await to_thread.run_sync(self._acked, msg.ack_ids)
            return
        if isinstance(msg, Command | Schedule):
            await self._reject(msg.msg_id, f"{msg.type!r} is a central -> agent message")
            return
        try:
            outcome: IngestOutcome = await to_thread.run_sync(self._ingest, msg)
        except ForeignDevice as exc:
            await self._reject(msg.msg_id, str(exc))
            return
        self.ctx.metrics.message_ingested(msg.type, outcome.new)
        for seconds in outcome.command_latencies:
            self.ctx.metrics.command_finished(seconds)
        await self.send(Ack(site=self.site_id, ack_ids=[msg.msg_id]))
        if isinstance(msg, Hello):
            self.wake(schedule=True)

    async def _reject(self, msg_id: str | None, reason: str) -> None:
        self.ctx.metrics.message_rejected()
        log.warning("site %s: rejected a frame (%s): %s", self.site_id, msg_id or "no msg_id", reason)
        if msg_id:
            await self.send(Ack(site=self.site_id, ack_ids=[], rejected={msg_id: reason}))

    async def _touch(self) -> None:
        # last_seen in the database, at most twice per heartbeat interval
        now = time.monotonic()
        if now - self._last_touch < self.ctx.settings.heartbeat_interval_seconds / 2:
            return
        self._last_touch = now
        await to_thread.run_sync(self._touch_db)

    def _touch_db(self) -> None:
        with self.ctx.unit() as session:
            site = session.get(Site, self.site_id)
            if site is not None:
                site.last_seen = utcnow()

    def _ingest(self, msg: Any) -> IngestOutcome:
        with self.ctx.unit() as session:
            return ingest(session, self.site_id, msg, self.ctx.limits)

    def _acked(self, ids: list[str]) -> None:
        with self.ctx.unit() as session:
            commands.mark_acked(session, self.site_id, ids, utcnow())

    async def _send_loop(self) -> None:
        settings = self.ctx.settings
        next_heartbeat = time.monotonic() + settings.heartbeat_interval_seconds
        while True:
            timeout = min(settings.delivery_poll_seconds, max(0.0, next_heartbeat - time.monotonic()))
            try:
                await asyncio.wait_for(self._wake.wait(), timeout)
            except TimeoutError:
                pass    # periodic: commands queued by another instance, heartbeats
            self._wake.clear()
            if self._schedule_due:
                self._schedule_due = False
                await self.send(await to_thread.run_sync(self._schedule))
            for command in await to_thread.run_sync(self._deliverable):
                await self.send(command)
                self._sent.add(command.command_id)
            if time.monotonic() >= next_heartbeat:
                await self.send(Heartbeat(site=self.site_id))
                next_heartbeat = time.monotonic() + settings.heartbeat_interval_seconds

    def _schedule(self) -> Schedule:
        with self.ctx.unit() as session:
            return Schedule(site=self.site_id,
                            meetings=meetings.schedule_for_site(session, self.site_id, utcnow()))

    def _deliverable(self) -> list[Command]:
        with self.ctx.unit() as session:
            return commands.take_deliverable(session, self.site_id, self._sent, utcnow())


def _is_disconnect(exc: BaseException) -> bool:
    from starlette.websockets import WebSocketDisconnect

    return isinstance(exc, WebSocketDisconnect | ConnectionError) or "close message has been sent" in str(exc)
