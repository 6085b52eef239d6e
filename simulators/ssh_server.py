"""Serve a simulated device over SSH (paramiko): password login, pty and interactive shell.

Each accepted TCP connection gets its own paramiko ``Transport`` in a tracked thread; every
shell channel it opens becomes an ``SshConnection`` run through ``sim.run_session``, exactly as a
TCP session would be. The host key is generated at start (ECDSA: under a millisecond) unless
given, and ``known_hosts_line()`` lets a test pin it. Exec requests (``ssh unit 'command'``) are
refused unless the simulator offers ``accepts_exec``: then the channel runs one session with
``conn.state["exec"]`` set to the command, and the device answers it and closes (exit status 0).
"""

from __future__ import annotations

import contextlib
import hmac
import os
import socket
import threading

import paramiko

from simulators.harness import POLL, ConnectionClosed, DeviceSimulator, ListeningServer, SimConnection

#: How long a client may take between opening a channel and asking for a shell, seconds.
SHELL_REQUEST_TIMEOUT = 5.0
#: How long a send may wait for the client's SSH window before the session counts as gone.
SEND_TIMEOUT = 5.0


class SshConnection(SimConnection):
    """One interactive shell channel as the device sees it."""

    def __init__(self, sim: DeviceSimulator, channel: paramiko.Channel, peer: str,
                 transport: paramiko.Transport) -> None:
        super().__init__(sim, peer)
        self.channel = channel
        self.transport = transport

    def _recv(self, timeout: float) -> bytes:
        self.channel.settimeout(timeout)
        try:
            data = self.channel.recv(65536)
        except TimeoutError:
            return b""
        except (OSError, EOFError, paramiko.SSHException) as exc:
            raise ConnectionClosed(f"{self.peer}: {exc}") from exc
        if not data:
            raise ConnectionClosed(self.peer)
        return data

    def _send(self, data: bytes) -> None:
        self.channel.settimeout(SEND_TIMEOUT)
        try:
            self.channel.sendall(data)
        except (OSError, EOFError, paramiko.SSHException) as exc:
            raise ConnectionClosed(f"{self.peer}: {exc}") from exc

    def _close(self) -> None:
        # EOF before close, or the client may see "channel closed" without the last output.
        try:
            # The client may be gone already: then there is nobody left to tell.
            with contextlib.suppress(OSError, EOFError, paramiko.SSHException):
                if "exec" in self.state:
                    self.channel.send_exit_status(0)
                self.channel.shutdown_write()  # sends EOF
                self.channel.close()
        finally:
            # A device ends the SSH connection with its shell (exit, reboot, drop).
            self.transport.close()


class _DeviceInterface(paramiko.ServerInterface):
    """What the device allows on one SSH connection: password login, pty, shell."""

    def __init__(self, sim: DeviceSimulator) -> None:
        self.sim = sim
        self._shells: dict[int, threading.Event] = {}
        self._execs: dict[int, str] = {}
        self._lock = threading.Lock()

    def _shell_event(self, chanid: int) -> threading.Event:
        with self._lock:
            return self._shells.setdefault(chanid, threading.Event())

    def wait_for_shell(self, chanid: int, timeout: float) -> bool:
        return self._shell_event(chanid).wait(timeout)

    def get_allowed_auths(self, username: str) -> str:
        return "password"

    def check_auth_password(self, username: str, password: str) -> int:
        sim = self.sim
        if sim.faults.reject_password:
            return paramiko.AUTH_FAILED
        user_ok = hmac.compare_digest(username.encode(), sim.username.encode())
        password_ok = hmac.compare_digest(password.encode(), sim.password.encode())
        return paramiko.AUTH_SUCCESSFUL if user_ok and password_ok else paramiko.AUTH_FAILED

    def check_channel_request(self, kind: str, chanid: int) -> int:
        if kind == "session":
            return paramiko.OPEN_SUCCEEDED
        return paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def check_channel_pty_request(self, channel: paramiko.Channel, term: bytes, width: int, height: int,
                                  pixelwidth: int, pixelheight: int, modes: bytes) -> bool:
        return True  # netmiko and our transport both ask for a pty

    def check_channel_shell_request(self, channel: paramiko.Channel) -> bool:
        self._shell_event(channel.get_id()).set()
        return True

    def check_channel_exec_request(self, channel: paramiko.Channel, command: bytes) -> bool:
        if not getattr(self.sim, "accepts_exec", False):
            return False
        with self._lock:
            self._execs[channel.get_id()] = command.decode("utf-8", "replace")
        self._shell_event(channel.get_id()).set()
        return True

    def exec_command(self, chanid: int) -> str | None:
        with self._lock:
            return self._execs.pop(chanid, None)

    def check_channel_window_change_request(self, channel: paramiko.Channel, width: int, height: int,
                                            pixelwidth: int, pixelheight: int) -> bool:
        return True


class SshServer(ListeningServer):
    """SSH on ``host:port``, password auth against ``sim.username``/``sim.password``."""

    scheme = "ssh"

    def __init__(self, sim: DeviceSimulator, host: str, port: int = 0, *,
                 host_key: paramiko.PKey | None = None) -> None:
        super().__init__(sim, host, port)
        self.host_key: paramiko.PKey = host_key or paramiko.ECDSAKey.generate()
        self._transports: set[paramiko.Transport] = set()
        self._transports_lock = threading.Lock()

    # -- pinning ---------------------------------------------------------------------------------
    def known_hosts_name(self) -> str:
        """The host as known_hosts names it: bare for port 22, ``[host]:port`` otherwise."""
        return self.host if self.port == 22 else f"[{self.host}]:{self.port}"

    def known_hosts_line(self) -> str:
        return f"{self.known_hosts_name()} {self.host_key.get_name()} {self.host_key.get_base64()}"

    def write_known_hosts(self, path: str) -> None:
        """Write (replace) a known_hosts file that pins this server's key, mode 0600."""
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(self.known_hosts_line() + "\n")

    # -- serving ---------------------------------------------------------------------------------
    def handle_client(self, client: socket.socket, peer: str) -> None:
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # else ~44 ms per round trip
        self.sim.spawn(self._serve_client, client, peer, name=f"sim-ssh-{self.sim.name}-{peer}")

    def _serve_client(self, client: socket.socket, peer: str) -> None:
        try:
            transport = paramiko.Transport(client)
        except (OSError, paramiko.SSHException):
            client.close()
            return
        with self._transports_lock:
            self._transports.add(transport)
        try:
            transport.add_server_key(self.host_key)
            interface = _DeviceInterface(self.sim)
            try:
                transport.start_server(server=interface)
            except (OSError, EOFError, paramiko.SSHException):
                return  # the client gave up during the handshake (e.g. it refused our key)
            while self._serving(transport):
                channel = transport.accept(POLL)
                if channel is not None:
                    self.sim.spawn(self._serve_channel, channel, interface, transport, peer,
                                   name=f"sim-session-{self.sim.name}-{peer}")
        finally:
            self._finish(transport)

    def _serving(self, transport: paramiko.Transport) -> bool:
        return transport.is_active() and not self._stop.is_set() and not self.sim.stopping

    def _serve_channel(self, channel: paramiko.Channel, interface: _DeviceInterface,
                       transport: paramiko.Transport, peer: str) -> None:
        """Wait for the shell request, then run the device session on the channel."""
        waited = 0.0
        while not interface.wait_for_shell(channel.get_id(), POLL):
            waited += POLL
            if channel.closed or not self._serving(transport) or waited >= SHELL_REQUEST_TIMEOUT:
                channel.close()  # an exec or subsystem request we refused: no session
                return
        conn = SshConnection(self.sim, channel, peer, transport)
        command = interface.exec_command(channel.get_id())
        if command is not None:
            conn.state["exec"] = command
        self.sim.run_session(conn)

    def _finish(self, transport: paramiko.Transport) -> None:
        transport.close()
        # paramiko's close() does not wait for its thread; we leave no thread behind.
        if transport.is_alive() and transport is not threading.current_thread():
            transport.join(timeout=5)
        with self._transports_lock:
            self._transports.discard(transport)

    def stop(self) -> None:
        super().stop()
        with self._transports_lock:
            transports = list(self._transports)
        for transport in transports:
            transport.close()  # ends every shell; the connection threads then clean up
        for transport in transports:
            if transport.is_alive():
                transport.join(timeout=5)
