"""The agent's one outbound WebSocket to central (``/agent/v1/link``).

Branch offices sit behind NAT, so the agent dials out, authenticates with the site token
(``Authorization: Bearer <token>`` on the handshake), says ``hello``, then streams the outbox in
order and removes each message only when central's ``ack`` names it, in ``ack_ids`` or in
``rejected`` (central will never ingest that one: it is logged with central's reason and dropped,
not resent forever). Central sends commands and meeting schedules on the same socket; the agent
acks them after handing them over (a command's ``msg_id`` is its ``command_id``; the ack marks it
running). A heartbeat every ``heartbeat_interval`` (15 s; central drops a link silent for about
three of its own intervals); reconnects back off exponentially with jitter.
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
                 heartbeat_interval: float = 15.0, window: int = 50,
                 backoff: Backoff | None = None, open_timeout: float = 10.0) -> None:
        self.url = link_url(central)
        self._token = token
        self.site = site
        self.outbox = outbox
        self._hello = hello
        self._on_command = on_command
        self._on_schedule = on_schedule
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
        self.outbox.on_put(self.wake)
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
            except (OSError, TimeoutError, InvalidHandshake, ConnectionClosed) as exc:
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
        await ws.send(dump_message(self._hello()))
        self.connected.set()
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
                await ws.send(row.body)
                sent_upto = row.seq

    async def _receiver(self, ws: ClientConnection) -> None:
        async for raw in ws:
            try:
                msg: Any = parse_message(raw)
            except BadMessage as exc:
                log.warning("ignoring a bad frame from central: %s", exc)
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

    def _on_ack(self, ack: Ack) -> None:
        # A rejected frame will never be ingested: resending it would block nothing but loop
        # forever, so it leaves the outbox with its reason in the log.
        for msg_id, reason in ack.rejected.items():
            log.error("central rejected message %s for good: %s (dropped from the outbox)", msg_id, reason)
        done = [*ack.ack_ids, *ack.rejected]
        self.outbox.ack(done)
        self._inflight.difference_update(done)
        self.rejected.extend(ack.rejected.items())
        self._acked.set()

    async def _heartbeat(self, ws: ClientConnection) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_interval)
            await ws.send(dump_message(Heartbeat(site=self.site)))

    def stop(self) -> None:
        self._stopping = True


__all__ = ["CentralLink", "link_url", "websockets"]
