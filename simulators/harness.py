"""Serve a simulated device over the transports a real unit uses.

A ``DeviceSimulator`` is a protocol state machine. It is served by one or more servers:
``TcpServer`` (raw TCP or Telnet), ``PtyServer`` (an RS-232 line through a pty pair, paced at the
baud rate), ``UdpServer`` (datagrams) and ``SshServer`` (``simulators.ssh_server``). Each
accepted connection runs ``DeviceSimulator.handle_connection(conn)`` in its own thread; the
``SimConnection`` it gets reads with deadlines and applies the fault knobs on every ``send``.

Everything starts and stops as a context manager and leaves no thread, socket or fd behind.
"""

from __future__ import annotations

import contextlib
import errno
import os
import pty
import random
import re
import select
import socket
import threading
import time
import tty
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator

from simulators.faults import Faults, garble

POLL = 0.05  # how often idle server loops look at their stop flag, seconds


class ConnectionClosed(Exception):
    """The client went away, or the simulator closed the session (reboot, stop, drop fault)."""


# -- connections ----------------------------------------------------------------------------------
class SimConnection(ABC):
    """One client session as the device sees it."""

    def __init__(self, sim: DeviceSimulator, peer: str) -> None:
        self.sim = sim
        self.peer = peer
        self.closed = False
        self._buffer = bytearray()
        self.state: dict[str, object] = {}   # per-session protocol state (output mode, verbose...)

    # primitives
    @abstractmethod
    def _recv(self, timeout: float) -> bytes:
        """What arrives within timeout (b"" if nothing); raise ConnectionClosed on EOF."""

    @abstractmethod
    def _send(self, data: bytes) -> None: ...

    @abstractmethod
    def _close(self) -> None: ...

    # reading
    def read_until(self, terminator: bytes | re.Pattern[bytes], timeout: float | None = None) -> bytes:
        """Up to and including ``terminator``; ``None`` timeout waits until closed or stopped.
        Raises ``TimeoutError`` on timeout and ``ConnectionClosed`` when the session ends."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if isinstance(terminator, bytes):
                idx = self._buffer.find(terminator)
                end = None if idx < 0 else idx + len(terminator)
            else:
                m = terminator.search(self._buffer)
                end = None if m is None else m.end()
            if end is not None:
                data = bytes(self._buffer[:end])
                del self._buffer[:end]
                return data
            self._fill(deadline)

    def read_some(self, timeout: float | None = None) -> bytes:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._buffer:
            self._fill(deadline)
        data = bytes(self._buffer)
        self._buffer.clear()
        return data

    def read_exactly(self, n: int, timeout: float | None = None) -> bytes:
        deadline = None if timeout is None else time.monotonic() + timeout
        while len(self._buffer) < n:
            self._fill(deadline)
        data = bytes(self._buffer[:n])
        del self._buffer[:n]
        return data

    def _fill(self, deadline: float | None) -> None:
        if self.closed or self.sim.stopping:
            raise ConnectionClosed(self.peer)
        wait = POLL if deadline is None else min(POLL, deadline - time.monotonic())
        if deadline is not None and wait <= 0:
            raise TimeoutError(f"simulator read from {self.peer} timed out")
        chunk = self._recv(max(wait, 0.0))
        if chunk:
            self._buffer.extend(chunk)

    # writing
    def send(self, data: bytes | str) -> None:
        """Send a reply as the device would, with the simulator's fault knobs applied."""
        if isinstance(data, str):
            data = data.encode("latin-1")
        faults = self.sim.faults
        if self.closed:
            raise ConnectionClosed(self.peer)
        if faults.silent or not data:
            return
        if faults.delay > 0:
            self.sim.wait(faults.delay)
        if faults.garbage:
            data = garble(data, self.sim.rng)
        if faults.drop_mid_reply:
            self._send(data[: max(1, len(data) // 2)])
            self.close()
            raise ConnectionClosed(f"{self.peer}: dropped mid-reply (fault)")
        self._send(data)

    def send_raw(self, data: bytes | str) -> None:
        """Send bypassing fault knobs (banners a fault should not hide, e.g. an auth refusal)."""
        if isinstance(data, str):
            data = data.encode("latin-1")
        if self.closed:
            raise ConnectionClosed(self.peer)
        self._send(data)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            with contextlib.suppress(OSError):
                self._close()


class SocketConnection(SimConnection):
    """TCP connection; with ``telnet=True`` the client's IAC negotiation is filtered out and
    refused (DO -> WONT, WILL -> DONT), doubled 0xFF becomes one data byte and ``CR NUL`` a CR.
    ``negotiations`` keeps every command the client sent (e.g. ``b"\\xff\\xfc\\x01"``)."""

    def __init__(self, sim: DeviceSimulator, sock: socket.socket, peer: str, telnet: bool = False) -> None:
        super().__init__(sim, peer)
        self.sock = sock
        self.telnet = telnet
        self.negotiations: list[bytes] = []
        self._iac_state = 0
        self._verb = 0
        self._after_cr = False
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)

    def _recv(self, timeout: float) -> bytes:
        try:
            ready, _, _ = select.select([self.sock], [], [], timeout)
        except (OSError, ValueError) as exc:  # closed under us by reboot/stop
            raise ConnectionClosed(f"{self.peer}: {exc}") from exc
        if not ready:
            return b""
        try:
            data = self.sock.recv(65536)
        except BlockingIOError:
            return b""
        except OSError as exc:
            raise ConnectionClosed(f"{self.peer}: {exc}") from exc
        if not data:
            raise ConnectionClosed(self.peer)
        return self._telnet_filter(data) if self.telnet else data

    def _telnet_filter(self, data: bytes) -> bytes:
        out = bytearray()
        replies = bytearray()
        for b in data:
            st = self._iac_state
            if st == 0:
                after_cr, self._after_cr = self._after_cr, False
                if b == 255:
                    self._iac_state = 1
                elif b == 0 and after_cr:
                    pass  # NVT "CR NUL": a bare CR
                else:
                    out.append(b)
                    self._after_cr = b == 0x0D
            elif st == 1:
                if b == 255:
                    out.append(255)
                    self._iac_state = 0
                elif b in (251, 252, 253, 254):
                    self._verb = b
                    self._iac_state = 2
                elif b == 250:
                    self._iac_state = 3
                else:
                    self._iac_state = 0
            elif st == 2:
                self.negotiations.append(bytes((255, self._verb, b)))
                if self._verb == 253:      # DO -> WONT
                    replies += bytes((255, 252, b))
                elif self._verb == 251:    # WILL -> DONT
                    replies += bytes((255, 254, b))
                self._iac_state = 0
            elif st == 3:
                if b == 255:
                    self._iac_state = 4
            elif st == 4:
                self._iac_state = 0 if b == 240 else 3
        if replies:
            self._write_all(bytes(replies))  # negotiation is not data: never doubled
        return bytes(out)

    def _send(self, data: bytes) -> None:
        if self.telnet:
            data = data.replace(b"\xff", b"\xff\xff")
        self._write_all(data)

    def _write_all(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            if self.closed:
                raise ConnectionClosed(self.peer)
            try:
                n = self.sock.send(view)
            except BlockingIOError:
                try:
                    select.select([], [self.sock], [], POLL)
                except (OSError, ValueError) as exc:
                    raise ConnectionClosed(f"{self.peer}: {exc}") from exc
                continue
            except OSError as exc:
                raise ConnectionClosed(f"{self.peer}: {exc}") from exc
            view = view[n:]

    def send_iac(self, data: bytes) -> None:
        """Raw Telnet negotiation bytes (not doubled, no fault knobs)."""
        if self.closed:
            raise ConnectionClosed(self.peer)
        self._write_all(data)

    def _close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()


class PtyConnection(SimConnection):
    """The device end of an RS-232 line. Bytes are paced at the baud rate both ways
    (10 bits per byte at 8N1: 9600 baud is about 1.04 ms per byte)."""

    def __init__(self, sim: DeviceSimulator, master_fd: int, peer: str, baudrate: int | None) -> None:
        super().__init__(sim, peer)
        self.fd = master_fd
        self.baudrate = baudrate
        self._rx_free_at = 0.0   # when the last byte received has fully "arrived" on the wire

    def byte_time(self) -> float:
        return 10.0 / self.baudrate if self.baudrate else 0.0

    def _recv(self, timeout: float) -> bytes:
        if self.sim.session_generation != self.state.get("generation", self.sim.session_generation):
            raise ConnectionClosed(f"{self.peer}: device restarted")
        if self.sim.faults.refuse or self.sim.down:
            raise ConnectionClosed(f"{self.peer}: device is off")
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return b""
        try:
            data = os.read(self.fd, 4096)
        except OSError as exc:
            if exc.errno == errno.EIO:  # no client holds the slave: the line is idle
                self.sim.wait(min(timeout, POLL))
                return b""
            raise ConnectionClosed(f"{self.peer}: {exc}") from exc
        if self.sim.faults.refuse or self.sim.down:
            raise ConnectionClosed(f"{self.peer}: device is off")  # switched off while we waited
        if self.baudrate and data:
            # The host's bytes take wire time to arrive; the device sees them no sooner.
            now = time.monotonic()
            start = max(now, self._rx_free_at)
            self._rx_free_at = start + len(data) * self.byte_time()
            self.sim.wait(self._rx_free_at - now)
        return data

    def _send(self, data: bytes) -> None:
        if not self.baudrate:
            os.write(self.fd, data)
            return
        # Pace: write byte by byte at the wire rate, from a start time (no drift accumulation).
        per = self.byte_time()
        start = time.monotonic()
        for i in range(len(data)):
            if self.closed:
                raise ConnectionClosed(f"{self.peer}: closed mid-reply")
            due = start + i * per
            delay = due - time.monotonic()
            if delay > 0:
                self.sim.wait(delay)
            os.write(self.fd, data[i:i + 1])
        tail = start + len(data) * per - time.monotonic()
        if tail > 0:
            self.sim.wait(tail)

    def _close(self) -> None:
        # The pty belongs to the server, not to one session: nothing to close here.
        pass


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


# -- the simulator --------------------------------------------------------------------------------
class DeviceSimulator:
    """Base of every protocol simulator: lifecycle, sessions, faults, reboot and power."""

    #: Seconds a reboot or power-on takes unless the model says otherwise.
    default_boot_time = 2.0

    def __init__(self, *, name: str = "device", host: str = "127.0.0.1", port: int = 0,
                 username: str = "admin", password: str = "", boot_time: float | None = None,
                 seed: int | None = None) -> None:
        self.name = name
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.boot_time = self.default_boot_time if boot_time is None else boot_time
        self.faults = Faults()
        self.rng = random.Random(seed)
        self.servers: list[Server] = []
        self.errors: list[str] = []
        self.down = False               # rebooting or unpowered: refuse everything
        self.powered = True
        self.session_generation = 0     # bumped on reboot; serial sessions notice it
        self.boot_count = 0
        self._sessions: set[SimConnection] = set()
        self._threads: set[threading.Thread] = set()
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._boot_timer: threading.Timer | None = None
        self.started = False

    # lifecycle ---------------------------------------------------------------------------------
    def build_servers(self) -> list[Server]:
        """Override: the servers this device listens on. Default: raw TCP on host:port."""
        return [TcpServer(self, self.host, self.port)]

    def start(self) -> DeviceSimulator:
        self._stopping.clear()
        if not self.servers:
            self.servers = self.build_servers()
        started: list[Server] = []
        try:
            for server in self.servers:
                server.start()
                started.append(server)
        except BaseException:
            for server in started:
                server.stop()
            raise
        self.started = True
        return self

    def stop(self) -> None:
        self._stopping.set()
        with self._lock:
            timer, self._boot_timer = self._boot_timer, None
        if timer is not None:
            timer.cancel()
            timer.join(timeout=5)
        for server in self.servers:
            server.stop()
        self.close_sessions()
        # Session threads may start more threads (SSH channels) while we wait: join until none.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with self._lock:
                threads = [t for t in self._threads if t is not threading.current_thread()]
            if not threads:
                break
            for t in threads:
                t.join(timeout=max(0.0, deadline - time.monotonic()))
                if not t.is_alive():
                    with self._lock:
                        self._threads.discard(t)
        self.started = False

    def __enter__(self) -> DeviceSimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def wait(self, seconds: float) -> None:
        """Emulated device time (motion, warm-up, wire pacing); cut short by stop()."""
        if seconds > 0:
            self._stopping.wait(seconds)

    def log_error(self, text: str) -> None:
        self.errors.append(text)

    # sessions ----------------------------------------------------------------------------------
    def spawn(self, target: Callable[..., object], *args: object, name: str) -> threading.Thread:
        """Start a thread that ``stop()`` will join (sessions, SSH connections)."""
        def tracked() -> None:
            try:
                target(*args)
            finally:
                with self._lock:
                    self._threads.discard(threading.current_thread())

        t = threading.Thread(target=tracked, name=name, daemon=True)
        with self._lock:
            self._threads.add(t)
        t.start()
        return t

    def serve_socket(self, client: socket.socket, peer: str, server: TcpServer) -> None:
        conn = server.make_connection(client, peer)
        self.spawn(self.run_session, conn, name=f"sim-session-{self.name}-{peer}")

    def run_session(self, conn: SimConnection) -> None:
        with self._lock:
            if self.stopping:
                conn.close()
                return
            self._sessions.add(conn)
        try:
            self.handle_connection(conn)
        except (ConnectionClosed, TimeoutError):
            pass  # the session ended; that is the normal way out of a handler
        except Exception as exc:  # noqa: BLE001 - a simulator bug is recorded, not hidden
            self.log_error(f"session {conn.peer} failed: {exc!r}")
        finally:
            conn.close()
            with self._lock:
                self._sessions.discard(conn)

    def handle_connection(self, conn: SimConnection) -> None:
        """Override: speak the protocol on one session until it ends."""
        raise NotImplementedError

    def handle_datagram(self, data: bytes, reply: Callable[[bytes], None]) -> None:
        """Override for UDP devices."""
        raise NotImplementedError

    def close_sessions(self) -> None:
        with self._lock:
            sessions = list(self._sessions)
        for conn in sessions:
            conn.close()

    @property
    def session_count(self) -> int:
        with self._lock:
            return len(self._sessions)

    def iter_sessions(self) -> Iterator[SimConnection]:
        with self._lock:
            yield from list(self._sessions)

    # faults, reboot, power ---------------------------------------------------------------------
    def set_fault(self, knob: str, value: str = "") -> None:
        """Switch a fault on by its command-line name (see ``simulators.faults``)."""
        f = self.faults
        if knob == "refuse":
            f.refuse = True
        elif knob == "slow":
            f.delay = float(value or 2.0)
        elif knob == "silent":
            f.silent = True
        elif knob == "garbage":
            f.garbage = True
        elif knob == "drop":
            f.drop_mid_reply = True
        elif knob == "bad-password":
            f.reject_password = True
        elif knob == "lossy":
            f.lossy = float(value or 0.3)
        elif knob == "reboot":
            self.reboot(float(value) if value else None)
        else:
            self.set_protocol_fault(knob, value)
        self.sync_servers()

    def sync_servers(self) -> None:
        """Open or close listeners now to match refuse/down (see ``Server.sync``)."""
        for server in self.servers:
            server.sync()

    def set_protocol_fault(self, knob: str, value: str) -> None:
        raise ValueError(f"{type(self).__name__} has no fault knob {knob!r}")

    def clear_faults(self) -> None:
        self.faults.clear()
        self.sync_servers()

    def reboot(self, seconds: float | None = None) -> None:
        """Close every session and refuse connections for ``seconds`` (default: boot time)."""
        duration = self.boot_time if seconds is None else seconds
        with self._lock:
            self.down = True
            self.session_generation += 1
            if self._boot_timer is not None:
                self._boot_timer.cancel()
            self.close_sessions()
            self.on_shutdown()
            self.sync_servers()
            if not self.powered:
                return
            self._boot_timer = threading.Timer(duration, self._boot_done)
            self._boot_timer.daemon = True
            self._boot_timer.start()

    def _boot_done(self) -> None:
        with self._lock:
            if self.stopping or not self.powered:
                return
            self.boot_count += 1
            self.on_boot()
            self.down = False
            self._boot_timer = None
            self.sync_servers()

    def power_off(self) -> None:
        """Mains off (a PDU outlet): everything stops until ``power_on``."""
        with self._lock:
            self.powered = False
            self.down = True
            self.session_generation += 1
            if self._boot_timer is not None:
                self._boot_timer.cancel()
                self._boot_timer = None
            self.close_sessions()
            self.on_shutdown()
            self.sync_servers()

    def power_on(self) -> None:
        """Mains on: the unit boots and serves again after its boot time."""
        with self._lock:
            if self.powered:
                return
            self.powered = True
            self._boot_timer = threading.Timer(self.boot_time, self._boot_done)
            self._boot_timer.daemon = True
            self._boot_timer.start()

    def on_shutdown(self) -> None:
        """Override: forget volatile state (calls, per-session settings)."""

    def on_boot(self) -> None:
        """Override: state right after a boot."""

    # addressing ---------------------------------------------------------------------------------
    def move_to(self, host: str) -> None:
        """Serve on a new address from now on (its IP configuration was applied)."""
        with self._lock:
            self.host = host
            self.close_sessions()
            for server in self.servers:
                server.move_to(host)

    def urls(self) -> list[str]:
        return [s.url() for s in self.servers]
