"""An Extron SIS session over Telnet or RS-232: banner, login, verbose mode, command/reply.

On Telnet the unit greets with ``(c) Copyright YYYY, Extron Electronics, <model>, Vn.nn,
60-nnnn-nn`` and a date line, then ``Password:`` if a password is set; the answer is
``Login Administrator`` or ``Login User`` (a wrong password gets the prompt again: ``AuthError``).
On RS-232 the banner only appears at power-up, so nothing is awaited. Tolerant about form: a
unit or gateway that sends no banner (awaited ``banner_wait`` s) or does not answer the
verbose-mode command (awaited ``verbose_wait`` s) is driven all the same; each such difference is
noted in the transcript and logged once.

Verbose mode is per connection (Ethernet starts at 0), so it is set on every connect. A reply
is recognised by the pattern the command expects; ``Exx`` is always an error for the command
just sent (``CommandRejected``); a known unsolicited message (front-panel ``Qik``, ``Rprnn``,
``RcdrYn``...) is kept in ``events`` and never taken for the reply; any other line — a first line
that is not the copyright banner included — is garbage: ``ProtocolError`` at once, and what is
left of it is drained before the next command.
"""

from __future__ import annotations

import logging
import re
import time
from collections import deque
from dataclasses import dataclass

from drivers.errors import AuthError, CommandRejected, DeviceTimeout, ProtocolError
from drivers.transports.base import Transport

log = logging.getLogger(__name__)
_LOGGED: set[tuple[str, str]] = set()   # (device, what) already logged: tolerances are logged once

SIS_ERRORS = {
    "E01": "invalid input number",
    "E06": "invalid input change",
    "E10": "invalid command",
    "E11": "invalid preset number",
    "E12": "invalid output number / port",
    "E13": "invalid value / parameter",
    "E14": "not valid for this configuration",
    "E17": "timeout / invalid for this signal type",
    "E21": "invalid room number",
    "E22": "busy",
    "E24": "privilege violation",
    "E25": "device not present",
    "E26": "maximum number of connections exceeded",
    "E27": "invalid event number",
    "E28": "bad filename or file not found",
    "E30": "hardware failure",
    "E31": "break pass-through not set",
    "E33": "bad file type for logo",
}

COPYRIGHT = re.compile(
    r"\(c\) Copyright (?P<year>\d{4}), Extron Electronics,? (?P<model>[^,]+), V(?P<version>[\d.]+)"
    r"(?:, (?P<part>60-\d+-\d+))?")
_DATE_LINE = re.compile(r"\w{3}, (\d{1,2} \w{3}|\w{3} \d{1,2}),? \d{4},? \d{1,2}:\d{2}:\d{2}.*")
_TOKEN = re.compile(rb"\r\n|Password:")
_ERROR = re.compile(r"^E(\d\d)(?::.*)?$")
#: What a unit says on its own (front panel, another controller, power-up); anything else that
#: is not the expected reply is garbage.
UNSOLICITED = re.compile(
    r"Qik|[RS]pr\d+|Out\d+ In\d+ \w+|In\d+ \w+|[VA]mt\d+(\*\d+)?|Exe\d|Rcdr\w+|Reconfig|Login \w+"
    r"|\(c\) Copyright.*|\w{3}, \d{1,2} \w{3} \d{4}.*")


@dataclass
class Banner:
    model: str = ""
    firmware: str = ""
    part: str = ""
    raw: str = ""


class SisSession:
    def __init__(self, transport: Transport, *, name: str, password: str, verbose_mode: int,
                 timeout: float, telnet: bool, prompt_wait: float, banner_wait: float = 1.5,
                 verbose_wait: float = 1.0) -> None:
        self.transport = transport
        self.name = name
        self.password = password
        self.verbose_mode = verbose_mode
        self.timeout = timeout
        self.telnet = telnet
        self.prompt_wait = prompt_wait
        self.banner_wait = banner_wait
        self.verbose_wait = verbose_wait
        self.verbose_confirmed = False
        self.tolerated: set[str] = set()      # "banner", "verbose": what this unit did not send
        self.banner = Banner()
        self.login_level = ""
        self.events: deque[str] = deque(maxlen=100)
        self._garbled = False

    @property
    def is_open(self) -> bool:
        return self.transport.is_open

    def open(self) -> None:
        self.transport.open()
        try:
            if self.telnet:
                self._greeting()
            else:
                self.transport.drain()   # a power-up banner may be waiting on the line
                self.login_level = "Administrator"
            self.set_verbose(self.verbose_mode)
        except BaseException:
            self.transport.close()
            raise

    def close(self) -> None:
        self.transport.close()

    def _greeting(self) -> None:
        """The banner is awaited briefly: a unit or a gateway that sends none is still usable
        (noted once). A first line that is neither the banner nor ``Password:`` is garbage."""
        deadline = time.monotonic() + min(self.banner_wait, self.timeout)
        head: str | None = ""
        try:
            while not head:
                head = self._token(deadline, "copyright banner")
        except DeviceTimeout:
            head = None
        if head is None or head == "Password:":
            self.tolerate("banner", "no copyright banner: going on without it")
            self._login(prompt_seen=head == "Password:")
            return
        m = COPYRIGHT.search(head)
        if m is None:
            raise ProtocolError(f"no Extron copyright banner: {head[:120]!r}", device=self.name, data=head)
        date = self._token(time.monotonic() + self.timeout, "banner date line")
        if not _DATE_LINE.fullmatch(date):
            raise ProtocolError(f"no date line after the banner: {date[:120]!r}", device=self.name, data=date)
        self.banner = Banner(model=m.group("model").strip(), firmware=m.group("version"),
                             part=m.group("part") or "", raw=m.group(0))
        self._login(prompt_seen=False)

    def _login(self, *, prompt_seen: bool) -> None:
        if not self.password and not prompt_seen:
            self.login_level = "Administrator"  # a unit without passwords logs everyone in as admin
            return
        if not prompt_seen:
            try:
                self.transport.read_until(b"Password:", self.prompt_wait)
            except DeviceTimeout:
                self.transport.transcript.note("no password prompt: the unit has no password set")
                self.login_level = "Administrator"
                return
        self.transport.write(self.password.encode("latin-1") + b"\r")
        while True:
            token = self._token(time.monotonic() + self.timeout, "login answer")
            if token == "Password:":
                raise AuthError("the unit refused the password", device=self.name)
            m2 = re.fullmatch(r"Login (Administrator|User)", token)
            if m2:
                self.login_level = m2.group(1)
                return
            if token and not UNSOLICITED.fullmatch(token):
                raise ProtocolError(f"unexpected answer to the password: {token[:80]!r}", device=self.name,
                                    data=token)
            if token:
                self.events.append(token)

    def tolerate(self, what: str, note: str) -> None:
        """A difference of form we go on without: in the transcript, and logged once per device."""
        self.tolerated.add(what)
        self.transport.transcript.note(note)
        key = (self.name, what)
        if key not in _LOGGED:
            _LOGGED.add(key)
            log.warning("%s: %s", self.name, note)

    def _token(self, deadline: float, what: str) -> str:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise DeviceTimeout(f"no {what} within the deadline", device=self.name)
        raw = self.transport.read_until(_TOKEN, remaining).decode("latin-1")
        if raw.endswith("Password:"):
            return "Password:"
        return raw[:-2].strip()

    def set_verbose(self, mode: int) -> None:
        """Verbose mode is awaited briefly: a unit (or gateway) that does not answer ``Esc n CV``
        is still driven; only its unsolicited messages may then be missing (noted once)."""
        try:
            self.command(f"\x1b{mode}CV\r", rf"Vrb{mode}", timeout=min(self.verbose_wait, self.timeout))
            self.verbose_confirmed = True
        except DeviceTimeout:
            self.tolerate("verbose", f"no Vrb{mode} reply to the verbose-mode command: going on")
        except CommandRejected as exc:
            self.tolerate("verbose", f"verbose mode {mode} refused ({exc.code}): going on")

    def command(self, text: str, expect: str, timeout: float | None = None) -> re.Match[str]:
        """Send ``text``; return the match of the first line that fully matches ``expect``."""
        pattern = re.compile(expect)
        self._write(text)
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            line = self._token(deadline, f"reply to {text!r}")
            if not line:
                continue
            if line == "Password:":
                raise AuthError("the unit asks for a password (none or a wrong one is configured)",
                                device=self.name)
            err = _ERROR.match(line)
            if err:
                code = f"E{err.group(1)}"
                raise CommandRejected(code, SIS_ERRORS.get(code, "unknown error"), device=self.name,
                                      command=text.replace("\x1b", "Esc ").strip())
            m = pattern.fullmatch(line)
            if m:
                return m
            if not UNSOLICITED.fullmatch(line):
                raise self._garbage(f"unexpected reply to {text.strip()!r}: {line[:80]!r}", line)
            self.events.append(line)   # unsolicited: front panel, another controller
            self.transport.transcript.note(f"unsolicited: {line}")

    def block(self, text: str, last: str, row: str = ".*") -> list[str]:
        """Send ``text``; collect lines matching ``row`` up to and including one matching ``last``.

        A line that is neither (nor an unsolicited message) is garbage: ``ProtocolError``.
        """
        pattern, row_pattern = re.compile(last), re.compile(row)
        self._write(text)
        deadline = time.monotonic() + self.timeout
        lines: list[str] = []
        while True:
            line = self._token(deadline, f"reply to {text!r}")
            if not line:
                continue
            err = _ERROR.match(line)
            if err and not lines:
                code = f"E{err.group(1)}"
                raise CommandRejected(code, SIS_ERRORS.get(code, "unknown error"), device=self.name)
            if pattern.fullmatch(line):
                lines.append(line)
                return lines
            if row_pattern.fullmatch(line):
                lines.append(line)
            elif UNSOLICITED.fullmatch(line):
                self.events.append(line)
            else:
                raise self._garbage(f"unexpected line in the reply to {text.strip()!r}: {line[:80]!r}", line)

    def _write(self, text: str) -> None:
        if self._garbled:
            # The rest of a garbled answer may still be on its way: start the next one clean.
            dropped = self.transport.drain()
            self._garbled = False
            if dropped:
                self.transport.transcript.note(f"dropped {len(dropped)} bytes left from a garbled reply")
        self.transport.write(text.encode("latin-1"))

    def _garbage(self, message: str, line: str) -> ProtocolError:
        self._garbled = True
        return ProtocolError(message, device=self.name, data=line)
