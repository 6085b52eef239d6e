"""The device lifecycle shared by every protocol simulator: sessions, faults, reboot, power."""

from __future__ import annotations

import random
import socket
import threading
import time
from collections.abc import Callable, Iterator

from simulators.faults import Faults
from simulators.harness.connections import ConnectionClosed, SimConnection
from simulators.harness.servers import Server, TcpServer


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
