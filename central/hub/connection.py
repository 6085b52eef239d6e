"""One agent's WebSocket: receive -> ingest -> ack, and deliver schedule, commands and heartbeats."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from central.models import utcnow
from central.notify.changes import Changes
from central.services import commands
from central.services.ingest import ForeignDevice, IngestOutcome, foreign_device, ingest, touch_site
from central.services.ingest_batch import StatusJob
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

    from central.hub.hub import AgentHub
    from central.hub.writer import BatchWriter

log = logging.getLogger(__name__)

CLOSE_POLICY = 1008          # a message for another site
CLOSE_INTERNAL = 1011        # central could not store what the agent sent
CLOSE_REPLACED = 4000        # the site connected again
CLOSE_SILENT = 4008          # no message within the heartbeat allowance
#: planned restart: the reason carries "retry_after_ms=N", when the agent should dial again
CLOSE_RESTART = 4012


def restart_reason(seconds: float) -> str:
    return f"central restarting; retry_after_ms={round(seconds * 1000)}"


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
    def __init__(self, hub: AgentHub, ws: WebSocket, site_id: str, token_id: str | None = None) -> None:
        self.hub = hub
        self.ws = ws
        self.site_id = site_id
        #: the agent token this link authenticated with (closed when it is revoked)
        self.token_id = token_id
        #: the site's link generation stored when this link was accepted (None until then)
        self.generation: int | None = None
        self._wake = asyncio.Event()
        self._outgoing: list[BaseModel] = []
        self._sent: set[str] = set()
        self._send_lock = asyncio.Lock()
        self._last_touch = 0.0

    @property
    def writer(self) -> BatchWriter:
        return self.hub.writer

    # -- called on the event loop by the hub ----------------------------------------------------
    @property
    def sent_ids(self) -> set[str]:
        """Ids of queued commands already sent on this connection (not sent again on it)."""
        return self._sent

    def deliver(self, schedule: Schedule | None, new_commands: list[Command],
                still_queued: set[str] | None) -> None:
        """Queue a delivery round's messages for the send loop; forget commands no longer queued."""
        if still_queued is not None:
            self._sent &= still_queued
        self._sent.update(command.command_id for command in new_commands)
        if schedule is not None:
            self._outgoing.append(schedule)
        self._outgoing.extend(new_commands)
        if self._outgoing:
            self._wake.set()

    async def close(self, code: int, reason: str) -> None:
        if self.ws.application_state == WebSocketState.CONNECTED:
            try:
                await self.ws.close(code, reason)
            except (RuntimeError, WebSocketDisconnect) as exc:   # already closing or gone on the other side
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
        allowance = self.hub.settings.heartbeat_interval_seconds * self.hub.settings.heartbeat_misses
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
        if isinstance(msg, Heartbeat):
            if self._touch_due():
                await self.writer.submit(functools.partial(touch_site, site_id=self.site_id))
            return
        if isinstance(msg, Ack):
            touch = self._touch_due()
            if msg.ack_ids or touch:
                await self.writer.submit(
                    functools.partial(_acked, site_id=self.site_id, ids=msg.ack_ids, touch=touch))
            return
        if isinstance(msg, Command | Schedule):
            await self._reject(msg.msg_id, f"{msg.type!r} is a central -> agent message")
            return
        try:
            foreign_device(self.site_id, msg)    # before the writer: a bad message never joins a batch
            job = (StatusJob(self.site_id, msg, self.hub.limits) if StatusJob.batchable(msg)
                   else functools.partial(ingest, site_id=self.site_id, msg=msg, limits=self.hub.limits))
            outcome: IngestOutcome = await self.writer.submit(job)
        except ForeignDevice as exc:
            await self._reject(msg.msg_id, str(exc))
            return
        if outcome.new:
            self._last_touch = time.monotonic()    # ingest stored last_seen with the message
        elif self._touch_due():
            await self.writer.submit(functools.partial(touch_site, site_id=self.site_id))
        self.hub.metrics.message_ingested(msg.type, outcome.new)
        for seconds in outcome.command_latencies:
            self.hub.metrics.command_finished(seconds)
        await self.send(Ack(site=self.site_id, ack_ids=[msg.msg_id]))
        if isinstance(msg, Hello):    # the site is ready for its schedule and queued commands
            self.hub.publish(Changes(commands={self.site_id}, schedules={self.site_id}))

    async def _reject(self, msg_id: str | None, reason: str) -> None:
        self.hub.metrics.message_rejected()
        log.warning("site %s: rejected a frame (%s): %s", self.site_id, msg_id or "no msg_id", reason)
        if msg_id:
            await self.send(Ack(site=self.site_id, ack_ids=[], rejected={msg_id: reason}))

    def _touch_due(self) -> bool:
        """Whether to store last_seen now: at most twice per heartbeat interval."""
        now = time.monotonic()
        if now - self._last_touch < self.hub.settings.heartbeat_interval_seconds / 2:
            return False
        self._last_touch = now
        return True

    async def _send_loop(self) -> None:
        """Send what delivery rounds queued here, and a heartbeat when the link has been quiet."""
        interval = self.hub.settings.heartbeat_interval_seconds
        next_heartbeat = time.monotonic() + interval
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), max(0.0, next_heartbeat - time.monotonic()))
            except TimeoutError:
                pass    # heartbeat due
            self._wake.clear()
            outgoing, self._outgoing = self._outgoing, []
            for msg in outgoing:
                await self.send(msg)
            if time.monotonic() >= next_heartbeat:
                await self.send(Heartbeat(site=self.site_id))
                next_heartbeat = time.monotonic() + interval


def _acked(session: Session, site_id: str, ids: list[str], touch: bool) -> None:
    commands.mark_acked(session, site_id, ids, utcnow())
    if touch:
        touch_site(session, site_id)


def _is_disconnect(exc: BaseException) -> bool:
    return isinstance(exc, WebSocketDisconnect | ConnectionError) or "close message has been sent" in str(exc)
