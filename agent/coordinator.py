"""Health polling for one device: availability history, one log line per transition.

Like Home Assistant's DataUpdateCoordinator: the coordinator owns the polling of its device,
keeps the last health, and reports only changes. It logs once when the device goes down and once
when it recovers, and emits a ``device_down`` / ``device_up`` event into the outbox. A device
that is off at start-up is simply down until it answers: never fatal.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from agent.session import DeviceSession
from contracts.messages import DeviceStatus, Event, utcnow
from drivers.errors import DeviceError
from drivers.roles import Health, Verdict

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


class Coordinator:
    def __init__(self, session: DeviceSession, site: str, emit: Callable[[Event], None], *,
                 timeout: float = 5.0) -> None:
        self.session = session
        self.site = site
        self._emit = emit
        self.timeout = timeout
        self.availability = Availability()
        self.health: Health | None = None
        self.reason = ""
        self.since: datetime | None = None
        self.polls = 0

    @property
    def device(self) -> str:
        return self.session.id

    async def poll(self) -> DeviceStatus:
        self.polls += 1
        try:
            health = await self.session.call(lambda d: d.health(), self.timeout)
        except DeviceError as exc:
            self.health = None
            self._observe(False, f"{exc.reason}: {exc.message}")
        else:
            self.health = health
            up = health.verdict is not Verdict.DOWN
            self._observe(up, "; ".join(health.reasons))
        return self.status()

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
        return DeviceStatus(id=self.device, up=True, verdict=h.verdict.value if h else "unknown",
                            reasons=list(h.reasons) if h else [], details=_plain(h.details) if h else {},
                            since=self.since)


def _plain(details: dict) -> dict:
    return {str(k): v if isinstance(v, str | int | float | bool | type(None)) else str(v)
            for k, v in details.items()}
