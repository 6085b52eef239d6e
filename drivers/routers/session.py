"""The netmiko session under both router dialects: login, one command, errors translated.

netmiko's exceptions become ours here (``raise ... from``); every read has an explicit pattern
and deadline, never netmiko's delay factors.
"""

from __future__ import annotations

import os
import re
import socket

import paramiko
from netmiko import ConnectHandler
from netmiko.base_connection import BaseConnection
from netmiko.exceptions import (
    ConfigInvalidException,
    NetmikoAuthenticationException,
    NetmikoTimeoutException,
    ReadException,
    ReadTimeout,
    WriteException,
)

from drivers.errors import (
    AuthError,
    CommandRejected,
    ConnectError,
    DeviceError,
    DeviceTimeout,
    Disconnected,
    HostKeyError,
    ProtocolError,
)
from drivers.roles import (
    Driver,
    Endpoint,
)
from drivers.routers.session_log import BoundedSessionLog
from drivers.transcript import Transcript
from drivers.transports.tcp import translate_connect_error


class RouterSession(Driver):
    """The session both families share; subclasses hold the CLI dialect."""

    roles = frozenset({"router"})
    device_type = ""
    vendor = ""
    negate = "no"                     # "no" (IOS) / "undo" (VRP)
    leave_block = "exit"              # leaves an interface block
    config_enter = ""
    config_leave = ""
    config_error = r"^%"              # a refused configuration line
    config_terminator = r"#"          # what ends a config-mode prompt
    boilerplate: tuple[str, ...] = ()  # lines of a shown configuration that are not settings

    def __init__(self, endpoint: Endpoint, *, name: str = "", transcript: Transcript | None = None) -> None:
        super().__init__(endpoint, name=name, transcript=transcript)
        self._conn: BaseConnection | None = None
        self._log = BoundedSessionLog()
        secret = str(endpoint.options.get("enable_secret", "")) or endpoint.password
        self._secret = secret
        self.transcript.add_secret(secret)

    # -- session ---------------------------------------------------------------------------------
    @property
    def over_telnet(self) -> bool:
        return self.endpoint.transport == "telnet"

    @property
    def connected(self) -> bool:
        conn = self._conn
        return bool(conn and _link_open(conn))

    def connect(self) -> None:
        if self.connected:
            return
        if self.over_telnet:
            self._connect_telnet()
            return
        ep = self.endpoint
        sock = self._open_socket()
        known = ep.known_hosts or ""
        self._log = BoundedSessionLog()
        try:
            conn = ConnectHandler(
                device_type=self.device_type, host=ep.host, port=ep.port or 22, username=ep.username,
                password=ep.password, secret=self._secret, sock=sock,
                # Host keys are pinned: unknown or changed keys are refused unless the profile
                # opted into trust on first use.
                ssh_strict=not ep.trust_on_first_use, system_host_keys=False,
                alt_host_keys=bool(known), alt_key_file=known, allow_agent=False, use_keys=False,
                conn_timeout=ep.timeout, auth_timeout=ep.timeout, banner_timeout=ep.timeout,
                session_log=self._log, fast_cli=True,
            )
        except BaseException as exc:
            sock.close()
            self._flush_log()
            raise self._translate(exc, "connect") from exc
        self._conn = conn
        self._flush_log()
        self.transcript.note(f"connected {ep.describe()} as {self.device_type}")
        try:
            if ep.trust_on_first_use and known and conn.remote_conn_pre is not None:
                self._record_host_key(conn.remote_conn_pre, known)   # record what we trusted
            self._after_login(conn)
        except BaseException:
            self.close()
            raise

    def _connect_telnet(self) -> None:
        """netmiko's telnet device types (``cisco_ios_telnet``, ``huawei_telnet``): its login
        answers the ``Username:`` / ``Password:`` prompts and expects the device to echo input."""
        ep = self.endpoint
        port = ep.port or 23
        self._log = BoundedSessionLog()
        mark = self._log.mark()
        try:
            # Refused or unreachable is ours to say, before netmiko's telnetlib hides it.
            socket.create_connection((ep.host, port), timeout=ep.timeout).close()
        except OSError as exc:
            raise translate_connect_error(exc, f"telnet://{ep.host}:{port}", self.name) from exc
        try:
            conn = ConnectHandler(
                device_type=f"{self.device_type}_telnet", host=ep.host, port=port, username=ep.username,
                password=ep.password, secret=self._secret, conn_timeout=ep.timeout,
                auth_timeout=ep.timeout, session_log=self._log, fast_cli=True,
            )
        except BaseException as exc:
            heard = self._log.since(mark).decode("utf-8", "replace")
            self._flush_log()
            if _LOGIN_REFUSED.search(heard):
                # netmiko's Huawei login waits for a prompt that never comes after a refusal.
                raise AuthError(f"{self.device_type} telnet login refused", device=self.name) from exc
            raise self._translate(exc, "connect") from exc
        remote = conn.remote_conn
        sock = remote.get_socket() if remote is not None and hasattr(remote, "get_socket") else None
        if isinstance(sock, socket.socket):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._conn = conn
        self._flush_log()
        self.transcript.note(f"connected {ep.describe()} as {self.device_type}_telnet")
        try:
            self._after_login(conn)
        except BaseException:
            self.close()
            raise

    def _record_host_key(self, client: paramiko.SSHClient, path: str) -> None:
        """Append the key trusted on first use unless it is there. Never rewrite the file
        (``SSHClient.save_host_keys`` does): other sessions append their keys concurrently."""
        transport = client.get_transport()
        if transport is None:
            return
        key = transport.get_remote_server_key()
        port = self.endpoint.port or 22
        name = self.endpoint.host if port == 22 else f"[{self.endpoint.host}]:{port}"
        line = f"{name} {key.get_name()} {key.get_base64()}"
        try:
            if os.path.exists(path):
                with open(path, encoding="utf-8", errors="replace") as fh:
                    if any(row.strip() == line for row in fh):
                        return
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            with os.fdopen(fd, "a", encoding="utf-8") as fh:
                fh.write(line + "\n")
        except OSError as exc:
            raise HostKeyError(f"cannot record the host key of {name} in {path}: {exc}",
                               device=self.name) from exc
        self.transcript.note(f"trusted new host key of {name} on first use, recorded in {path}")

    def _open_socket(self) -> socket.socket:
        ep = self.endpoint
        where = f"ssh://{ep.host}:{ep.port or 22}"
        try:
            sock = socket.create_connection((ep.host, ep.port or 22), timeout=ep.timeout)
        except OSError as exc:
            raise translate_connect_error(exc, where, self.name) from exc
        # paramiko never sets it: without it every round trip waits ~40 ms for delayed ACKs.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def _after_login(self, conn: BaseConnection) -> None:
        """Hook: privilege elevation after the login (IOS enable)."""

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            if _link_open(conn):
                conn.write_channel(self.logout_command() + conn.RETURN)
        except (OSError, EOFError, WriteException, paramiko.SSHException):
            pass  # the session is already gone: closing is all that is left to do
        # Close the SSH channel first: netmiko's own cleanup otherwise probes the prompt with a
        # timing read (two seconds on Huawei) before it hangs up.
        try:
            if self.over_telnet:
                if conn.remote_conn is not None:
                    conn.remote_conn.close()    # closed first: cleanup then has nothing to wait for
            else:
                conn.paramiko_cleanup()
        except (OSError, EOFError, paramiko.SSHException) as exc:
            # The router hung up on our logout first: closing must never raise (Driver.close).
            self.transcript.note(f"close: link already gone ({type(exc).__name__})")
        conn.disconnect()
        self._flush_log()
        self.transcript.note("closed")

    def logout_command(self) -> str:
        return "exit"

    # -- one command -------------------------------------------------------------------------------
    def _require(self) -> BaseConnection:
        if self._conn is None or not self.connected:
            self._conn = None
            self.connect()
        assert self._conn is not None
        return self._conn

    def exec_prompt(self) -> str:
        raise NotImplementedError

    def any_exec_prompt(self) -> str:
        """An exec prompt whatever the hostname now is (after a hostname change)."""
        raise NotImplementedError

    def run(self, command: str, *, expect: str | None = None, timeout: float | None = None) -> str:
        """One exec command; its output without echo and prompt."""
        conn = self._require()
        self.transcript.record("tx", command.encode() + b"\n")
        mark = self._log.mark()
        try:
            out = conn.send_command(command, expect_string=expect or self.exec_prompt(),
                                    read_timeout=timeout or self.endpoint.timeout)
        except BaseException as exc:
            self._flush_log()
            raise self._translate(exc, command, since=mark) from exc
        self._flush_log()
        assert isinstance(out, str)
        return out

    def _flush_log(self) -> None:
        data = self._log.take_new()
        if data:
            self.transcript.record("rx", data)

    def _translate(self, exc: BaseException, what: str, since: int | None = None) -> BaseException:
        if isinstance(exc, DeviceError):
            return exc
        cause = exc.__context__
        if isinstance(exc, NetmikoAuthenticationException):
            return AuthError(f"{self.device_type} login refused", device=self.name)
        if isinstance(exc, NetmikoTimeoutException):
            if isinstance(cause, paramiko.BadHostKeyException) or "known_hosts" in str(exc):
                return HostKeyError(f"SSH host key of {self.endpoint.host} is not the pinned one",
                                    device=self.name)
            if isinstance(cause, TimeoutError | socket.timeout):
                return DeviceTimeout(f"{what}: no SSH session within the deadline", device=self.name)
            return ConnectError(f"{what}: SSH session failed: {first_line(exc)}", device=self.name)
        if isinstance(exc, ConfigInvalidException):
            return rejected(str(exc), self.name)
        if isinstance(exc, ReadTimeout):
            if not self.connected:
                return Disconnected(f"session closed during {what!r}", device=self.name)
            if since is not None:
                reply = self._log.since(since).decode("utf-8", "replace").replace(what, "", 1)
                if reply.strip():
                    return ProtocolError(f"reply to {what!r} never reached a prompt", device=self.name,
                                         data=reply[-500:])
            return DeviceTimeout(f"no complete reply to {what!r} within the deadline", device=self.name)
        if isinstance(exc, ReadException | WriteException | OSError | EOFError | paramiko.SSHException):
            return Disconnected(f"session lost during {what!r}: {exc}", device=self.name)
        if isinstance(exc, ValueError):   # netmiko: prompt not found, enable failed
            return ProtocolError(f"{what}: {first_line(exc)}", device=self.name)
        return exc



#: What the VTY says to a wrong login (IOS "% Login invalid", VRP "authentication is rejected"
#: [unverified exact VRP text]), or a second username prompt.
_LOGIN_REFUSED = re.compile(
    r"(?i)login invalid|authentication (is )?(rejected|failed)|Username:.*Username:", re.S)


def _link_open(conn: BaseConnection) -> bool:
    """Whether netmiko's link (a paramiko channel or a telnetlib connection) is still up."""
    remote = conn.remote_conn
    if remote is None:
        return False
    if hasattr(remote, "closed"):
        return not remote.closed
    return getattr(remote, "sock", None) is not None and not getattr(remote, "eof", False)


def first_line(exc: BaseException) -> str:
    return next((x.strip() for x in str(exc).splitlines() if x.strip()), type(exc).__name__)


def last_error(text: str) -> str:
    errors = [x.strip() for x in text.splitlines() if x.strip().startswith(("%", "Error"))]
    return errors[-1] if errors else text.strip().splitlines()[-1] if text.strip() else ""


def rejected(message: str, device: str) -> CommandRejected:
    """netmiko's ConfigInvalidException text -> CommandRejected with the device's own words."""
    m = re.search(r"at command: (.*), matched error: (.*)", message)
    command, error = (m.group(1), m.group(2).strip()) if m else (None, message)
    code = "Error" if error.startswith("Error") else "%"
    return CommandRejected(code, error, device=device, command=command)
