"""Fault knobs every simulator has, and their names on the command line.

``refuse`` (connections refused), ``slow=SECONDS`` (each reply delayed), ``silent`` (requests
read, nothing answered), ``garbage`` (replies replaced by junk, line endings kept so the client
sees a complete but unparseable reply), ``drop`` (connection closed half-way through a reply),
``bad-password`` (every login refused), ``reboot=SECONDS`` (sessions closed and connections
refused for that long). Protocol simulators add their own (``lamp-error``, ``unregistered``...)
through ``DeviceSimulator.set_fault``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Faults:
    refuse: bool = False
    delay: float = 0.0
    silent: bool = False
    garbage: bool = False
    drop_mid_reply: bool = False
    reject_password: bool = False
    lossy: float = 0.0                      # UDP: share of datagrams dropped (0..1)
    extra: dict[str, str] = field(default_factory=dict)   # protocol-specific knobs

    def clear(self) -> None:
        self.__init__()  # type: ignore[misc]


COMMON_KNOBS = ("refuse", "slow", "silent", "garbage", "drop", "bad-password", "reboot", "lossy")

_TERMINATORS = (b"\r\n", b"\n\r", b"\r", b"\n", b"\xff")
_JUNK = bytes(range(0x21, 0x7F)).replace(b"\\", b"")


def garble(data: bytes, rng: random.Random | None = None) -> bytes:
    """Junk of the same length that keeps the trailing terminator, so a framer completes it."""
    rng = rng or random.Random()
    tail = b""
    for term in _TERMINATORS:
        if data.endswith(term):
            tail = term
            break
    body_len = max(len(data) - len(tail), 3)
    body = bytes(rng.choice(_JUNK) for _ in range(body_len))
    # Binary protocols: make sure the junk does not start like a valid VISCA reply header.
    return b"#" + body[1:] + tail


def parse_knob(text: str) -> tuple[str, str]:
    """``"slow=2"`` -> ("slow", "2"); ``"silent"`` -> ("silent", "")."""
    name, _, value = text.partition("=")
    return name.strip(), value.strip()
