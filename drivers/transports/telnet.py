"""A small Telnet client of our own (RFC 854): Python 3.13 has no ``telnetlib``.

We want a plain byte stream, so every option the peer offers is refused: ``DO x`` gets
``WONT x`` and ``WILL x`` gets ``DONT x``. IAC sequences may be split across reads (the parser
keeps its state between chunks), a doubled ``IAC IAC`` in data is one 0xFF byte and the NVT's
``CR NUL`` is a bare CR. Outgoing 0xFF bytes are doubled.
"""

from __future__ import annotations

from drivers.transports.tcp import TcpTransport

IAC, DONT, DO, WONT, WILL, SB, SE = 255, 254, 253, 252, 251, 250, 240
CR, NUL = 0x0D, 0x00
_NEGOTIATION = {DO: WONT, WILL: DONT}


class TelnetParser:
    """Incremental IAC filter. ``feed`` returns (data bytes, bytes to answer with)."""

    def __init__(self) -> None:
        self._state = "data"
        self._verb = 0
        self._after_cr = False

    def feed(self, chunk: bytes) -> tuple[bytes, bytes]:
        data = bytearray()
        reply = bytearray()
        for b in chunk:
            state = self._state
            if state == "data":
                after_cr, self._after_cr = self._after_cr, False
                if b == IAC:
                    self._state = "iac"
                elif b == NUL and after_cr:
                    pass  # NVT "CR NUL" is a bare carriage return
                else:
                    data.append(b)
                    self._after_cr = b == CR
            elif state == "iac":
                if b == IAC:
                    data.append(IAC)
                    self._state = "data"
                elif b in (DO, DONT, WILL, WONT):
                    self._verb = b
                    self._state = "option"
                elif b == SB:
                    self._state = "sb"
                else:  # NOP, GA, AYT...: two-byte commands carry no data for us
                    self._state = "data"
            elif state == "option":
                answer = _NEGOTIATION.get(self._verb)
                if answer is not None:
                    reply += bytes((IAC, answer, b))
                self._state = "data"
            elif state == "sb":
                if b == IAC:
                    self._state = "sb_iac"
            elif state == "sb_iac":
                self._state = "data" if b == SE else "sb"
        return bytes(data), bytes(reply)


def escape_iac(data: bytes) -> bytes:
    return data.replace(b"\xff", b"\xff\xff")


class TelnetTransport(TcpTransport):
    scheme = "telnet"

    def __init__(self, host: str, port: int = 23, **kw: object) -> None:
        super().__init__(host, port, **kw)  # type: ignore[arg-type]
        self._parser = TelnetParser()

    def _after_connect(self) -> None:
        self._parser = TelnetParser()

    def _send(self, data: bytes) -> None:
        self._raw_send(escape_iac(data))

    def _recv(self, timeout: float) -> bytes:
        raw = self._raw_recv(timeout)
        if not raw:
            return b""
        data, reply = self._parser.feed(raw)
        if reply:
            self._raw_send(reply)
        return data
