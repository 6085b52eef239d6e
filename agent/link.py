"""The agent's one outbound WebSocket to central (``/agent/v1/link``).

Branch offices sit behind NAT, so the agent dials out, authenticates with the site token
(``Authorization: Bearer <token>`` on the handshake), says ``hello``, then streams the outbox in
order and removes each message only when central's ``ack`` names it: in ``ack_ids`` (ingested),
or in ``rejected`` and ``kept`` (central set it aside as a dead letter with its reason). A
rejected message central did not keep is parked in the outbox's own table: never resent in a
loop, never deleted. Central sends commands and meeting schedules on the same socket; the agent
acks them after handing them over (a command's ``msg_id`` is its ``command_id``; the ack marks it
running). A frame from central this agent cannot read (a newer central's message type or
command) is never dropped in silence: a command is answered with an ``unsupported`` result, any
other frame with a rejecting ack. A heartbeat every ``heartbeat_interval`` (15 s; central drops a
link silent for about three of its own intervals); reconnects back off exponentially with
jitter, the longest wait when central refused the token or the agent's schema version.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from agent.backoff import Backoff
from agent.outbox import Outbox
from contracts.limits import sniff
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
    parse_message,
)

#: close codes after which a quick retry cannot help (a refused token, an incompatible version)
LASTING_CLOSE = frozenset({1008, CLOSE_REVOKED, CLOSE_INCOMPATIBLE})
_COMMAND_ID = re.compile(r'"command_id"\s*:\s*"([A-Za-z0-9][A-Za-z0-9._:-]{0,63})"')

log = logging.getLogger(__name__)

LINK_PATH = "/agent/v1/link"
#: central's close code for a planned restart; its reason says when to dial again
RESTART_CLOSE_CODE = 4012
_RETRY_HINT = re.compile(r"retry_after_ms=(\d+)")
RESTART_DELAY_CAP = 60.0


def restart_delay(code: int | None, reason: str | None) -> float | None:
    """Seconds central asked us to wait before reconnecting, or None when it gave no hint."""
    if code != RESTART_CLOSE_CODE or not reason:
        return None
    found = _RETRY_HINT.search(reason)
    return min(int(found.group(1)) / 1000, RESTART_DELAY_CAP) if found else None


def link_url(central: str) -> str:
    """``http(s)://host[:port][/prefix]`` or ``ws(s)://...`` -> the link's WebSocket URL."""
    url = central.rstrip("/")
    if url.startswith("http://"):
        url = "ws://" + url[len("http://"):]
    elif url.startswith("https://"):
        url = "wss://" + url[len("https://"):]
    elif not url.startswith(("ws://", "wss://")):
        url = "ws://" + url
    return url if url.endswith(LINK_PATH) else url + LINK_PATH


class CentralLink:
    def __init__(self, central: str, token: str, site: str, outbox: Outbox, *,
                 hello: Callable[[], Hello],
                 on_command: Callable[[Command], Awaitable[None]],
                 on_schedule: Callable[[Schedule], Awaitable[None]],
                 on_unreadable_command: Callable[[str, str], Awaitable[None]] | None = None,
                 on_session: Callable[[], None] | None = None,
                 heartbeat_interval: float = 15.0, window: int = 50,
                 backoff: Backoff | None = None, open_timeout: float = 10.0) -> None:
        self.url = link_url(central)
        self._token = token
        self.site = site
        self.outbox = outbox
        self._hello = hello
        self._on_command = on_command
        self._on_schedule = on_schedule
        self._on_unreadable_command = on_unreadable_command
        self._on_session = on_session
        self.heartbeat_interval = heartbeat_interval
        self.window = window
        self.backoff = backoff or Backoff(initial=1.0, cap=60.0, jitter=0.3)
        self.open_timeout = open_timeout
        self.connected = asyncio.Event()
        self.clock_offset: float | None = None   # our clock minus central's, seconds (approx.)
        self.last_error = ""
        self._wake = asyncio.Event()
        self._acked = asyncio.Event()
        self._inflight: set[str] = set()
        #: (msg_id, central's reason) of the latest messages central refused for good
        self.rejected: deque[tuple[str, str]] = deque(maxlen=100)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = False

    def __repr__(self) -> str:
        return f"CentralLink({self.url!r}, site={self.site!r})"   # never the token

    def wake(self) -> None:
        """Something was queued: send it now (callable from any thread)."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wake.set)

    async def run(self) -> None:
        """Stay connected until cancelled."""
        self._loop = asyncio.get_running_loop()
        self.outbox.on_put(self.wake)      # once, also when supervision restarts run()
        failing = False
        while not self._stopping:
            delay = 0.0
            try:
                async with connect(self.url, additional_headers={"Authorization": f"Bearer {self._token}"},
                                   open_timeout=self.open_timeout, ping_interval=self.heartbeat_interval,
                                   ping_timeout=self.heartbeat_interval * 2, max_size=16 * 2**20) as ws:
                    self.backoff.reset()
                    if failing:
                        log.info("link to %s restored", self.url)
                    failing = False
                    self.last_error = ""
                    await self._session(ws)
                delay = self._honour_restart(ws.close_code, ws.close_reason)
            except InvalidStatus as exc:
                code = exc.response.status_code
                self.last_error = f"central refused the link: HTTP {code}"
                # A refused token will not fix itself in seconds: wait the longest.
                delay = self.backoff.exhaust() if code in (401, 403) else self.backoff.next_delay()
            except ConnectionClosed as exc:
                code = exc.rcvd.code if exc.rcvd is not None else None
                why = exc.rcvd.reason if exc.rcvd is not None else ""
                self.last_error = f"central closed the link ({code}): {why}" if code else f"link lost: {exc}"
                lasting = code in LASTING_CLOSE
                hinted = self._honour_restart(code, why)
                delay = hinted or (self.backoff.exhaust() if lasting else self.backoff.next_delay())
            except (OSError, TimeoutError, InvalidHandshake) as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                rcvd = exc.rcvd if isinstance(exc, ConnectionClosed) else None
                hinted = self._honour_restart(rcvd.code, rcvd.reason) if rcvd is not None else 0.0
                delay = hinted or self.backoff.next_delay()
            finally:
                self.connected.clear()
            if self.last_error and not failing:
                log.warning("link to %s down: %s (retrying with backoff)", self.url, self.last_error)
                failing = True
            if delay:
                await asyncio.sleep(delay)

    def _honour_restart(self, code: int | None, reason: str | None) -> float:
        """A planned central restart names when to come back: wait that long, then start backoff afresh."""
        delay = restart_delay(code, reason)
        if delay is None:
            return 0.0
        self.backoff.reset()
        log.info("central is restarting; reconnecting in %.1f s as it asked", delay)
        return delay

    async def _session(self, ws: ClientConnection) -> None:
        self._inflight.clear()
        self.outbox.forget_sent()
        await ws.send(dump_message(self._hello()))
        self.connected.set()
        if self._on_session is not None:
            self._on_session()
        tasks = [asyncio.create_task(self._sender(ws), name="link-send"),
                 asyncio.create_task(self._receiver(ws), name="link-recv"),
                 asyncio.create_task(self._heartbeat(ws), name="link-heartbeat")]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()   # re-raise what ended the session
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, ConnectionClosed, OSError):
                    await task

    async def _sender(self, ws: ClientConnection) -> None:
        sent_upto = 0
        while True:
            room = self.window - len(self._inflight)
            rows = self.outbox.pending(after_seq=sent_upto, limit=room) if room > 0 else []
            if not rows:
                self._wake.clear()
                self._acked.clear()
                waiters = [asyncio.create_task(self._wake.wait()), asyncio.create_task(self._acked.wait())]
                try:
                    await asyncio.wait(waiters, timeout=1.0, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for w in waiters:
                        w.cancel()
                continue
            for row in rows:
                self._inflight.add(row.msg_id)
                self.outbox.mark_sent([row.msg_id])    # from now on a newer status does not replace it
                await ws.send(row.body)
                sent_upto = row.seq

    async def _receiver(self, ws: ClientConnection) -> None:
        async for raw in ws:
            try:
                msg: Any = parse_message(raw)
            except BadMessage as exc:
                text = raw if isinstance(raw, str) else raw.decode("utf-8", "replace")
                await self._unreadable(ws, text, exc)
                continue
            sent_at = getattr(msg, "sent_at", None)
            if sent_at is not None:
                self.clock_offset = time.time() - sent_at.timestamp()
            if isinstance(msg, Ack):
                self._on_ack(msg)
            elif isinstance(msg, Command):
                await self._on_command(msg)
                await ws.send(dump_message(Ack(site=self.site, ack_ids=[msg.msg_id])))
            elif isinstance(msg, Schedule):
                await self._on_schedule(msg)
                await ws.send(dump_message(Ack(site=self.site, ack_ids=[msg.msg_id])))
            elif isinstance(msg, Heartbeat):
                pass
            else:
                log.warning("unexpected %s message from central", getattr(msg, "type", "?"))
                await ws.send(dump_message(Ack(site=self.site, ack_ids=[], rejected={
                    msg.msg_id: f"{msg.type!r} is an agent -> central message"})))

    async def _unreadable(self, ws: ClientConnection, raw: str, exc: BadMessage) -> None:
        """A frame this agent cannot read: answer it (a newer central waits for its ack)."""
        msg_id, kind = (exc.msg_id, exc.kind) if isinstance(exc, UnknownType) else sniff(raw[:65536])
        command_id = _COMMAND_ID.search(raw[:65536]) if kind == "command" else None
        log.warning("a frame from central this agent cannot read (%s): %s", msg_id or "no msg_id", exc)
        if command_id is not None and self._on_unreadable_command is not None:
            # the command is refused as a whole with a result, as central expects of any command
            await self._on_unreadable_command(command_id.group(1), str(exc))
        if msg_id:
            await ws.send(dump_message(Ack(site=self.site, ack_ids=[msg_id] if command_id else [],
                                           rejected={} if command_id else {msg_id: str(exc)})))

    def _on_ack(self, ack: Ack) -> None:
        kept = set(ack.kept)
        parked = {msg_id: reason for msg_id, reason in ack.rejected.items() if msg_id not in kept}
        for msg_id, reason in ack.rejected.items():
            where = "central keeps it as a dead letter" if msg_id in kept else "parked in the outbox"
            log.error("central rejected message %s: %s (%s)", msg_id, reason, where)
        if parked:
            # central did not keep them: they stay here, out of the sending queue
            self.outbox.park(parked)
        done = [*ack.ack_ids, *(m for m in ack.rejected if m in kept)]
        self.outbox.ack(done)
        self._inflight.difference_update([*done, *parked])
        self.rejected.extend(ack.rejected.items())
        self._acked.set()

    async def _heartbeat(self, ws: ClientConnection) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_interval)
            await ws.send(dump_message(Heartbeat(site=self.site)))

    def stop(self) -> None:
        self._stopping = True


__all__ = ["CentralLink", "link_url", "websockets"]
