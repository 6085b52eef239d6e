"""Health polling for one device: availability history, one log line per transition.

Like Home Assistant's DataUpdateCoordinator: the coordinator owns the polling of its device,
keeps the last health, and reports only changes. It logs once when the device goes down and once
when it recovers, and emits a ``device_down`` / ``device_up`` event into the outbox. A device
that is off at start-up is simply down until it answers: never fatal.

A codec's coordinator also reads its calls on every poll (and when asked, right after a dial or a
hang-up) and emits one ``call_state`` event per change of a call: central keeps every event, so
the annual report can count each connected call as HD or SD even after it ended.

While a command holds the device (a projector warming up for 90 s inside ``prepare``) the health
poll does not queue behind it: the device's worker is busy, not the device down, so the poll
keeps the last state and says what holds it.

Every call belongs to a meeting: a call the agent dialled is claimed for the meeting of its
``connect``; another call (answered) takes the meeting the agent was serving when it was first
seen. Hang-ups and self-tests use that to touch only what is theirs.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime

from agent.session import DeviceSession, failure_text
from contracts.messages import CallState, DeviceStatus, Event, utcnow
from drivers.errors import DeviceError
from drivers.roles import CallInfo, Codec, Health, Verdict

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Transition:
    at: datetime
    up: bool
    reason: str


class Availability:
    """Bounded history of up/down transitions and the time spent in each state."""

    def __init__(self, max_transitions: int = 500, clock: Callable[[], float] = time.monotonic) -> None:
        self.transitions: deque[Transition] = deque(maxlen=max_transitions)
        self._clock = clock
        self._since = clock()
        self._state: bool | None = None
        self.up_seconds = 0.0
        self.down_seconds = 0.0

    @property
    def state(self) -> bool | None:
        return self._state

    def record(self, up: bool, reason: str = "") -> bool:
        """Note the current state; True when it changed (the first observation counts)."""
        now = self._clock()
        if self._state is not None:
            if self._state:
                self.up_seconds += now - self._since
            else:
                self.down_seconds += now - self._since
        self._since = now
        changed = self._state is None or self._state != up
        if changed:
            self.transitions.append(Transition(utcnow(), up, reason))
        self._state = up
        return changed

    @property
    def ratio(self) -> float | None:
        total = self.up_seconds + self.down_seconds
        return None if total == 0 else self.up_seconds / total


#: call states that occupy the codec
IN_CALL = frozenset({"dialing", "ringing", "connecting", "connected", "disconnecting"})

#: what makes a call "changed" for reporting
_CALL_FIELDS = ("state", "remote_uri", "direction", "rate_kbps", "resolution", "hd")


class CallTracker:
    """A codec's calls as last read; ``update`` emits a ``call_state`` event per change.

    A call is tagged with the meeting the agent was serving when the call was first seen
    (``meeting``), and keeps that tag until it ends, so its last event still names the meeting.
    A call that disappears is reported once more with state ``idle``."""

    def __init__(self, device: str, site: str, emit: Callable[[Event], None],
                 meeting: Callable[[], str | None] = lambda: None) -> None:
        self.device = device
        self.site = site
        self._emit = emit
        self._meeting = meeting
        self.calls: dict[str, CallState] = {}
        #: call id -> meeting, for calls the agent dialled (claimed before the codec reports them)
        self.claims: dict[str, str] = {}

    def claim(self, call_id: str, meeting_id: str | None) -> None:
        """The call ``call_id`` belongs to ``meeting_id`` (a dial made for that meeting)."""
        if meeting_id:
            self.claims[call_id] = meeting_id
            known = self.calls.get(call_id)
            if known is not None and known.meeting_id != meeting_id:
                self.calls[call_id] = known.model_copy(update={"meeting_id": meeting_id})

    def of_meeting(self, meeting_id: str | None) -> list[CallState]:
        """The current calls that belong to ``meeting_id``; with None, every call."""
        return [c for c in self.calls.values() if meeting_id is None or c.meeting_id == meeting_id]

    def update(self, calls: list[CallInfo]) -> list[CallState]:
        seen: dict[str, CallState] = {}
        for info in calls:
            before = self.calls.get(info.call_id)
            meeting_id = self.claims.get(info.call_id) or (
                before.meeting_id if before is not None else self._meeting())
            now = CallState(device=self.device, call_id=info.call_id, remote_uri=info.remote_uri,
                            direction=info.direction, state=info.state, rate_kbps=info.rate_kbps,
                            resolution=info.resolution, hd=info.is_hd, meeting_id=meeting_id)
            seen[info.call_id] = now
            if before is None or _call_key(before) != _call_key(now):
                self._report(now)
        for call_id, gone in self.calls.items():
            if call_id not in seen:
                self._report(gone.model_copy(update={"state": "idle"}))
                self.claims.pop(call_id, None)
        self.calls = seen
        return self.current()

    def current(self) -> list[CallState]:
        return list(self.calls.values())

    def _report(self, call: CallState) -> None:
        log.info("%s call %s %s %s", self.device, call.call_id, call.state, call.remote_uri)
        self._emit(Event(site=self.site, kind="call_state", device=self.device,
                         data=call.model_dump(mode="json", exclude={"device"})))


def _call_key(call: CallState) -> tuple[object, ...]:
    return tuple(getattr(call, name) for name in _CALL_FIELDS)


class Coordinator:
    def __init__(self, session: DeviceSession, site: str, emit: Callable[[Event], None], *,
                 timeout: float = 5.0, meeting: Callable[[], str | None] | None = None) -> None:
        self.session = session
        self.site = site
        self._emit = emit
        self.timeout = timeout
        self.availability = Availability()
        self.health: Health | None = None
        self.reason = ""
        self.since: datetime | None = None
        self.polls = 0
        #: a codec's calls (None for other devices)
        self.call_tracker: CallTracker | None = (
            CallTracker(session.id, site, emit, meeting or (lambda: None))
            if "codec" in session.spec.roles else None)
        self.calls_error = ""
        self._holds: Counter[str] = Counter()

    @property
    def device(self) -> str:
        return self.session.id

    @contextlib.contextmanager
    def hold(self, what: str) -> Iterator[None]:
        """A command is using the device for ``what``: polls leave its state alone meanwhile."""
        self._holds[what] += 1
        try:
            yield
        finally:
            self._holds[what] -= 1
            if self._holds[what] <= 0:
                del self._holds[what]

    @property
    def held_by(self) -> str:
        """What holds the device now ("" when nothing does)."""
        return ", ".join(sorted(self._holds))

    async def in_call(self) -> str:
        """Why checks that need an idle codec cannot run now ("in a call ..."), "" when idle."""
        if self.call_tracker is None:
            return ""
        active = [c for c in await self.poll_calls() if c.state in IN_CALL]
        if not active:
            return ""
        meetings = sorted({c.meeting_id for c in active if c.meeting_id})
        return "in a call" + (f" (meeting {', '.join(meetings)})" if meetings else "")

    async def poll(self) -> DeviceStatus:
        self.polls += 1
        if self._holds and self.availability.state is not None:
            # the worker is busy with a command; a poll now would only time out behind it
            return self.status()
        try:
            health = await self.session.call(lambda d: d.health(), self.timeout)
        except DeviceError as exc:
            self.health = None
            self._observe(False, failure_text(exc))
        else:
            self.health = health
            up = health.verdict is not Verdict.DOWN
            self._observe(up, "; ".join(health.reasons))
        if self.call_tracker is not None:
            if self.availability.state:
                await self.poll_calls()
            else:
                self.call_tracker.update([])   # a codec that does not answer holds no call
        return self.status()

    async def poll_calls(self) -> list[CallState]:
        """Read the codec's calls now and report what changed (no-op for other devices)."""
        if self.call_tracker is None:
            return []
        try:
            calls = await self.session.call_role(Codec, lambda d: d.calls(), self.timeout)
        except DeviceError as exc:
            # The health poll decides up/down; a failed calls read keeps the last known calls.
            self.calls_error = failure_text(exc)
            log.debug("%s: calls unreadable: %s", self.device, self.calls_error)
            return self.call_tracker.current()
        self.calls_error = ""
        return self.call_tracker.update(list(calls))

    def calls(self) -> list[CallState]:
        return self.call_tracker.current() if self.call_tracker is not None else []

    def _observe(self, up: bool, reason: str) -> None:
        first = self.availability.state is None
        changed = self.availability.record(up, reason)
        self.reason = reason
        if not changed:
            return
        self.since = utcnow()
        if up and first:
            return  # up at start-up is the normal case: nothing to report
        if up:
            log.info("%s recovered", self.device)
        else:
            log.warning("%s is down: %s", self.device, reason)
        self._emit(Event(site=self.site, kind="device_up" if up else "device_down", device=self.device,
                         data={"reason": reason, "address": self.session.spec.address()}))

    def status(self) -> DeviceStatus:
        state = self.availability.state
        if state is None:
            return DeviceStatus(id=self.device, up=False, verdict="unknown")
        if not state:
            return DeviceStatus(id=self.device, up=False, verdict="down", reasons=[self.reason],
                                since=self.since)
        h = self.health
        reasons = list(h.reasons) if h else []
        if self._holds:
            reasons.append(f"busy: {self.held_by}")
        return DeviceStatus(id=self.device, up=True, verdict=h.verdict.value if h else "unknown",
                            reasons=reasons, details=_plain(h.details) if h else {}, since=self.since)


def _plain(details: dict) -> dict:
    return {str(k): v if isinstance(v, str | int | float | bool | type(None)) else str(v)
            for k, v in details.items()}
