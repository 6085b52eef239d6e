"""The call fabric: an in-process SIP/H.323 directory that lets simulated codecs call each other.

Simulated codecs register their SIP URI and H.323 alias here while they are registered (with
their proxy / gatekeeper). Dialing a registered address rings the far codec; if it auto-answers
(or answers later) both sides show the call connected at the same rate: the lowest of the rate
the caller asked for and the two codecs' maximum call rates. A ``Bridge`` (MCU) is a fabric
party that auto-answers up to ``capacity`` participants. Hanging up on one side ends the call
on the other with a remote-disconnect cause. Dialing an unknown address fails with
``Cause.UNKNOWN_REMOTE`` (each simulator renders that the way its real codec reports it).

Resolution from call rate (what both ends of a video call negotiate; capped by the model's
``max_resolution``). Rough industry figures for H.264 at 30 fps, not a vendor table:

    rate (kbps)   resolution
    >= 1472       1920x1080  (1080p30)
    >=  768       1280x720   (720p30)   <- HD starts here (720 lines)
    >=  384       704x576    (4CIF / 576p, SD)
    >=  128       352x288    (CIF)
    <   128       176x144    (QCIF)

Standard-definition units (Polycom HDX without the HD option key, 2009-era rooms) cap at
``SD_MAX_RESOLUTION`` (4CIF, PAL): they call at any rate their line allows, but the picture
stays 704x576, so a report's HD share counts their calls as SD whatever the rate.

Threading: each party keeps its own state under its own lock; the fabric calls parties only
after releasing its lock, and parties never hold their lock while calling the fabric, so two
codecs hanging up on each other at the same time cannot deadlock.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

#: (minimum kbps, resolution) from best to worst; see the module docstring.
RATE_RESOLUTIONS: tuple[tuple[int, str], ...] = (
    (1472, "1920x1080"),
    (768, "1280x720"),
    (384, "704x576"),
    (128, "352x288"),
    (0, "176x144"),
)

#: The cap of a standard-definition codec (Polycom HDX without the HD option key).
SD_MAX_RESOLUTION = "704x576"


def resolution_for(rate_kbps: int, max_resolution: str = "1920x1080") -> str:
    """The video resolution a call at ``rate_kbps`` negotiates on a model capped at
    ``max_resolution``."""
    cap_lines = _lines(max_resolution)
    for minimum, resolution in RATE_RESOLUTIONS:
        if rate_kbps >= minimum and _lines(resolution) <= cap_lines:
            return resolution
    return RATE_RESOLUTIONS[-1][1]


def _lines(resolution: str) -> int:
    try:
        return int(resolution.lower().split("x")[1])
    except (IndexError, ValueError):
        return 1080


class Cause(StrEnum):
    """Why a call ended, neutral of vendor; simulators render these as their codec does."""

    LOCAL = "local"                 # this side hung up
    REMOTE = "remote"               # the other side hung up
    BUSY = "busy"                   # far end has no free call slot
    REJECTED = "rejected"           # far end declined
    NO_ANSWER = "no_answer"
    UNKNOWN_REMOTE = "unknown_remote"   # nobody registered under that address
    NETWORK = "network"             # caller not registered / no route


class DialFailed(Exception):
    def __init__(self, cause: Cause, text: str = "") -> None:
        super().__init__(text or cause.value)
        self.cause = cause
        self.text = text or cause.value


class Party(Protocol):
    """What the fabric needs from a codec (or bridge)."""

    fabric_name: str                 # display name shown at the far end
    max_rate: int                    # kbps
    max_resolution: str
    auto_answer: bool                # the fabric connects the call as soon as it rings

    def fabric_incoming(self, link: CallLink, remote_uri: str, protocol: str) -> int | None:
        """A call arrives. Return this side's call id, or None when there is no free slot.
        Without auto-answer the call rings until the party calls ``fabric.answer``."""
        ...

    def fabric_connected(self, link: CallLink) -> None: ...

    def fabric_ended(self, link: CallLink, cause: Cause) -> None: ...


@dataclass(eq=False)
class CallLink:
    """One call between two parties, as the fabric sees it."""

    link_id: int
    caller: Party
    callee: Party
    caller_call_id: int
    callee_call_id: int = 0
    caller_uri: str = ""            # how the callee sees the caller
    callee_uri: str = ""            # what the caller dialed
    protocol: str = "sip"
    rate: int = 0
    resolution: str = ""
    state: str = "ringing"          # ringing | connected | ended
    ended_by: Party | None = field(default=None, repr=False)

    def other(self, party: Party) -> Party:
        return self.callee if party is self.caller else self.caller

    def call_id_of(self, party: Party) -> int:
        return self.caller_call_id if party is self.caller else self.callee_call_id


class CallFabric:
    """Shared directory of registered addresses and the calls between them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._directory: dict[str, Party] = {}
        self._links: dict[int, CallLink] = {}
        self._ids = itertools.count(1)

    # directory ------------------------------------------------------------------------------
    @staticmethod
    def normalize(address: str) -> str:
        """``sip:Room@X`` and ``room@x`` are the same address; H.323 aliases compare case-blind."""
        text = address.strip().strip('"').lower()
        for prefix in ("sip:", "h323:", "sips:"):
            if text.startswith(prefix):
                text = text[len(prefix):]
        return text

    def register(self, address: str, party: Party) -> None:
        if address:
            with self._lock:
                self._directory[self.normalize(address)] = party

    def unregister(self, address: str, party: Party | None = None) -> None:
        key = self.normalize(address)
        with self._lock:
            if key in self._directory and (party is None or self._directory[key] is party):
                del self._directory[key]

    def unregister_party(self, party: Party) -> None:
        with self._lock:
            for key in [k for k, p in self._directory.items() if p is party]:
                del self._directory[key]

    def lookup(self, address: str) -> Party | None:
        with self._lock:
            return self._directory.get(self.normalize(address))

    def registered(self) -> dict[str, Party]:
        with self._lock:
            return dict(self._directory)

    # calls ----------------------------------------------------------------------------------
    def dial(self, caller: Party, caller_uri: str, caller_call_id: int, address: str,
             protocol: str = "sip", rate: int = 1920) -> CallLink:
        """Ring ``address``; raises ``DialFailed`` when nobody is there or it is busy.
        The returned link is connected already if the far end auto-answered."""
        callee = self.lookup(address)
        if callee is None:
            raise DialFailed(Cause.UNKNOWN_REMOTE, f"{address} is not registered")
        if callee is caller:
            raise DialFailed(Cause.BUSY, "cannot call yourself")
        agreed = min(rate, caller.max_rate, callee.max_rate)
        resolution = resolution_for(agreed, _lower(caller.max_resolution, callee.max_resolution))
        link = CallLink(next(self._ids), caller, callee, caller_call_id, caller_uri=caller_uri,
                        callee_uri=address, protocol=protocol, rate=agreed, resolution=resolution)
        with self._lock:
            self._links[link.link_id] = link
        callee_id = callee.fabric_incoming(link, caller_uri, protocol)
        if callee_id is None:
            with self._lock:
                self._links.pop(link.link_id, None)
            raise DialFailed(Cause.BUSY, f"{address} is busy")
        link.callee_call_id = callee_id
        if callee.auto_answer:
            self.answer(link)
        return link

    def answer(self, link: CallLink) -> None:
        """The callee accepted: both sides connect."""
        with self._lock:
            if link.state != "ringing":
                return
            link.state = "connected"
        link.caller.fabric_connected(link)
        link.callee.fabric_connected(link)

    def hangup(self, link: CallLink, by: Party, cause: Cause = Cause.REMOTE) -> None:
        """``by`` ended the call; the other side hears ``cause`` (remote disconnect by default,
        ``REJECTED`` when a ringing call is declined)."""
        with self._lock:
            if link.state == "ended":
                return
            link.state = "ended"
            link.ended_by = by
            self._links.pop(link.link_id, None)
        link.other(by).fabric_ended(link, cause)

    def drop_party(self, party: Party) -> None:
        """A party vanished (reboot, power off): its calls end on the other side."""
        self.unregister_party(party)
        with self._lock:
            mine = [lk for lk in self._links.values() if party in (lk.caller, lk.callee)]
        for link in mine:
            self.hangup(link, party, Cause.REMOTE)

    def links(self) -> list[CallLink]:
        with self._lock:
            return list(self._links.values())


def _lower(a: str, b: str) -> str:
    return a if _lines(a) <= _lines(b) else b


# -- bridge ---------------------------------------------------------------------------------------
@dataclass(eq=False)
class Bridge:
    """An MCU: auto-answers up to ``capacity`` participants on one URI."""

    fabric: CallFabric
    uri: str
    capacity: int = 40
    max_rate: int = 6000
    max_resolution: str = "1920x1080"
    fabric_name: str = "Bridge"
    auto_answer: bool = True
    participants: dict[int, CallLink] = field(default_factory=dict)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.fabric.register(self.uri, self)

    def fabric_incoming(self, link: CallLink, remote_uri: str, protocol: str) -> int | None:
        with self._lock:
            if len(self.participants) >= self.capacity:
                return None
            call_id = next(self._ids)
            self.participants[call_id] = link
        return call_id

    def fabric_connected(self, link: CallLink) -> None:
        """Nothing to do: the participant list already holds the link."""

    def fabric_ended(self, link: CallLink, cause: Cause) -> None:
        with self._lock:
            self.participants.pop(link.callee_call_id, None)

    def connected_count(self) -> int:
        with self._lock:
            return sum(1 for lk in self.participants.values() if lk.state == "connected")

    def close(self) -> None:
        """Hang up on everyone and leave the directory."""
        with self._lock:
            links = list(self.participants.values())
            self.participants.clear()
        for link in links:
            self.fabric.hangup(link, self, Cause.REMOTE)
        self.fabric.unregister(self.uri, self)


_default: CallFabric | None = None
_default_lock = threading.Lock()


def default_fabric() -> CallFabric:
    """The process-wide fabric every simulator joins unless given another one."""
    global _default
    with _default_lock:
        if _default is None:
            _default = CallFabric()
        return _default
