"""One agent's WebSocket: receive -> ingest -> ack, and deliver schedule, commands and heartbeats.

Every frame ends in an ack: ingested (``ack_ids``) or rejected with its reason (``rejected``).
A rejected frame is first kept as a dead letter (``kept`` tells the agent it may delete it), so
nothing the agent sent is lost and no bad frame blocks the ones behind it: invalid or over a
bound, of an unknown type, naming a device the site has not declared, or failing to store for a
lasting reason (an integrity error). Only a transient database error (connection lost, locked,
pool timeout) closes the link with 1011 so the agent sends the frame again later. The major
schema version is checked at ``hello``: an agent central cannot read is closed with
``CLOSE_INCOMPATIBLE`` and the reason, and a fault shows it on the dashboard.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from central.models import utcnow
from central.notify.changes import Changes
from central.services import commands, dead_letters
from central.services.ingest import (
    IngestOutcome,
    Rejected,
    foreign_device,
    incompatibility,
    ingest,
    refuse_agent,
    touch_site,
)
from central.services.ingest_batch import StatusJob
from contracts.limits import MAX_FRAME_BYTES, sniff, valid_id
from contracts.messages import (
    CLOSE_INCOMPATIBLE,
    CLOSE_REVOKED,
    Ack,
    BadMessage,
    Command,
    Heartbeat,
    Hello,
    Schedule,
    UnknownType,
    dump_message,
    load_frame,
    parse_value,
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

__all__ = ["CLOSE_INCOMPATIBLE", "CLOSE_REVOKED"]

#: the key of a reject for a frame without a usable msg_id
NO_MSG_ID = "<no msg_id>"
#: database errors that pass (connection lost, lock or pool wait): the agent sends the frame again
TRANSIENT_DB_ERRORS = (OperationalError, InterfaceError, DisconnectionError, PoolTimeout)


class LinkClosed(Exception):
    """Central closed the link on purpose."""


def is_transient(exc: BaseException) -> bool:
    return isinstance(exc, TRANSIENT_DB_ERRORS) or (
        isinstance(exc, SQLAlchemyError) and bool(getattr(exc, "connection_invalidated", False)))


class AgentConnection:
    def __init__(self, hub: AgentHub, ws: WebSocket, site_id: str, token_id: str | None = None) -> None:
        self.hub = hub
        self.ws = ws
        self.site_id = site_id
        #: the agent token this link authenticated with (closed when it is revoked)
        self.token_id = token_id
        #: the site's link generation stored when this link was accepted (None until then)
        self.generation: int | None = None
        #: the agent's minor schema version (0 until its hello says otherwise): what we send it
        self.peer_minor = 0
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
            await self.ws.send_text(dump_message(msg, self.peer_minor))

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
            if isinstance(exc, SQLAlchemyError):    # transient: the others were set aside in _handle
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
        if len(raw) > MAX_FRAME_BYTES:
            msg_id, kind = sniff(raw[:4096])
            await self._reject(raw, msg_id, kind, f"frame of {len(raw)} characters is over the "
                                                  f"{MAX_FRAME_BYTES} byte limit")
            return
        try:
            value = load_frame(raw)
        except BadMessage as exc:
            await self._reject(raw, *sniff(raw[:65536]), str(exc))
            return
        reason = incompatibility(value)
        if reason is not None:
            await self._incompatible(raw, value, reason)
            return
        try:
            msg: Any = parse_value(value)
        except UnknownType as exc:
            await self._reject(raw, exc.msg_id, exc.kind, str(exc))
            return
        except BadMessage as exc:
            fields = value if isinstance(value, dict) else {}
            msg_id, kind = fields.get("msg_id"), fields.get("type")
            await self._reject(raw, msg_id if valid_id(msg_id) else None,
                               kind[:32] if isinstance(kind, str) else None, str(exc))
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
            for msg_id, why in list(msg.rejected.items())[:20]:
                log.warning("site %s: the agent refused message %s: %s", self.site_id, msg_id, why[:300])
            touch = self._touch_due()
            if msg.ack_ids or touch:
                await self.writer.submit(
                    functools.partial(_acked, site_id=self.site_id, ids=msg.ack_ids, touch=touch))
            return
        if isinstance(msg, Command | Schedule):
            await self._reject(raw, msg.msg_id, msg.type, f"{msg.type!r} is a central -> agent message")
            return
        if isinstance(msg, Hello):
            self.peer_minor = msg.peer_minor
        try:
            foreign_device(self.site_id, msg)    # before the writer: a bad message never joins a batch
            job = (StatusJob(self.site_id, msg, self.hub.limits) if StatusJob.batchable(msg)
                   else functools.partial(ingest, site_id=self.site_id, msg=msg, limits=self.hub.limits))
            outcome: IngestOutcome = await self.writer.submit(job)
        except Rejected as exc:
            await self._reject(raw, msg.msg_id, msg.type, str(exc))
            return
        except Exception as exc:
            if is_transient(exc):
                raise       # closes the link with 1011: the agent sends it again later
            # a lasting failure to store this one frame (integrity, data, a bug): set it aside so
            # the frames behind it still arrive
            log.error("site %s: message %s (%s) failed to store; set aside", self.site_id, msg.msg_id,
                      msg.type, exc_info=exc)
            await self._reject(raw, msg.msg_id, msg.type, f"central could not store it: {type(exc).__name__}")
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

    async def _reject(self, raw: str, msg_id: str | None, kind: str | None, reason: str) -> None:
        """Keep the frame as a dead letter, then tell the agent (kept: it may delete it)."""
        self.hub.metrics.message_rejected()
        log.warning("site %s: rejected a frame (%s): %s", self.site_id, msg_id or "no msg_id", reason)
        try:
            kept = await self.writer.submit(functools.partial(
                dead_letters.keep, site_id=self.site_id, raw=raw, msg_id=msg_id, kind=kind, reason=reason))
        except Exception as exc:
            if is_transient(exc):
                raise       # 1011: the agent sends it again and it is kept then
            # it cannot be kept for good either: the agent is told so and parks it itself
            log.error("site %s: could not keep %s as a dead letter", self.site_id, msg_id, exc_info=exc)
            kept = False
        if not kept:
            log.error("site %s: %s not kept here (dead-letter quota full or unstorable); the agent parks it",
                      self.site_id, msg_id)
        if msg_id:
            await self.send(Ack(site=self.site_id, ack_ids=[], rejected={msg_id: reason},
                                kept=[msg_id] if kept else []))
        else:   # no usable id to name: the reject still says why (no outbox row can match it)
            await self.send(Ack(site=self.site_id, ack_ids=[], rejected={NO_MSG_ID: reason}))

    async def _incompatible(self, raw: str, value: Any, reason: str) -> None:
        kind = value.get("type") if isinstance(value, dict) else None
        if kind != "hello":
            msg_id = value.get("msg_id") if isinstance(value, dict) else None
            await self._reject(raw, msg_id if valid_id(msg_id) else None,
                               kind[:32] if isinstance(kind, str) else None, reason)
            return
        version = value.get("agent_version") if isinstance(value, dict) else None
        version = version if isinstance(version, str) else "?"
        log.error("site %s: agent %s refused: %s", self.site_id, version, reason)
        await self.writer.submit(functools.partial(refuse_agent, site_id=self.site_id,
                                                   agent_version=version, reason=reason))
        await self.close(CLOSE_INCOMPATIBLE, _close_reason(reason))
        raise LinkClosed

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


def _close_reason(reason: str) -> str:
    """A WebSocket close reason holds at most 123 bytes."""
    return reason.encode("utf-8")[:123].decode("utf-8", "ignore")


def _acked(session: Session, site_id: str, ids: list[str], touch: bool) -> None:
    commands.mark_acked(session, site_id, ids, utcnow())
    if touch:
        touch_site(session, site_id)


def _is_disconnect(exc: BaseException) -> bool:
    return isinstance(exc, WebSocketDisconnect | ConnectionError) or "close message has been sent" in str(exc)
