"""HTTP(S) request/response to a device's web API (Cisco xAPI ``getxml``/``putxml``), stdlib
``http.client`` + ``ssl`` on one kept-alive connection.

Login: ``POST /xmlapi/session/begin`` with HTTP Basic auth answers a ``SessionId`` cookie that
later requests carry; ``/xmlapi/session/end`` on close. A unit without the session API (404:
older software) gets Basic auth on every request instead.

TLS is always verified, in this order of precedence (never "unverified"):
- ``fingerprint``: the SHA-256 of the certificate the unit presents must equal the pinned one
  (self-signed certificates, as codecs ship with);
- ``ca_file``: the chain must verify against that CA bundle and name the host;
- neither: the system's trusted CAs and the host name, as a browser would;
- ``trust_on_first_use`` with a ``pin_file``: an unknown unit's fingerprint is recorded there
  (atomically) and pinned from then on; a changed one is refused, as SSH host keys are.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import http.client
import os
import ssl
from dataclasses import dataclass
from typing import NoReturn

from drivers.errors import (
    AuthError,
    ConnectError,
    DeviceError,
    DeviceTimeout,
    Disconnected,
    HostKeyError,
    ProtocolError,
)
from drivers.transcript import Transcript
from drivers.transports.pinfile import append_lines
from drivers.transports.tcp import translate_connect_error

#: Reply bodies larger than this are refused (a codec's biggest status tree is far smaller).
MAX_BODY = 4 * 1024 * 1024


@dataclass(frozen=True)
class HttpReply:
    status: int
    body: bytes
    content_type: str = ""


def normalise_fingerprint(text: str) -> str:
    """``sha256:AB:CD:..`` / ``abcd..`` -> lowercase hex without separators."""
    text = text.strip().lower()
    if text.startswith("sha256:"):
        text = text[len("sha256:"):]
    return text.replace(":", "").replace(" ", "")


def fingerprint_of(der: bytes) -> str:
    return hashlib.sha256(der).hexdigest()


class _Connection(http.client.HTTPSConnection):
    """An HTTPS connection that checks the pinned certificate fingerprint on every (re)connect."""

    def __init__(self, *args: object, on_connect: object = None, **kw: object) -> None:
        super().__init__(*args, **kw)  # type: ignore[arg-type]
        self._on_connect = on_connect

    def connect(self) -> None:
        super().connect()
        if callable(self._on_connect):
            self._on_connect(self.sock)


class HttpTransport:
    """One device's web API over HTTPS (or plain HTTP where a profile says so)."""

    def __init__(self, host: str, port: int, *, tls: bool = True, username: str = "admin",
                 password: str = "", name: str | None = None, transcript: Transcript | None = None,
                 connect_timeout: float = 5.0, ca_file: str = "", fingerprint: str = "",
                 pin_file: str = "", trust_on_first_use: bool = False,
                 session_path: str = "/xmlapi/session") -> None:
        self.scheme = "https" if tls else "http"
        self.host = host
        self.port = port
        self.tls = tls
        self.username = username
        self._password = password
        self.name = name or self.scheme
        self.transcript = transcript if transcript is not None else Transcript()
        self.transcript.add_secret(password)
        self.connect_timeout = connect_timeout
        self.ca_file = ca_file
        self.fingerprint = normalise_fingerprint(fingerprint) if fingerprint else ""
        self.pin_file = pin_file
        self.trust_on_first_use = trust_on_first_use
        self.session_path = session_path
        self._conn: http.client.HTTPConnection | None = None
        self._cookie = ""
        self._basic = False          # no session API: Basic auth on every request
        self._open = False

    def describe(self) -> str:
        return f"{self.scheme}://{self.username}@{self.host}:{self.port}"

    @property
    def is_open(self) -> bool:
        return self._open

    @property
    def pin_name(self) -> str:
        return f"{self.host}:{self.port}"

    # -- open / close ----------------------------------------------------------------------------
    def open(self) -> None:
        if self._open:
            return
        self._conn = self._new_connection()
        self._open = True
        try:
            self._begin_session()
        except BaseException:
            self._drop()
            raise
        self.transcript.note(f"open {self.describe()}")

    def close(self) -> None:
        if not self._open:
            return
        if self._cookie:
            # Telling a unit that may be gone already: its reply does not matter.
            with contextlib.suppress(DeviceError, OSError):
                self._raw("POST", f"{self.session_path}/end", b"", min(self.connect_timeout, 2.0))
        self._drop()
        self.transcript.note("close")

    def _drop(self) -> None:
        self._open = False
        self._cookie = ""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def _new_connection(self) -> http.client.HTTPConnection:
        if not self.tls:
            return http.client.HTTPConnection(self.host, self.port, timeout=self.connect_timeout)
        return _Connection(self.host, self.port, timeout=self.connect_timeout, context=self._context(),
                           on_connect=self._check_certificate)

    @property
    def _pin_mode(self) -> bool:
        """Trust by pin: a given fingerprint, or trust on first use where no CA file is named
        (a CA file beats a site-wide trust-on-first-use default)."""
        return bool(self.fingerprint) or (self.trust_on_first_use and not self.ca_file)

    def _pinned(self) -> str:
        if self.fingerprint:
            return self.fingerprint
        return self._pins().get(self.pin_name, "") if self.trust_on_first_use else ""

    def _context(self) -> ssl.SSLContext:
        if self._pin_mode:
            # The pin is the trust anchor: the chain and the name do not matter, the key does.
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            return ctx
        if self.ca_file:
            return ssl.create_default_context(cafile=self.ca_file)
        return ssl.create_default_context()

    def _check_certificate(self, sock: ssl.SSLSocket) -> None:
        if not self._pin_mode:
            return   # verified by the context (CA file or system CAs)
        der = sock.getpeercert(binary_form=True) or b""
        offered = fingerprint_of(der)
        pinned = self._pinned()
        if pinned and pinned == offered:
            return
        if pinned:
            sock.close()
            raise HostKeyError(
                f"the certificate of {self.pin_name} does not match the pinned one (offered sha256 "
                f"{offered}, pinned {pinned}). The unit was replaced or something is in between; if the "
                "change is expected, replace the pin", device=self.name)
        self._record_pin(offered)

    # -- pins (trust on first use) ---------------------------------------------------------------
    def _pins(self) -> dict[str, str]:
        pins: dict[str, str] = {}
        if not self.pin_file or not os.path.exists(self.pin_file):
            return pins
        with open(self.pin_file, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                parts = line.split()
                if len(parts) == 2 and not parts[0].startswith("#"):
                    pins[parts[0]] = normalise_fingerprint(parts[1])
        return pins

    def _record_pin(self, offered: str) -> None:
        self.fingerprint = offered    # pinned for the life of this object at least
        if not self.pin_file:
            self.transcript.note(f"trusted the certificate of {self.pin_name} for this session only: "
                                 f"sha256 {offered}")
            return
        try:
            _append_atomically(self.pin_file, f"{self.pin_name} sha256:{offered}")
        except OSError as exc:
            raise HostKeyError(f"cannot record the certificate pin of {self.pin_name}: {exc}",
                               device=self.name) from exc
        self.transcript.note(f"trusted the certificate of {self.pin_name} on first use: sha256 {offered}")

    # -- session ---------------------------------------------------------------------------------
    def _basic_header(self) -> str:
        token = base64.b64encode(f"{self.username}:{self._password}".encode()).decode()
        return f"Basic {token}"

    def _begin_session(self) -> None:
        reply, cookie = self._raw("POST", f"{self.session_path}/begin", b"", self.connect_timeout,
                                  auth=True)
        if reply.status in (200, 204) and cookie:
            self._cookie = cookie
            self.transcript.add_secret(cookie.partition("=")[2])
            self._basic = False
            return
        if reply.status == 404:
            self._basic = True   # no session API on this software: Basic auth per request
            check = self.request("GET", "/getxml?location=/Status/SystemUnit/ProductId", timeout=None)
            if check.status == 200:
                return
        if reply.status in (401, 403):
            raise AuthError(f"{self.describe()} refused the login of {self.username!r}", device=self.name)
        raise ProtocolError(f"session begin answered HTTP {reply.status}", device=self.name,
                            data=reply.body[:200])

    # -- requests --------------------------------------------------------------------------------
    def request(self, method: str, path: str, body: bytes | None = None, *,
                timeout: float | None, content_type: str = "text/xml") -> HttpReply:
        """One request on the session; 401 once means the session expired: log in again."""
        if not self._open:
            raise Disconnected(f"{self.describe()} is not open", device=self.name)
        reply, _ = self._raw(method, path, body, timeout or self.connect_timeout, auth=self._basic,
                             content_type=content_type)
        if reply.status == 401 and not self._basic:
            self._begin_session()
            reply, _ = self._raw(method, path, body, timeout or self.connect_timeout, auth=self._basic,
                                 content_type=content_type)
        if reply.status in (401, 403):
            raise AuthError(f"{self.describe()} refused the request (HTTP {reply.status})", device=self.name)
        if reply.status >= 500:
            # 502/503 while the unit reboots (protocols.md): the session is gone.
            self._drop()
            raise Disconnected(f"{self.describe()} answered HTTP {reply.status}", device=self.name)
        return reply

    def _raw(self, method: str, path: str, body: bytes | None, timeout: float, *, auth: bool = False,
             content_type: str = "text/xml") -> tuple[HttpReply, str]:
        conn = self._conn
        if conn is None:
            raise Disconnected(f"{self.describe()} is not open", device=self.name)
        headers = {"Host": f"{self.host}:{self.port}", "Connection": "keep-alive"}
        if body is not None:
            headers["Content-Type"] = content_type
        if auth:
            headers["Authorization"] = self._basic_header()
        if self._cookie:
            headers["Cookie"] = self._cookie
        self.transcript.record("tx", f"{method} {path}\n".encode() + (body or b""))
        reused = conn.sock is not None
        try:
            return self._send_and_read(conn, method, path, body, headers, timeout)
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as exc:
            if not reused:
                self._lose(exc)
            # A kept-alive connection the unit closed while idle: once more on a fresh one.
            conn.close()
            try:
                return self._send_and_read(conn, method, path, body, headers, timeout)
            except ConnectError as again:
                self._open = False
                raise Disconnected(f"{self.describe()} went away: {again}", device=self.name) from again
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as again:
                self._lose(again)

    def _send_and_read(self, conn: http.client.HTTPConnection, method: str, path: str,
                       body: bytes | None, headers: dict[str, str], timeout: float) -> tuple[HttpReply, str]:
        try:
            if conn.sock is None:
                conn.timeout = self.connect_timeout
                conn.connect()
            assert conn.sock is not None
            conn.sock.settimeout(max(timeout, 0.01))
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            if resp.length is not None and resp.length > MAX_BODY:
                conn.close()
                raise ProtocolError(f"reply from {self.describe()} announces {resp.length} bytes "
                                    f"(more than {MAX_BODY})", device=self.name)
            # With a length, read() raises IncompleteRead when the unit hangs up half-way;
            # without one the read is bounded.
            data = resp.read() if resp.length is not None else resp.read(MAX_BODY + 1)
        except DeviceError:
            conn.close()
            raise
        except ssl.SSLCertVerificationError as exc:
            conn.close()
            raise HostKeyError(f"the certificate of {self.pin_name} does not verify: {exc.verify_message}",
                               device=self.name) from exc
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            raise
        except TimeoutError as exc:
            conn.close()   # state unknown: never read a late reply as the next one
            raise DeviceTimeout(f"no reply from {self.describe()} to {method} {path} within the deadline",
                                device=self.name) from exc
        except http.client.IncompleteRead as exc:
            self._lose(exc)
        except (http.client.HTTPException, ssl.SSLError) as exc:
            conn.close()
            raise ProtocolError(f"unreadable HTTP reply from {self.describe()}: {exc!r}", device=self.name,
                                data=str(exc)[:200]) from exc
        except OSError as exc:
            conn.close()
            raise translate_connect_error(exc, self.describe(), self.name) from exc
        if len(data) > MAX_BODY:
            conn.close()
            raise ProtocolError(f"reply from {self.describe()} is larger than {MAX_BODY} bytes",
                                device=self.name)
        self.transcript.record("rx", f"HTTP {resp.status}\n".encode() + data)
        if resp.getheader("Connection", "").lower() == "close":
            conn.close()
        cookie = ""
        for value in resp.headers.get_all("Set-Cookie") or []:
            first = value.split(";", 1)[0].strip()
            if first.lower().startswith("sessionid="):
                cookie = first
        return HttpReply(resp.status, data, resp.getheader("Content-Type", "")), cookie

    def _lose(self, exc: BaseException) -> NoReturn:
        self._drop()
        raise Disconnected(f"{self.describe()} closed the connection: {exc!r}", device=self.name) from exc


def _append_atomically(path: str, line: str) -> None:
    append_lines(path, [line])


def carry_pin(pin_file: str, port: int, old_host: str, new_host: str) -> bool:
    """Pin the certificate known for ``old_host`` under ``new_host`` too (a unit we moved
    ourselves over an authenticated session keeps its certificate). False if there was none."""
    if not pin_file or not os.path.exists(pin_file):
        return False
    old_name, new_name = f"{old_host}:{port}", f"{new_host}:{port}"
    with open(pin_file, encoding="utf-8", errors="replace") as fh:
        pins = dict(line.split() for line in fh if len(line.split()) == 2)
    if old_name not in pins or new_name in pins:
        return False
    _append_atomically(pin_file, f"{new_name} {pins[old_name]}")
    return True
