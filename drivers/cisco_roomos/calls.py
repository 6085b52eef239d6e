"""What the codec told us about calls: live calls from ``Status/Call`` feedback, finished calls
with their cause from ``CallDisconnect`` events (or ghost entries), and the last events.

The finished-call record is bounded (``FINISHED_CAP`` most recent), so a codec polled for months
does not grow the agent's memory; a caller waiting on a call asks within seconds of its end.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Mapping

from drivers.cisco_roomos.xapi import Leaf
from drivers.codec_common import call_state, resolution_for_rate
from drivers.roles import CallInfo

#: How many finished calls (id -> cause) are remembered.
FINISHED_CAP = 50
#: How many recent events are kept for evidence.
EVENTS_CAP = 50


class CallTracker:
    """The driver's feedback sink (``xapi.FeedbackSink``)."""

    def __init__(self, max_resolution: str = "1920x1080") -> None:
        self.max_resolution = max_resolution
        self.live: dict[str, dict[str, str]] = {}
        self.ended: OrderedDict[str, str] = OrderedDict()     # call id -> CauseType
        self.events: deque[tuple[str, dict[str, str]]] = deque(maxlen=EVENTS_CAP)

    # sink ------------------------------------------------------------------------------------
    def status(self, leaves: list[Leaf]) -> None:
        for path, value in leaves:
            if len(path) >= 3 and path[0] == "Call" and path[2] != "ghost":
                self.live.setdefault(path[1], {})[path[2]] = value

    def event(self, name: str, fields: dict[str, str]) -> None:
        self.events.append((name, fields))
        if name == "CallDisconnect" and fields.get("CallId"):
            self.finish(fields["CallId"], fields.get("CauseType", ""))

    def call_gone(self, call_id: str) -> None:
        self.live.pop(call_id, None)
        if call_id not in self.ended:
            self.finish(call_id, "")

    # bookkeeping -------------------------------------------------------------------------------
    def finish(self, call_id: str, cause: str) -> None:
        self.live.pop(call_id, None)
        if cause or call_id not in self.ended:
            self.ended[call_id] = cause
        self.ended.move_to_end(call_id)
        while len(self.ended) > FINISHED_CAP:
            self.ended.popitem(last=False)

    def seed(self, calls: list[tuple[str, dict[str, str]]]) -> None:
        self.live = {cid: dict(fields) for cid, fields in calls}

    def reset(self) -> None:
        self.live.clear()

    def info(self, cid: str, f: Mapping[str, str], resolution: str) -> CallInfo:
        rates = [int(f[k]) for k in ("ReceiveCallRate", "TransmitCallRate") if f.get(k, "").isdigit()]
        rate = max(rates) if rates else 0
        state = call_state(f.get("Status", ""))
        if not resolution and state == "connected" and rate:
            resolution = resolution_for_rate(rate, self.max_resolution)
        remote = f.get("CallbackNumber") or f.get("RemoteNumber", "")
        for prefix in ("sip:", "h323:"):
            if remote.lower().startswith(prefix):
                remote = remote[len(prefix):]
        return CallInfo(cid, f.get("Direction", "").lower(), remote, state, rate, resolution,
                        f.get("Protocol", "").lower())


def calls_from_leaves(leaves: list[Leaf]) -> list[tuple[str, dict[str, str]]]:
    calls: dict[str, dict[str, str]] = {}
    for path, value in leaves:
        if len(path) >= 3 and path[0] == "Call":
            calls.setdefault(path[1], {})[path[2]] = value
    return list(calls.items())


def resolutions_from(status: Mapping[str, str]) -> dict[str, str]:
    """Best incoming video resolution per call from ``xStatus MediaChannels`` (joined paths)."""
    best: dict[str, tuple[int, str]] = {}
    for key, value in status.items():
        words = key.split()
        if len(words) >= 3 and words[-1] == "ResolutionY" and words[0] == "MediaChannels":
            x = status.get(" ".join([*words[:-1], "ResolutionX"]), "")
            cid = words[2]
            if value.isdigit() and (cid not in best or int(value) > best[cid][0]):
                best[cid] = (int(value), f"{x}x{value}")
    return {cid: res for cid, (_, res) in best.items()}
