"""Logging in over a byte stream and setting the session up (protocols.md section 1).

SSH: the shell prints a banner ending ``*r Login successful``, a blank line and ``OK``. Telnet
and RS-232 with ``SerialPort LoginRequired: On`` ask ``login:`` / ``Password:`` first. RS-232
with login off prints nothing at all: we press Enter, wait a moment for a prompt, and when none
comes the line is already ours. A serial line has no connection to lose, so the unit's session
(output mode, feedback) may still be the one we left: it is reset explicitly.
"""

from __future__ import annotations

import re
import time

from drivers.errors import AuthError, CommandRejected, DeviceTimeout, ProtocolError
from drivers.roles import Endpoint
from drivers.transports.base import Transport

_PROMPT = re.compile(r"(login|Password)\s*:\s*$", re.I)


def stream_login(link: Transport, endpoint: Endpoint, *, timeout: float, device: str,
                 serial_prompt_window: float = 1.0) -> str:
    """Log in; return the release named in the banner ("" when the unit printed none)."""
    deadline = time.monotonic() + timeout
    if endpoint.transport == "serial":
        link.write(b"\r\n")
        if not _prompt_within(link, min(deadline, time.monotonic() + serial_prompt_window)):
            link.discard_pending()
            return ""   # no login on this port, or the line is still logged in
    return _banner_login(link, endpoint, deadline, device)


def _prompt_within(link: Transport, deadline: float) -> bool:
    while True:
        if _PROMPT.search(link.pending_text()):
            return True
        if time.monotonic() >= deadline:
            return False
        link.fill(deadline)


def _banner_login(link: Transport, endpoint: Endpoint, deadline: float, device: str) -> str:
    release = ""
    logged_in = False
    tries = 0
    while True:
        line = link.take_line()
        if line is None:
            tail = link.pending_text()
            if _PROMPT.search(tail):
                link.discard_pending()
                tries += 1
                if tries > 2:
                    raise AuthError("login refused", device=device)
                secret = endpoint.password if tail.lower().rstrip().endswith("password:") else (
                    endpoint.username or "admin")
                link.write(secret.encode() + b"\r\n")
                continue
            if len(tail) > 3 and tail.startswith("#"):
                raise ProtocolError(f"garbled banner: {tail[:60]!r}", device=device, data=tail)
            if time.monotonic() >= deadline or not link.fill(deadline):
                if time.monotonic() >= deadline:
                    link.discard_pending(stale=True)
                    raise DeviceTimeout("no login banner within the deadline", device=device)
            continue
        text = line.strip()
        if "Login incorrect" in text:
            raise AuthError("login refused", device=device)
        if text.startswith("Cisco Codec Release"):
            release = text[len("Cisco Codec Release"):].strip()
        elif "Login successful" in text:
            logged_in = True
        elif text == "OK" and logged_in:
            return release
        elif text.startswith("#") or (logged_in and text):
            raise ProtocolError(f"unexpected banner line {text[:60]!r}", device=device, data=text)


def raw_ok(link: Transport, command: str, *, timeout: float, device: str) -> list[str]:
    """A session command answered by plain lines and ``OK`` (echo, xPreferences); returns the
    lines before ``OK``. Feedback objects left from an earlier session on a serial line are
    skipped here (they are complete lines that are not ours)."""
    link.write(command.encode() + b"\n")
    deadline = time.monotonic() + timeout
    lines: list[str] = []
    while True:
        text = link.next_line(deadline, f"OK to {command!r}").strip()
        if text == "OK":
            return lines
        if text == "Command not recognized.":
            raise CommandRejected("not recognized", text, device=device, command=command)
        if text and text != command:
            if text.startswith("#"):
                raise ProtocolError(f"garbled reply {text[:60]!r}", device=device, data=text)
            lines.append(text)


def choose_output_mode(link: Transport, wanted: str, *, tc: bool, serial: bool, timeout: float,
                       device: str) -> str:
    """``json`` or ``terminal``: ``auto`` is JSON unless the release is TC. A firmware without
    JSON prints its usage text and stays in terminal mode. On a serial line the mode is set
    either way (the line may still be in the mode a previous session chose)."""
    if wanted == "auto":
        wanted = "terminal" if tc else "json"
    if wanted != "json":
        if serial:
            raw_ok(link, "xPreferences OutputMode Terminal", timeout=timeout, device=device)
        return "terminal"
    lines = raw_ok(link, "xPreferences OutputMode JSON", timeout=timeout, device=device)
    return "terminal" if any("usage" in ln.lower() for ln in lines) else "json"
