"""In-band login over a byte stream: ``Username:`` / ``Password:`` prompts (Telnet, serial).

Devices that ask for credentials inside the stream (Poly's ``Password:``, an APC's
``User Name :``) all follow the same dance; the prompt and failure texts differ per model, so
they are parameters. The password is registered with the transcript before it is sent.
"""

from __future__ import annotations

import re

from drivers.errors import AuthError
from drivers.transports.base import Terminator, Transport

USERNAME_PROMPT = re.compile(rb"(?i)(user ?name|login|user)\s*:")
PASSWORD_PROMPT = re.compile(rb"(?i)password\s*:")
LOGIN_FAILED = re.compile(rb"(?i)(incorrect|failed|denied|invalid)")


_LEADING_FLAGS = re.compile(rb"^\(\?[aiLmsux]+\)")
_SCOPED_FLAGS = ((re.IGNORECASE, b"i"), (re.MULTILINE, b"m"), (re.DOTALL, b"s"))


def _pattern(term: Terminator) -> bytes:
    """A terminator as a regex fragment that keeps its flags when joined with others."""
    if isinstance(term, bytes):
        return re.escape(term)
    body = _LEADING_FLAGS.sub(b"", term.pattern)  # its flags are in term.flags already
    flags = b"".join(letter for flag, letter in _SCOPED_FLAGS if term.flags & flag)
    return b"(?" + flags + b":" + body + b")" if flags else b"(?:" + body + b")"


def prompt_login(transport: Transport, *, password: str, ready: Terminator,
                 username: str | None = None,
                 username_prompt: Terminator = USERNAME_PROMPT,
                 password_prompt: Terminator = PASSWORD_PROMPT,
                 failure: Terminator = LOGIN_FAILED,
                 line_ending: bytes = b"\r\n", timeout: float = 5.0) -> bytes:
    """Answer the login prompts; return what the device sent up to and including ``ready``.

    Raises ``AuthError`` when the device answers with ``failure`` instead of ``ready``, and
    ``DeviceTimeout`` when a prompt does not come.
    """
    transport.transcript.add_secret(password)
    if username is not None:
        transport.read_until(username_prompt, timeout)
        transport.write(username.encode() + line_ending)
    transport.read_until(password_prompt, timeout)
    transport.write(password.encode() + line_ending)
    outcome = re.compile(b"(?P<failure>" + _pattern(failure) + b")|(?P<ready>" + _pattern(ready) + b")")
    answer = transport.read_until(outcome, timeout)
    match = outcome.search(answer)
    if match is not None and match.group("failure") is not None:
        said = answer.rsplit(b"\n", 1)[-1].strip().decode("latin-1")  # the device's own words
        raise AuthError(f"{transport.describe()} refused the login: {said!r}", device=transport.name)
    return answer
