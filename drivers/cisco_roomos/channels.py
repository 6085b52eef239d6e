"""Framings of the xAPI as channels behind one ``exchange``: the driver sends an xAPI line and
gets ``(fields, leaves)`` back, whatever the wire says; feedback goes to a ``FeedbackSink``.

- ``TerminalChannel`` (TC, or ``output_mode: terminal``): a reply is the block (``*s``/``*c``/
  ``*r`` lines up to ``** end``) followed by ``OK``/``ERROR``; a block not followed by a status
  line is feedback, and ``*e`` blocks always are. ``OK`` before the ``*r`` block (TC examples)
  works too.
- ``JsonChannel`` (``json_channel.py``, CE8.1+) and ``HttpChannel`` (``http_channel.py``,
  getxml/putxml) share the interface.

``Command not recognized.`` and ``(status=Error)`` results become ``CommandRejected`` with the
device's reason; a line that fits neither grammar is a ``ProtocolError``.
"""

from __future__ import annotations

import re
import threading
import time
from abc import ABC, abstractmethod

from drivers.cisco_roomos.xapi import FeedbackSink, Leaf, Reply, unquote
from drivers.errors import CommandRejected, DeviceTimeout, Disconnected, ProtocolError
from drivers.transports.base import Transport

LINE_VALUE = re.compile(r"^\*([scer]) (.*?): ?(.*)$")
RESULT_HEAD = re.compile(r"^\*r (\w+) \(status=(\w+)\):?$")
GHOST = re.compile(r"^\*s Call (\d+) \(ghost=True\):?$")
FEEDBACK_PATHS = ("/Status/Call", "/Event/CallDisconnect")


class XapiChannel(ABC):
    """One framing of the xAPI over one open session."""

    #: "terminal" | "json" | "xml"
    mode: str = ""
    #: True when feedback is not pushed and must be polled (HTTP).
    polls: bool = False

    def __init__(self, sink: FeedbackSink, device: str) -> None:
        self.sink = sink
        self.device = device

    @property
    @abstractmethod
    def is_open(self) -> bool: ...

    @abstractmethod
    def exchange(self, command: str, deadline: float) -> Reply:
        """Send one xAPI request; return (result fields, status/config leaves)."""

    @abstractmethod
    def flush_feedback(self) -> None:
        """Hand feedback that already arrived to the sink (complete blocks/objects only)."""

    @abstractmethod
    def wait_feedback(self, deadline: float) -> bool:
        """Wait until feedback may have arrived (read it, or poll); False at the deadline."""

    @abstractmethod
    def wait_dropped(self, deadline: float) -> bool:
        """Wait for the session to drop (a restart); False if it is still up at ``deadline``."""

    def register_feedback(self, deadline: float) -> None:
        """Subscribe to what the call tracker follows (per session: redone on every connect)."""
        for path in FEEDBACK_PATHS:
            self.exchange(f"xFeedback register {path}", deadline)

    def close(self) -> None:  # noqa: B027 - stream channels do not own their transport
        """Release what the channel holds (the HTTP session); the driver closes the stream."""

    def check_command(self, command: str) -> None:
        if "\n" in command or "\r" in command:
            raise CommandRejected("value", "line break in a command", device=self.device)


class StreamChannel(XapiChannel):
    """A framing over a byte stream (SSH, Telnet, TCP, RS-232): lines and frames are taken off
    the transport's one receive buffer."""

    def __init__(self, link: Transport, sink: FeedbackSink, device: str) -> None:
        super().__init__(sink, device)
        self.link = link

    @property
    def is_open(self) -> bool:
        return self.link.is_open

    def wait_feedback(self, deadline: float) -> bool:
        if time.monotonic() >= deadline:
            return False
        got = self.link.fill(deadline)
        self.flush_feedback()
        return got

    def wait_dropped(self, deadline: float) -> bool:
        if self.link.scheme == "serial":
            return self._serial_went_quiet(deadline)
        try:
            while time.monotonic() < deadline:
                self.link.fill(deadline)
                self.link.pending.clear()
        except Disconnected:
            return True
        return False

    def _serial_went_quiet(self, deadline: float) -> bool:
        """An RS-232 line never drops: the unit is restarting once it stops answering."""
        pause = threading.Event()   # waiting between probes is not waiting for a reply
        while time.monotonic() < deadline:
            try:
                self.exchange("xStatus SystemUnit ProductId", min(deadline, time.monotonic() + 1.0))
            except (DeviceTimeout, Disconnected):
                return True
            pause.wait(max(min(0.2, deadline - time.monotonic()), 0.0))
        return False


class TerminalChannel(StreamChannel):
    mode = "terminal"

    def exchange(self, command: str, deadline: float) -> Reply:
        self.check_command(command)
        self.flush_feedback()
        self.link.write(command.encode() + b"\n")
        return self._reply(command, deadline)

    def flush_feedback(self) -> None:
        # No request is outstanding: every complete block here is feedback.
        buf = self.link.pending
        while re.search(rb"\*\* end\r?\n", buf):
            block: list[str] = []
            while (line := self.link.take_line()) is not None:
                line = line.strip()
                if line == "** end":
                    break
                if line and line != "OK":
                    block.append(line)
            self.feedback(block)

    def _reply(self, command: str, deadline: float) -> Reply:
        blocks: list[list[str]] = []
        current: list[str] = []
        status: str | None = None
        while True:
            text = self.link.next_line(deadline, f"reply to {command!r}").strip()
            if not text or text == command:
                continue
            if text == "Command not recognized.":
                raise CommandRejected("not recognized", f"{command.split()[0]}: Command not recognized.",
                                      device=self.device, command=command)
            if text == "** end":
                block, current = current, []
                if status is not None:
                    return self._result(command, status, block)
                blocks.append(block)
                continue
            if text in ("OK", "ERROR"):
                if blocks and not current:
                    reply = blocks.pop()
                    for fb in blocks:
                        self.feedback(fb)
                    return self._result(command, text, reply)
                for fb in blocks:
                    self.feedback(fb)
                blocks = []
                status = text
                if not command.lower().startswith("xcommand"):
                    return self._result(command, text, [])
                continue   # TC: OK first, the *r block follows
            if text.startswith("*") or re.match(r"^\w+: ", text):
                current.append(text)
                continue
            raise ProtocolError(f"unexpected reply line {text[:80]!r}", device=self.device, data=text)

    def _result(self, command: str, status: str, block: list[str]) -> Reply:
        fields: dict[str, str] = {}
        leaves: list[Leaf] = []
        result_status = "OK" if status == "OK" else "Error"
        feedback: list[str] = []
        for line in block:
            head = RESULT_HEAD.match(line)
            if head:
                result_status = head.group(2)
                fields["_result"] = head.group(1)
                continue
            if line.startswith("*e"):
                feedback.append(line)
                continue
            m = LINE_VALUE.match(line)
            if m:
                kind, path, value = m.groups()
                words = path.split()
                if kind == "r":
                    fields[words[-1]] = unquote(value)
                elif kind == "c":
                    leaves.append((tuple(w for w in words if w.lower() != "xconfiguration"), unquote(value)))
                else:
                    leaves.append((tuple(words), unquote(value)))
                continue
            key, sep, value = line.strip().partition(":")
            if sep:
                fields[key.strip()] = unquote(value.strip())
                continue
            raise ProtocolError(f"unparseable reply line {line[:80]!r}", device=self.device, data=line)
        if feedback:
            self.feedback(feedback)
        if result_status.lower() != "ok" or status == "ERROR":
            reason = fields.get("Reason") or fields.get("XPath") or "error"
            raise CommandRejected(result_status, reason, device=self.device, command=command)
        return fields, leaves

    def feedback(self, block: list[str]) -> None:
        event_fields: dict[str, str] = {}
        event_name = ""
        leaves: list[Leaf] = []
        for line in block:
            ghost = GHOST.match(line)
            if ghost:
                self.sink.call_gone(ghost.group(1))
                continue
            m = LINE_VALUE.match(line)
            if not m:
                raise ProtocolError(f"unparseable feedback line {line[:80]!r}", device=self.device, data=line)
            kind, path, value = m.groups()
            words = path.split()
            if kind == "e":
                event_name = words[0]
                event_fields[words[-1]] = unquote(value)
            elif kind == "s":
                leaves.append((tuple(words), unquote(value)))
        if event_name:
            self.sink.event(event_name, event_fields)
        self.sink.status(leaves)
