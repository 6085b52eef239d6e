"""Polycom HDX 7000/8000/9000 codecs over the Telnet API (port 24) or RS-232.

The HDX is the generation before RealPresence Group Series and speaks the same API family
(protocols.md section 2, [Poly-IRM-HDX]), so this driver is the Group Series driver with the
differences the HDX integrator's manual documents:

- **API echo**: the HDX echoes every command line before its acknowledgement (LAN: ``cmd\\n\\r``,
  serial: ``cmd\\r\\n``) and the manual says never to use the echo, because it comes back even
  for an invalid command. The first line equal to the command is skipped as the echo; only what
  follows it acknowledges (``api_echo``, default on).
- **RS-232**: the serial port has no connect banner; login on it is optional (a unit setting).
  We send ``whoami`` on opening the line: a unit asking ``Password:`` gets the password, one that
  is logged in (or has no login) answers with its welcome block. Rates 9600..115200 8N1
  [Poly-IRM-HDX "Configuring the RS-232 Interface"]; the profile names the rate.
- **Standard definition**: without the HD option key an HDX sends at most 4CIF/4SIF;
  ``max_resolution`` (default ``704x576``, PAL 4CIF) caps the rate -> resolution estimate the
  same way the codec caps what it negotiates (``callinfo`` does not report the resolution).
- **Network changes prompt a restart** ("Commands that Prompt Restart" appendix of the HDX
  manual): ``network_takes_effect`` is ``reboot``.

Endpoint.options (beyond the Group Series ones, [unverified] where the manual is not explicit):
``api_echo`` [true]; ``max_resolution`` [``704x576``]; ``prompt`` [``-> ``, unverified for HDX];
``status_end`` [``status end``, unverified]; ``serial_wake`` command sent on opening the serial
line [``whoami``].
"""

from __future__ import annotations

import re
import time
from dataclasses import replace
from typing import Any

from drivers.codec_common import opt
from drivers.errors import AuthError, CommandRejected, DeviceTimeout, ProtocolError
from drivers.poly_grammar import WELCOME, strip_prompt
from drivers.poly_group import PolyGroupDriver
from drivers.roles import Endpoint
from drivers.transcript import Transcript
from drivers.transports.base import Transport
from drivers.transports.serial_line import SerialTransport

#: What an HDX without the HD option key negotiates at best (4CIF, PAL).
SD_RESOLUTION = "704x576"
#: Seconds between wake-up lines on a silent serial port, and of silence that means "restarting".
SERIAL_WAKE_INTERVAL = 1.0
_LOGIN_PROMPT = re.compile(r"(User(name)?|Password)\s*:\s*$", re.I)


class PolycomHdxDriver(PolyGroupDriver):
    vendor = "Polycom"

    def __init__(self, endpoint: Endpoint, *, name: str = "", transcript: Transcript | None = None) -> None:
        options = dict(endpoint.options)
        options.setdefault("max_resolution", SD_RESOLUTION)
        options.setdefault("network_takes_effect", "reboot")
        super().__init__(replace(endpoint, options=options), name=name, transcript=transcript)
        self.api_echo = bool(opt(options, "api_echo", True))
        self.serial_wake = str(opt(options, "serial_wake", "whoami"))
        if endpoint.transport == "serial":
            self.port = 0

    def _streams(self) -> tuple[Any, Any]:
        """(transport, line reader): the codec base gives both, or one transport that frames
        lines itself (the shared line buffer of the codec channels)."""
        io: Any = self._io()
        return (io[0], io[1]) if isinstance(io, tuple) else (io, io)

    @property
    def over_serial(self) -> bool:
        return self.endpoint.transport == "serial"

    def _make_transport(self, connect_timeout: float) -> Transport:
        if not self.over_serial:
            return super()._make_transport(connect_timeout)
        ep = self.endpoint
        if not ep.serial_url:
            raise ProtocolError("RS-232 endpoint without a serial line", device=self.name)
        return SerialTransport(ep.serial_url, baudrate=ep.baudrate or 9600, name=self.name,
                               transcript=self.transcript, connect_timeout=connect_timeout)

    # session -------------------------------------------------------------------------------------
    def _login(self) -> None:
        """Telnet: the unit speaks first (``Password:`` or the welcome). Serial: silence until
        we send something, so we ask ``whoami`` and answer a password prompt if one comes."""
        transport, rx = self._streams()
        deadline = time.monotonic() + self.login_timeout
        sent_password = False
        wake_at = float("inf")
        if self.over_serial:
            transport.drain()        # whatever an earlier session left on the line
            wake_at = time.monotonic()
        while True:
            if time.monotonic() >= wake_at:
                # A line gives no sign of a unit still booting: ask again until one answers.
                transport.write(self.serial_wake.encode() + b"\r")
                wake_at = time.monotonic() + SERIAL_WAKE_INTERVAL
            line = rx.take_line()
            if line is None:
                tail = rx.pending_text()
                m = _LOGIN_PROMPT.search(tail)
                if m:
                    _forget(rx)
                    if m.group(1).lower().startswith("user"):
                        transport.write((self.endpoint.username or "admin").encode() + b"\r")
                    elif sent_password:
                        raise AuthError("password refused", device=self.name)
                    else:
                        transport.write(self.endpoint.password.encode() + b"\r")
                        sent_password = True
                    continue
                if time.monotonic() >= deadline:
                    _forget(rx, stale=True)
                    raise DeviceTimeout("no login prompt or welcome within the deadline", device=self.name)
                if rx.fill(min(deadline, wake_at)):
                    wake_at = float("inf")   # it answers: no more wake-up lines
                continue
            text = strip_prompt(line)
            if not text or text == self.serial_wake:
                continue             # blank lines and the echo of our wake-up command
            if "login failed" in text.lower():
                if sent_password:
                    raise AuthError("password refused", device=self.name)
                continue             # the wake-up line itself was taken as a password
            if text.startswith(WELCOME):
                self._welcome = self._read_welcome(text, deadline)
                return
            if self.over_serial and self._dispatch_unsolicited(text):
                continue             # a notification registered by an earlier session
            raise ProtocolError(f"unexpected text before the welcome: {text[:60]!r}", device=self.name,
                                data=text)

    def _read_until_dropped(self, deadline: float) -> bool:
        """A serial line never drops: the unit has gone down when a wake-up line is met with
        silence."""
        if not self.over_serial:
            return super()._read_until_dropped(deadline)
        transport, rx = self._streams()
        transport.drain()        # the echo of the reboot command
        while time.monotonic() < deadline:
            _forget(rx)
            transport.write(self.serial_wake.encode() + b"\r")
            quiet_until = min(deadline, time.monotonic() + SERIAL_WAKE_INTERVAL)
            heard = False
            while time.monotonic() < quiet_until:
                heard = rx.fill(quiet_until) or heard
            if not heard:
                return True
        return False

    # command / reply -------------------------------------------------------------------------------
    def _command(self, command: str, accept: Any, timeout: float | None = None) -> str:
        """As on Group Series, but the first copy of the command line is the echo, never the
        acknowledgement (the HDX echoes invalid commands too)."""
        _, rx = self._streams()
        self._send(command)
        echo_pending = self.api_echo
        deadline = time.monotonic() + (timeout or self.endpoint.timeout)
        while True:
            text = strip_prompt(rx.next_line(deadline, f"reply to {command!r}"))
            if not text:
                continue
            if echo_pending and text == command:
                echo_pending = False
                continue
            if accept(text):
                return text
            low = text.lower()
            if low.startswith(("error:", "info:")):
                kind, _, detail = text.partition(":")
                raise CommandRejected(kind.lower(), detail.strip(), device=self.name, command=command)
            if self._dispatch_unsolicited(text):
                continue
            raise ProtocolError(f"unexpected reply to {command!r}: {text[:80]!r}", device=self.name,
                                data=text)


def _forget(rx: Any, *, stale: bool = False) -> None:
    """Drop the partial input, whichever line reader the codec base provides."""
    if hasattr(rx, "discard_pending"):
        rx.discard_pending(stale=stale)
    else:
        rx.reset()
