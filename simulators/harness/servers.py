"""The servers a simulated device listens on: TCP/Telnet, an RS-232 line on a pty pair, UDP.

While the device refuses (fault, reboot, power off) listeners close, so clients see a unit that is off.
"""

from __future__ import annotations

import contextlib
import os
import pty
import select
import socket
import threading
import time
import tty
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

from simulators.faults import Faults, garble
from simulators.harness.connections import POLL, PtyConnection, SimConnection, SocketConnection

if TYPE_CHECKING:
    from simulators.harness.device import DeviceSimulator


# -- servers --------------------------------------------------------------------------------------
class Server(ABC):
    def __init__(self, sim: DeviceSimulator) -> None:
        self.sim = sim

    @abstractmethod
    def start(self) -> None: ...

    @abstractmethod
    def stop(self) -> None: ...

    @abstractmethod
    def url(self) -> str: ...

    def move_to(self, host: str) -> None:  # noqa: B027 - serial lines have no address to move
        """Serve on another address from now on (IP configuration applied)."""

    def sync(self) -> None:  # noqa: B027 - only listening servers have something to open or close
        """Match the device's availability now (refuse fault, reboot, power) instead of on the
        next tick of the server loop, so a client that connects right after sees the new state."""


class ListeningServer(Server):
    """The accept loop shared by raw TCP, Telnet and SSH servers.

    While the device refuses (``refuse`` fault, rebooting, powered off) the listening socket is
    closed, so clients get ECONNREFUSED as from a unit that is off. Subclasses say what to do
    with an accepted socket in ``handle_client``.
    """

    scheme = "tcp"

    def __init__(self, sim: DeviceSimulator, host: str, port: int = 0) -> None:
        super().__init__(sim)
        self.host = host
        self.port = port
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()

    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    @abstractmethod
    def handle_client(self, client: socket.socket, peer: str) -> None:
        """Take over an accepted socket (start its session thread; must not block the loop)."""

    def _available(self) -> bool:
        return not (self.sim.faults.refuse or self.sim.down or self._stop.is_set())

    def _listen(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
            sock.listen(64)
        except OSError:
            sock.close()
            raise
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        self._listener = sock

    def _close_listener(self) -> None:
        assert self._listener is not None
        # close() alone keeps the port listening while the accept thread sits in select() on
        # it (up to one POLL); shutdown() stops listening at once and wakes that select.
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        self._listener = None

    def _sync_locked(self) -> None:
        if self._available() and self._listener is None:
            try:
                self._listen()
            except OSError:
                pass  # address still in TIME_WAIT or not yet ours: the loop retries next tick
        elif not self._available() and self._listener is not None:
            self._close_listener()

    def sync(self) -> None:
        with self._lock:
            if self._thread is not None:
                self._sync_locked()

    def start(self) -> None:
        with self._lock:
            self._stop.clear()
            if self._available():
                self._listen()  # fail loudly at start if the address is not ours
            self._thread = threading.Thread(target=self._loop, name=f"sim-accept-{self.url()}", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                self._sync_locked()
                listener = self._listener
            if listener is None:
                self._stop.wait(POLL)
                continue
            try:
                ready, _, _ = select.select([listener], [], [], POLL)
            except (OSError, ValueError):
                continue  # listener closed under us by a refuse/move; loop re-evaluates
            if not ready:
                continue
            try:
                client, addr = listener.accept()
            except OSError:
                continue
            if not self._available():
                client.close()  # went down between select and accept: behave as off
                continue
            self.handle_client(client, f"{addr[0]}:{addr[1]}")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        with self._lock:
            if self._listener is not None:
                self._close_listener()

    def move_to(self, host: str) -> None:
        with self._lock:
            if self._listener is not None:
                self._close_listener()
            self.host = host
            if self._thread is not None:
                self._sync_locked()


class TcpServer(ListeningServer):
    """Raw TCP or Telnet: each connection runs ``sim.handle_connection`` in its own thread."""

    def __init__(self, sim: DeviceSimulator, host: str, port: int = 0, *, telnet: bool = False,
                 scheme: str | None = None) -> None:
        super().__init__(sim, host, port)
        self.telnet = telnet
        self.scheme = scheme or ("telnet" if telnet else "tcp")

    def handle_client(self, client: socket.socket, peer: str) -> None:
        self.sim.serve_socket(client, peer, self)

    def make_connection(self, client: socket.socket, peer: str) -> SimConnection:
        return SocketConnection(self.sim, client, peer, telnet=self.telnet)


class PtyServer(Server):
    """An RS-232 port: a pty pair whose slave path the client opens; ``link`` (optional) is a
    stable symlink to it, as a profile names ``/dev/ttyUSB0``."""

    def __init__(self, sim: DeviceSimulator, *, baudrate: int | None = 9600, link: str | None = None) -> None:
        super().__init__(sim)
        self.baudrate = baudrate
        self.link = link
        self.master: int | None = None
        self.slave: int | None = None
        self.slave_path = ""
        self._conn: PtyConnection | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    @property
    def path(self) -> str:
        return self.link or self.slave_path

    def url(self) -> str:
        return f"serial://{self.path}"

    def start(self) -> None:
        master, slave = pty.openpty()
        tty.setraw(master)
        tty.setraw(slave)
        self.master, self.slave = master, slave
        self.slave_path = os.ttyname(slave)
        if self.link:
            os.makedirs(os.path.dirname(self.link) or ".", exist_ok=True)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.link)
            os.symlink(self.slave_path, self.link)
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name=f"sim-pty-{self.path}", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        assert self.master is not None
        while not self._stop.is_set():
            if self.sim.down or self.sim.faults.refuse:
                # A unit that is off: whatever the host sends is lost on the wire.
                self._discard_input()
                continue
            conn = PtyConnection(self.sim, self.master, self.path, self.baudrate)
            conn.state["generation"] = self.sim.session_generation
            self._conn = conn
            began = time.monotonic()
            self.sim.run_session(conn)
            self._conn = None
            if time.monotonic() - began < POLL:
                self._stop.wait(POLL)  # a handler that returns at once must not spin this loop

    def _discard_input(self) -> None:
        assert self.master is not None
        ready, _, _ = select.select([self.master], [], [], POLL)
        # Switched on meanwhile? Then these bytes are for the new session.
        if ready and (self.sim.down or self.sim.faults.refuse):
            with contextlib.suppress(OSError):
                os.read(self.master, 4096)

    def stop(self) -> None:
        self._stop.set()
        conn = self._conn
        if conn is not None:
            conn.close()  # ends the session's reads, so the loop sees the stop flag
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        for fd in (self.master, self.slave):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.master = self.slave = None
        if self.link:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.link)


class UdpServer(Server):
    """Datagrams to ``sim.handle_datagram(data, reply)``; ``reply(bytes)`` applies the fault
    knobs (silent, slow, garbage, lossy)."""

    def __init__(self, sim: DeviceSimulator, host: str, port: int = 0) -> None:
        super().__init__(sim)
        self.host = host
        self.port = port
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()

    def url(self) -> str:
        return f"udp://{self.host}:{self.port}"

    def _bind(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        # No SO_REUSEADDR: on UDP it would let two servers share a port and split the datagrams.
        try:
            sock.bind((self.host, self.port))
        except OSError:
            sock.close()
            raise
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        self._sock = sock

    def start(self) -> None:
        self._bind()
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name=f"sim-udp-{self.url()}", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                sock = self._sock
                if sock is None:
                    try:
                        self._bind()
                    except OSError:
                        pass  # the new address is not usable yet: retry on the next tick
                    sock = self._sock
            if sock is None:
                self._stop.wait(POLL)
                continue
            try:
                ready, _, _ = select.select([sock], [], [], POLL)
            except (OSError, ValueError):
                continue
            if not ready:
                continue
            try:
                data, addr = sock.recvfrom(65536)
            except OSError:
                continue
            if self.sim.down or self.sim.faults.refuse:
                continue  # powered off or rebooting: datagrams vanish
            faults = self.sim.faults
            if faults.lossy and self.sim.rng.random() < faults.lossy:
                continue

            def reply(payload: bytes, _addr: tuple = addr, _sock: socket.socket = sock,
                      faults: Faults = faults) -> None:
                if faults.silent:
                    return
                if faults.delay:
                    self.sim.wait(faults.delay)
                if faults.lossy and self.sim.rng.random() < faults.lossy:
                    return
                if faults.garbage:
                    payload = garble(payload, self.sim.rng)
                with contextlib.suppress(OSError):
                    _sock.sendto(payload, _addr)

            try:
                self.sim.handle_datagram(data, reply)
            except Exception as exc:  # noqa: BLE001 - a simulator bug must not kill the server loop
                self.sim.log_error(f"datagram handler failed: {exc!r}")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        with self._lock:
            if self._sock is not None:
                self._sock.close()
                self._sock = None

    def move_to(self, host: str) -> None:
        with self._lock:
            if self._sock is not None:
                self._sock.close()
                self._sock = None
            self.host = host


