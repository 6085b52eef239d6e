"""VISCA framing and the request/reply engine, over RS-232 or VISCA over IP (UDP).

A ``ViscaLink`` sends one command or inquiry and waits for its answer:

- a command gets an ACK ``z0 4y FF`` (y = socket 1 or 2), later its completion ``z0 5y FF``;
  an error ``z0 6y ee FF`` ends it (``CommandRejected`` with code ``"6y ee"``);
- an inquiry gets ``z0 50 <data> FF`` (no ACK);
- a socket stays in flight from its ACK to its completion; with two in flight the camera would
  answer ``60 03`` (buffer full), so the link waits for one to finish first;
- unsolicited packets (``z0 38 FF`` network change from any camera on the chain, late
  completions, late broadcast echoes, over IP replies to an earlier sequence number) are never
  taken as the answer to the request being waited for;
- anything else that is complete but not a reply from the addressed camera (a packet ending in
  FF with another header, a datagram with a bad header) is a ``ProtocolError`` carrying the
  bytes, at once: junk is never skipped until the deadline. The next request then starts from
  an empty line (what is left of the garbled answer is drained).

Serial: Address Set ``88 30 01 FF`` and IF_Clear broadcast on open. VISCA over IP: control
RESET on open, a sequence number per message, replies matched by sequence number, a lost
datagram resent with the same sequence number, a sequence error answered by RESET and resend.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from drivers.errors import CommandRejected, DeviceTimeout, ProtocolError
from drivers.transcript import Transcript
from drivers.transports import SerialTransport, UdpTransport
from drivers.transports.base import Transport

VISCA_ERRORS = {
    0x01: "message length error",
    0x02: "syntax error",
    0x03: "command buffer full",
    0x04: "command canceled",
    0x05: "no socket (to be canceled)",
    0x41: "command not executable",
}

T_COMMAND, T_INQUIRY, T_REPLY = b"\x01\x00", b"\x01\x10", b"\x01\x11"
T_CONTROL, T_CONTROL_REPLY = b"\x02\x00", b"\x02\x01"
CONTROL_ERRORS = {0x01: "abnormality in sequence number", 0x02: "abnormality in message"}


@dataclass(frozen=True)
class Reply:
    kind: str          # "ack" | "completion" | "answer" | "error" | "network-change" | "other"
    socket: int
    data: bytes        # answer data or the error code byte
    raw: bytes


def classify(packet: bytes, z: int) -> Reply | None:
    """One ``z0 ... FF`` packet from the camera; None if it is from another address."""
    if len(packet) < 3 or packet[0] != z or packet[-1] != 0xFF:
        return None
    kind_nibble, sock = packet[1] >> 4, packet[1] & 0x0F
    if packet[1] == 0x38 and len(packet) == 3:
        return Reply("network-change", 0, b"", packet)
    if kind_nibble == 4 and len(packet) == 3:
        return Reply("ack", sock, b"", packet)
    if kind_nibble == 5 and sock == 0:
        return Reply("answer", 0, packet[2:-1], packet)
    if kind_nibble == 5 and len(packet) == 3:
        return Reply("completion", sock, b"", packet)
    if kind_nibble == 6 and len(packet) == 4:
        return Reply("error", sock, packet[2:3], packet)
    return Reply("other", sock, packet[2:-1], packet)


def split_packets(payload: bytes) -> list[bytes]:
    """``90 41 FF 90 51 FF`` -> [``90 41 FF``, ``90 51 FF``]; a payload not ending FF -> []."""
    if not payload.endswith(b"\xff"):
        return []
    parts = payload[:-1].split(b"\xff")
    return [part + b"\xff" for part in parts]


def is_device_header(head: int) -> bool:
    """A header a camera sends: ``z0`` (z = address + 8, cameras 1-7) or broadcast ``88``."""
    return head == 0x88 or (0x90 <= head <= 0xF0 and head & 0x0F == 0)


def is_network_change(packet: bytes) -> bool:
    """``z0 38 FF`` from any camera on the chain: it powered up or the cabling changed."""
    return len(packet) == 3 and packet[1] == 0x38 and packet[2] == 0xFF and is_device_header(packet[0]) \
        and packet[0] != 0x88


def rejection(reply: Reply, device: str, command: bytes) -> CommandRejected:
    code = reply.data[0]
    return CommandRejected(f"{0x60 | reply.socket:02X} {code:02X}", VISCA_ERRORS.get(code, "unknown error"),
                           device=device, command=command.hex(" "))


class ViscaLink(ABC):
    """Request/reply engine common to serial and IP."""

    def __init__(self, transport: Transport, *, name: str, ack_timeout: float) -> None:
        self.transport = transport
        self.name = name
        self.ack_timeout = ack_timeout
        self.in_flight: set[int] = set()
        self.address = 1
        self.network_changes = 0
        self._garbled = False

    @property
    def z(self) -> int:
        return (self.address + 8) << 4

    @property
    def is_open(self) -> bool:
        return self.transport.is_open

    @abstractmethod
    def open(self) -> None: ...

    def close(self) -> None:
        self.in_flight.clear()
        self.transport.close()

    @abstractmethod
    def _send(self, packet: bytes, inquiry: bool) -> None:
        """Write one VISCA packet (the IP link wraps it in a header with a new sequence number)."""

    @abstractmethod
    def _next(self, deadline: float, what: str) -> Reply:
        """The next reply addressed to us (IP: for the current sequence number), by ``deadline``."""

    @contextmanager
    def _exchange(self) -> Iterator[None]:
        """One request: after a garbled reply the rest of that answer may still be on its way, so
        the next request starts from an empty line."""
        if self._garbled:
            dropped = self.transport.drain()
            self._garbled = False
            if dropped:
                self.transport.transcript.note(f"dropped {len(dropped)} bytes left from a garbled reply")
        try:
            yield
        except ProtocolError:
            self._garbled = True
            raise

    def _bookkeep(self, reply: Reply) -> bool:
        """Handle what is not an answer to the current request; True if it was consumed."""
        if reply.kind == "network-change":
            self.network_changes += 1
            self.transport.transcript.note("camera reported a network change (power-up or re-cabling)")
            return True
        return False

    def _wait_for_socket(self, deadline: float) -> None:
        while len(self.in_flight) >= 2:
            reply = self._next(deadline, "a free command socket")
            if reply.kind in ("completion", "error"):
                self.in_flight.discard(reply.socket)

    def command(self, body: bytes, completion_timeout: float) -> None:
        """``body`` is everything between the address byte and FF, e.g. ``01 04 3F 02 01``."""
        with self._exchange():
            self._wait_for_socket(time.monotonic() + completion_timeout)
            packet = bytes((0x80 | self.address,)) + body + b"\xff"
            self._send(packet, inquiry=False)
            deadline = time.monotonic() + self.ack_timeout
            while True:  # ACK or error
                reply = self._next(deadline, "ACK")
                if self._bookkeep(reply):
                    continue
                if reply.kind == "ack":
                    sock = reply.socket
                    self.in_flight.add(sock)
                    break
                if reply.kind == "error" and (reply.socket == 0 or reply.socket not in self.in_flight):
                    raise rejection(reply, self.name, packet)
                if reply.kind in ("completion", "error"):
                    self.in_flight.discard(reply.socket)  # an earlier command finished meanwhile
                    continue
                raise ProtocolError(f"unexpected reply {reply.raw.hex(' ')} to {packet.hex(' ')}",
                                    device=self.name, data=reply.raw)
            deadline = time.monotonic() + completion_timeout
            while True:  # completion of our socket
                reply = self._next(deadline, f"completion on socket {sock}")
                if self._bookkeep(reply) or reply.kind == "ack":
                    continue  # a repeated ACK (IP resend) says nothing new
                if reply.kind in ("completion", "error"):
                    self.in_flight.discard(reply.socket)
                    if reply.socket != sock:
                        continue
                    if reply.kind == "error":
                        raise rejection(reply, self.name, packet)
                    return
                raise ProtocolError(f"unexpected reply {reply.raw.hex(' ')} to {packet.hex(' ')}",
                                    device=self.name, data=reply.raw)

    def inquiry(self, body: bytes) -> bytes:
        with self._exchange():
            packet = bytes((0x80 | self.address,)) + body + b"\xff"
            self._send(packet, inquiry=True)
            deadline = time.monotonic() + self.ack_timeout
            while True:
                reply = self._next(deadline, "inquiry answer")
                if self._bookkeep(reply):
                    continue
                if reply.kind == "answer":
                    return reply.data
                late = reply.kind == "error" and reply.socket in self.in_flight
                if reply.kind in ("completion", "ack") or late:
                    if reply.kind != "ack":
                        self.in_flight.discard(reply.socket)
                    continue
                if reply.kind == "error":
                    raise rejection(reply, self.name, packet)
                raise ProtocolError(f"unexpected reply {reply.raw.hex(' ')} to {packet.hex(' ')}",
                                    device=self.name, data=reply.raw)

    def cancel(self, socket_no: int) -> bool:
        """Cancel the command on a socket: True if one was canceled (``6y 04``), False if the
        socket was idle (``6y 05``)."""
        with self._exchange():
            packet = bytes((0x80 | self.address, 0x20 | socket_no, 0xFF))
            self._send(packet, inquiry=False)
            deadline = time.monotonic() + self.ack_timeout
            while True:
                reply = self._next(deadline, "cancel answer")
                if self._bookkeep(reply) or reply.kind == "ack":
                    continue
                if reply.kind == "error" and reply.socket == socket_no and reply.data in (b"\x04", b"\x05"):
                    self.in_flight.discard(socket_no)
                    return reply.data == b"\x04"
                if reply.kind in ("completion", "error") and reply.socket != socket_no:
                    self.in_flight.discard(reply.socket)
                    continue
                if reply.kind == "error":
                    raise rejection(reply, self.name, packet)
                self.in_flight.discard(reply.socket)  # it completed before the cancel arrived
                return False

    def if_clear(self) -> None:
        """Empty the camera's command buffers (cancels what is executing).

        IF_Clear is a command (category ``01``: payload type 0x0100 over IP, [VISCA-IP-OEM]) that
        is answered like an inquiry, ``z0 50 FF`` without ACK. Some cameras answer it with an
        error (``60 02``) or not at all: the buffers are what we wanted cleared, so that is
        noted once in the transcript and control goes on."""
        with self._exchange():
            packet = bytes((0x80 | self.address,)) + b"\x01\x00\x01\xff"
            self._send(packet, inquiry=False)
            deadline = time.monotonic() + self.ack_timeout
            try:
                while True:
                    reply = self._next(deadline, "IF_Clear answer")
                    if self._bookkeep(reply):
                        continue
                    if reply.kind in ("answer", "completion"):
                        break
                    if reply.kind == "ack":
                        continue
                    if reply.kind == "error":
                        self.transport.transcript.note(
                            f"IF_Clear answered {reply.raw.hex(' ')}: going on without it")
                        break
                    raise ProtocolError(f"unexpected reply {reply.raw.hex(' ')} to IF_Clear",
                                        device=self.name, data=reply.raw)
            except DeviceTimeout:
                self.transport.transcript.note("IF_Clear not answered: going on without it")
        self.in_flight.clear()


class SerialViscaLink(ViscaLink):
    def __init__(self, url: str, *, baudrate: int, name: str, transcript: Transcript, ack_timeout: float,
                 connect_timeout: float) -> None:
        transport = SerialTransport(url, baudrate=baudrate, name=name, transcript=transcript,
                                    connect_timeout=connect_timeout)
        super().__init__(transport, name=name, ack_timeout=ack_timeout)

    def open(self) -> None:
        self.transport.open()
        self.transport.drain()
        self.address_set()

    def address_set(self) -> None:
        """Address Set + IF_Clear broadcast: what a controller sends before taking control."""
        self.transport.write(b"\x88\x30\x01\xff")
        deadline = time.monotonic() + self.ack_timeout
        while True:
            packet = self._read_admin_packet(deadline, "Address Set reply")
            if len(packet) == 4 and packet[:2] == b"\x88\x30" and packet[2] >= 2:
                # The reply carries the next free address: we talk to the first camera.
                self.address = 1
                break
        self.transport.write(b"\x88\x01\x00\x01\xff")
        while self._read_admin_packet(deadline, "IF_Clear echo") != b"\x88\x01\x00\x01\xff":
            pass
        self.in_flight.clear()

    def _read_admin_packet(self, deadline: float, what: str) -> bytes:
        """The next packet while addressing the chain. Skipped: network changes, broadcast echoes
        and late replies from before we took control; anything else is garbage."""
        packet = self._read_packet(deadline, what)
        if not is_device_header(packet[0]):
            raise ProtocolError(f"garbled packet {packet.hex(' ')} while waiting for the {what}",
                                device=self.name, data=packet)
        if is_network_change(packet):
            self.transport.transcript.note("camera reported a network change while being addressed")
        return packet

    def _read_packet(self, deadline: float, what: str) -> bytes:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise DeviceTimeout(f"no {what} from the camera within the deadline", device=self.name)
        return self.transport.read_until(b"\xff", remaining)

    def _send(self, packet: bytes, inquiry: bool) -> None:
        self.transport.write(packet)

    def _next(self, deadline: float, what: str) -> Reply:
        while True:
            packet = self._read_packet(deadline, what)
            reply = classify(packet, self.z)
            if reply is not None:
                return reply
            if is_network_change(packet):
                # Another camera on the chain restarted: addresses may have moved, so re-address.
                self.network_changes += 1
                self.transport.transcript.note(f"network change from {packet[0]:02X}: camera chain changed")
                continue
            if packet[0] == 0x88:
                self.transport.transcript.note(f"late broadcast echo {packet.hex(' ')} skipped")
                continue
            # Neither a reply from the camera we address nor chain housekeeping: line noise.
            raise ProtocolError(f"packet {packet.hex(' ')} is not a reply from camera {self.address}",
                                device=self.name, data=packet)


class IpViscaLink(ViscaLink):
    """VISCA over IP: header ``type(2) length(2) sequence(4)``; address locked to 1."""

    def __init__(self, host: str, port: int, *, name: str, transcript: Transcript, ack_timeout: float,
                 retry_interval: float, retries: int) -> None:
        transport = UdpTransport(host, port, name=name, transcript=transcript)
        super().__init__(transport, name=name, ack_timeout=ack_timeout)
        self.udp: UdpTransport = transport
        self.retry_interval = retry_interval
        self.retries = retries
        self.sequence = 0
        self._message = b""       # last message sent, resent as is when a datagram is lost
        self._resends = 0
        self._sequence_resets = 0
        self.datagrams_resent = 0
        self._queued: list[Reply] = []   # further packets of a datagram that carried several

    def open(self) -> None:
        self.udp.open()
        self.reset_sequence()

    def reset_sequence(self) -> None:
        """Control RESET with sequence 0; the next message is sent with sequence 1."""
        message = T_CONTROL + b"\x00\x01" + b"\x00\x00\x00\x00" + b"\x01"
        deadline = time.monotonic() + self.ack_timeout
        self.udp.write(message)
        tries = 1
        while True:
            try:
                packet = self.udp.read_packet(min(self.retry_interval, max(0.0, deadline - time.monotonic())))
            except DeviceTimeout:
                if time.monotonic() >= deadline or tries > self.retries:
                    raise DeviceTimeout("camera did not answer the VISCA-over-IP RESET", device=self.name) \
                        from None
                self.udp.write(message)  # lost on the way (UDP): ask again
                tries += 1
                continue
            problem = self._header_error(packet)
            if problem is not None:
                raise ProtocolError(f"{problem} waiting for the RESET reply: {packet.hex(' ')}",
                                    device=self.name, data=packet)
            if packet[:2] == T_CONTROL_REPLY and packet[8:] == b"\x01":
                break
            # A late reply to a message of the session before (or a late RESET reply): skipped.
            self.udp.transcript.note(f"skipped datagram {packet.hex(' ')} while resetting")
        self.sequence = 0
        self._queued.clear()
        self.in_flight.clear()

    def _send(self, packet: bytes, inquiry: bool) -> None:
        for stale in self._queued:   # left from the message before: only its sockets matter
            if stale.kind in ("completion", "error"):
                self.in_flight.discard(stale.socket)
        self._queued.clear()
        self.sequence = (self.sequence + 1) & 0xFFFFFFFF
        ptype = T_INQUIRY if inquiry else T_COMMAND
        self._message = ptype + len(packet).to_bytes(2, "big") + self.sequence.to_bytes(4, "big") + packet
        self._resends = 0
        self._sequence_resets = 0
        self.udp.write(self._message)

    def _next(self, deadline: float, what: str) -> Reply:
        while True:
            if self._queued:
                return self._queued.pop(0)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DeviceTimeout(f"no {what} from the camera within the deadline", device=self.name)
            try:
                datagram = self.udp.read_packet(min(self.retry_interval, remaining))
            except DeviceTimeout:
                self._resend(what)
                continue
            reply = self._parse(datagram)
            if reply is not None:
                return reply

    def _resend(self, what: str) -> None:
        if not self._message:
            return
        if self._resends >= self.retries and what in ("ACK", "inquiry answer"):
            raise DeviceTimeout(f"no {what} after {self.retries} resends", device=self.name)
        self._resends += 1
        self.datagrams_resent += 1
        self.udp.transcript.note(f"resending sequence {self.sequence} (no {what})")
        self.udp.write(self._message)

    @staticmethod
    def _header_error(datagram: bytes) -> str | None:
        """Why ``datagram`` is not a camera's VISCA-over-IP message, or None if its header is sound."""
        if len(datagram) < 9:
            return "short VISCA-over-IP datagram"
        if datagram[:2] not in (T_REPLY, T_CONTROL_REPLY):
            return f"unexpected payload type {datagram[:2].hex()}"
        if int.from_bytes(datagram[2:4], "big") != len(datagram) - 8:
            return "payload length in the header does not match the datagram"
        return None

    def _parse(self, datagram: bytes) -> Reply | None:
        problem = self._header_error(datagram)
        if problem is not None:
            raise ProtocolError(f"{problem}: {datagram.hex(' ')}", device=self.name, data=datagram)
        ptype, seq, payload = datagram[:2], int.from_bytes(datagram[4:8], "big"), datagram[8:]
        if ptype == T_CONTROL_REPLY:
            if payload[:1] == b"\x0f":
                return self._control_error(payload, datagram)
            return None  # a late RESET reply
        packets = split_packets(payload)
        replies = [classify(p, 0x90) for p in packets]
        if not packets or any(r is None for r in replies):
            raise ProtocolError(f"VISCA reply {payload.hex(' ')} not from camera 1", device=self.name,
                                data=datagram)
        if len(packets) > 1:
            # Some cameras put an ACK and the completion of a quick command in one datagram:
            # the meaning is clear, so each packet is taken in turn.
            self.udp.transcript.note(f"{len(packets)} VISCA packets in one datagram")
        found = [r for r in replies if r is not None]
        if seq != self.sequence:
            # A late reply to an earlier message: only its socket bookkeeping matters.
            for reply in found:
                if reply.kind in ("completion", "error"):
                    self.in_flight.discard(reply.socket)
            return None
        self._queued.extend(found[1:])
        return found[0]

    def _control_error(self, payload: bytes, datagram: bytes) -> Reply | None:
        code = payload[1] if len(payload) > 1 else 0
        if code == 0x01 and self._sequence_resets == 0:
            # The camera lost track of our numbering: RESET and send the message again.
            self.udp.transcript.note("sequence number refused: RESET and resend")
            packet = self._message[8:]
            inquiry = self._message[:2] == T_INQUIRY
            self.reset_sequence()
            self._send(packet, inquiry)
            self._sequence_resets = 1
            return None
        raise CommandRejected(f"0F {code:02X}", CONTROL_ERRORS.get(code, "control error"), device=self.name)
