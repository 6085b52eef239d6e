"""SSH interactive shell (paramiko) with host keys pinned in a known_hosts file.

A host key that is not in the known_hosts file, or that differs from the one recorded there, is
refused with ``HostKeyError``. Only when the caller opted into trust-on-first-use is an unknown
key accepted and recorded (the file is created 0600); a key that *changed* is always refused,
as by OpenSSH: it means the device was replaced or someone sits in between.
"""

from __future__ import annotations

import binascii
import contextlib
import os
import socket
import threading

import paramiko
from paramiko.hostkeys import HostKeyEntry, InvalidHostKey

from drivers.errors import AuthError, ConnectError, DeviceError, DeviceTimeout, Disconnected, HostKeyError
from drivers.transports.base import Transport
from drivers.transports.pinfile import append_lines
from drivers.transports.tcp import translate_connect_error

#: paramiko names RSA keys "ssh-rsa" in known_hosts but negotiates them as these algorithms.
_RSA_ALGORITHMS = ("rsa-sha2-512", "rsa-sha2-256")


class SshTransport(Transport):
    scheme = "ssh"
    # paramiko's own thread decrypts what is already on the socket: give it a moment when
    # draining late bytes after a timeout.
    drain_window = 0.02

    def __init__(self, host: str, port: int = 22, *, username: str, password: str,
                 known_hosts: str | None = None, trust_on_first_use: bool = False,
                 term: str = "vt100", width: int = 200, height: int = 48, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.host = host
        self.port = port
        self.username = username
        self._password = password
        self.known_hosts = known_hosts
        self.trust_on_first_use = trust_on_first_use
        self.term = term
        self.width = width
        self.height = height
        self.transcript.add_secret(password)
        # Keys trusted on first use when there is no file to record them in: pinned for the
        # life of this object, so a later reconnect to a different key is still refused.
        self._trusted_here = paramiko.HostKeys()
        self._ssh: paramiko.Transport | None = None
        self._chan: paramiko.Channel | None = None

    def describe(self) -> str:
        return f"ssh://{self.username}@{self.host}:{self.port}"

    def __repr__(self) -> str:
        return f"SshTransport({self.describe()!r}, open={self.is_open})"

    @property
    def host_key_name(self) -> str:
        """The host as known_hosts names it: bare for port 22, ``[host]:port`` otherwise."""
        return known_hosts_name(self.host, self.port)

    # -- open / close ----------------------------------------------------------------------------
    def _open(self) -> None:
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self.connect_timeout)
        except OSError as exc:
            raise translate_connect_error(exc, self.describe(), self.name) from exc
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # else ~44 ms per round trip
        try:
            ssh = paramiko.Transport(sock)
        except (OSError, paramiko.SSHException) as exc:
            sock.close()
            raise ConnectError(f"cannot start SSH to {self.describe()}: {exc}", device=self.name) from exc
        ssh.banner_timeout = ssh.handshake_timeout = ssh.auth_timeout = self.connect_timeout
        try:
            known = self._known_keys()
            self._prefer_known_key_types(ssh, known)
            ssh.start_client(timeout=self.connect_timeout)
            self._check_host_key(ssh.get_remote_server_key(), known)
            ssh.auth_password(self.username, self._password)
            chan = ssh.open_session(timeout=self.connect_timeout)
            chan.set_combine_stderr(True)
            chan.get_pty(term=self.term, width=self.width, height=self.height)
            chan.invoke_shell()
        except BaseException as exc:
            _shutdown(ssh)
            if isinstance(exc, DeviceError) or not isinstance(exc, Exception):
                raise
            raise self._translate_open_error(exc) from exc
        self._ssh, self._chan = ssh, chan

    def _translate_open_error(self, exc: Exception) -> DeviceError:
        where = self.describe()
        if isinstance(exc, paramiko.AuthenticationException):
            return AuthError(f"{where} refused the login of {self.username!r}: {exc}", device=self.name)
        if isinstance(exc, TimeoutError):
            return DeviceTimeout(f"SSH setup with {where} timed out", device=self.name)
        if isinstance(exc, paramiko.SSHException) and "timed out" in str(exc).lower():
            return DeviceTimeout(f"SSH setup with {where} timed out: {exc}", device=self.name)
        if isinstance(exc, OSError | EOFError | paramiko.SSHException):
            return ConnectError(f"SSH setup with {where} failed: {exc or type(exc).__name__}",
                                device=self.name)
        return ConnectError(f"SSH setup with {where} failed: {exc!r}", device=self.name)

    def _close(self) -> None:
        chan, ssh = self._chan, self._ssh
        self._chan = self._ssh = None
        try:
            if chan is not None:
                # Telling a peer that is already gone fails; closing our side is all that is left.
                with contextlib.suppress(OSError, EOFError, paramiko.SSHException):
                    chan.close()
        finally:
            if ssh is not None:
                _shutdown(ssh)

    # -- host keys -------------------------------------------------------------------------------
    def _known_keys(self) -> paramiko.HostKeys:
        keys = paramiko.HostKeys()
        if self.known_hosts and os.path.exists(self.known_hosts):
            try:
                with open(self.known_hosts, encoding="utf-8", errors="replace") as fh:
                    lines = fh.read().splitlines()
            except OSError as exc:
                raise HostKeyError(f"cannot read known_hosts {self.known_hosts}: {exc}",
                                   device=self.name) from exc
            for number, line in enumerate(lines, 1):
                entry = _parse_known_hosts_line(line)
                if entry is None:
                    if line.strip() and not line.lstrip().startswith("#"):
                        # As OpenSSH does: a bad line is skipped, the others still count.
                        self.transcript.note(f"ignored unreadable line {number} of {self.known_hosts}")
                    continue
                for hostname in entry.hostnames:
                    keys.add(hostname, entry.key.get_name(), entry.key)
        for name in self._trusted_here.keys():
            for keytype, key in self._trusted_here.lookup(name).items():
                keys.add(name, keytype, key)
        return keys

    def _prefer_known_key_types(self, ssh: paramiko.Transport, known: paramiko.HostKeys) -> None:
        """Ask for the key type we have pinned, as OpenSSH does, so a server with several host
        keys does not offer one we cannot check."""
        entry = known.lookup(self.host_key_name)
        if not entry:
            return
        options = ssh.get_security_options()
        available = list(options.key_types)
        wanted: list[str] = []
        for keytype in entry.keys():
            for algorithm in _RSA_ALGORITHMS if keytype == "ssh-rsa" else (keytype,):
                if algorithm in available and algorithm not in wanted:
                    wanted.append(algorithm)
        if wanted:
            options.key_types = wanted + [a for a in available if a not in wanted]

    def _check_host_key(self, key: paramiko.PKey, known: paramiko.HostKeys) -> None:
        name = self.host_key_name
        source = self.known_hosts or "no known_hosts file"
        offered = f"{key.get_name()} {key.fingerprint}"
        entry = known.lookup(name)
        if entry:
            pinned = entry.get(key.get_name())
            if pinned is not None and pinned == key:
                return
            raise HostKeyError(
                f"host key of {name} does not match the one pinned in {source}: the device offered "
                f"{offered}, pinned is {', '.join(entry.keys())}. The device was replaced or "
                "something is in between; if the change is expected, replace the pinned line",
                device=self.name)
        if not self.trust_on_first_use:
            raise HostKeyError(
                f"host key of {name} is unknown ({offered}; not in {source}): pin it in the "
                "known_hosts file or enable trust on first use", device=self.name)
        self._record_host_key(name, key)

    def _record_host_key(self, name: str, key: paramiko.PKey) -> None:
        self._trusted_here.add(name, key.get_name(), key)
        if not self.known_hosts:
            self.transcript.note(f"trusted new host key of {name} for this session only: "
                                 f"{key.get_name()} {key.fingerprint}")
            return
        try:
            append_known_hosts(self.known_hosts, [f"{name} {key.get_name()} {key.get_base64()}"])
        except OSError as exc:
            raise HostKeyError(f"cannot record the host key of {name} in {self.known_hosts}: {exc}",
                               device=self.name) from exc
        self.transcript.note(f"trusted new host key of {name} on first use, recorded in "
                             f"{self.known_hosts}: {key.get_name()} {key.fingerprint}")

    # -- bytes -----------------------------------------------------------------------------------
    def _send(self, data: bytes) -> None:
        chan = self._chan
        if chan is None:
            raise Disconnected(f"{self.describe()} is closed", device=self.name)
        chan.settimeout(self.connect_timeout)  # bounded wait for the peer's SSH window
        try:
            chan.sendall(data)
        except TimeoutError as exc:
            raise Disconnected(f"write to {self.describe()} stalled for {self.connect_timeout:g} s",
                               device=self.name) from exc
        except (OSError, EOFError, paramiko.SSHException) as exc:
            raise Disconnected(f"write to {self.describe()} failed: {exc}", device=self.name) from exc

    def _recv(self, timeout: float) -> bytes:
        chan = self._chan
        if chan is None:
            raise Disconnected(f"{self.describe()} is closed", device=self.name)
        chan.settimeout(timeout)
        try:
            data = chan.recv(65536)
        except TimeoutError:
            return b""
        except (OSError, EOFError, paramiko.SSHException) as exc:
            raise Disconnected(f"read from {self.describe()} failed: {exc}", device=self.name) from exc
        if not data:
            raise Disconnected(f"{self.describe()} closed the session", device=self.name)
        return data


def known_hosts_name(host: str, port: int) -> str:
    """The host as known_hosts names it: bare for port 22, ``[host]:port`` otherwise."""
    return host if port == 22 else f"[{host}]:{port}"


def append_known_hosts(path: str, lines: list[str]) -> None:
    """Add lines to a known_hosts file atomically (see ``pinfile``)."""
    append_lines(path, lines)


def carry_host_key(path: str, port: int, old_host: str, new_host: str) -> bool:
    """Pin the key known for ``old_host`` under ``new_host`` too (a unit we moved ourselves, over
    an authenticated session, answers on its new address with the same key). False when there
    was nothing to carry."""
    if not path or not os.path.exists(path):
        return False
    old_name, new_name = known_hosts_name(old_host, port), known_hosts_name(new_host, port)
    with open(path, encoding="utf-8", errors="replace") as fh:
        entries = [e for e in map(_parse_known_hosts_line, fh.read().splitlines()) if e is not None]
    lines = [f"{new_name} {e.key.get_name()} {e.key.get_base64()}" for e in entries
             if old_name in e.hostnames and new_name not in e.hostnames]
    if not lines:
        return False
    append_known_hosts(path, lines)
    return True


def _parse_known_hosts_line(line: str) -> HostKeyEntry | None:
    """One known_hosts line, or None for comments, blanks and lines we cannot read."""
    if not line.strip() or line.lstrip().startswith("#"):
        return None
    try:
        entry = HostKeyEntry.from_line(line)
    except (InvalidHostKey, paramiko.SSHException, ValueError, binascii.Error):
        return None
    return entry if entry is not None and entry.key is not None else None


def _shutdown(ssh: paramiko.Transport) -> None:
    """Close a paramiko transport and wait for its thread (its close() does not)."""
    ssh.close()
    if ssh.is_alive() and ssh is not threading.current_thread():
        ssh.join(timeout=5)
