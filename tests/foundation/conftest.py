"""Serve the echo simulator over any transport and build the matching client transport."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from drivers.transports import (
    SerialTransport,
    SshTransport,
    TcpTransport,
    TelnetTransport,
    Transport,
    UdpTransport,
)
from simulators.echo import EchoSimulator
from simulators.harness import ListeningServer, PtyServer, UdpServer

#: Client kinds: "socket" is a serial transport over pyserial's socket:// URL to a raw TCP server.
STREAM_KINDS = ("tcp", "telnet", "serial", "socket", "ssh")
CONNECTED_KINDS = ("tcp", "telnet", "ssh")   # kinds with a session the device can refuse or drop
ALL_KINDS = (*STREAM_KINDS, "udp")
PROMPT = b"> "
PASSWORD = "s3cret-pw"
#: How late a DeviceTimeout may fire on this shared machine.
TOLERANCE = 0.25


@dataclass
class Served:
    sim: EchoSimulator
    kind: str
    known_hosts: str

    @property
    def host(self) -> str:
        return self.sim.host

    @property
    def port(self) -> int:
        server = self.sim.servers[0]
        assert isinstance(server, ListeningServer | UdpServer)
        return server.port

    def transport(self, **kw: object) -> Transport:
        kw.setdefault("connect_timeout", 2.0)
        kind = self.kind
        if kind == "tcp":
            return TcpTransport(self.host, self.port, **kw)
        if kind == "telnet":
            return TelnetTransport(self.host, self.port, **kw)
        if kind == "socket":
            return SerialTransport(f"socket://{self.host}:{self.port}", **kw)
        if kind == "serial":
            pty = self.sim.servers[0]
            assert isinstance(pty, PtyServer)
            return SerialTransport(pty.path, **kw)
        if kind == "udp":
            return UdpTransport(self.host, self.port, local_host=self.host, **kw)
        kw.setdefault("known_hosts", self.known_hosts)
        kw.setdefault("password", PASSWORD)
        return SshTransport(self.host, self.port, username="admin", **kw)  # type: ignore[arg-type]

    def connect(self, **kw: object) -> Transport:
        """An open transport with the device's prompt consumed: ready for a command."""
        t = self.transport(**kw)
        t.open()
        if self.kind == "udp":
            return t
        if self.kind in ("serial", "socket"):
            # A line has no connect event, and opening it discards what had arrived (pyserial
            # resets the input buffer, also on socket://): one marked round trip puts us right
            # after a fresh prompt.
            t.write(b"sync\n")
            t.read_until(b"ECHO sync\r\n", 2.0)
            t.read_until(PROMPT, 2.0)
        else:
            t.read_until(PROMPT, 2.0)
        return t


def sim_transport(kind: str) -> str:
    return "tcp" if kind == "socket" else kind


@pytest.fixture
def serve(loopback: str, tmp_path: Path) -> Iterator[Callable[..., Served]]:
    """``serve(kind, **sim_options)`` starts an echo simulator; all are stopped at teardown."""
    sims: list[EchoSimulator] = []

    def start(kind: str, **options: object) -> Served:
        options.setdefault("password", PASSWORD)
        options.setdefault("boot_time", 0.5)
        sim = EchoSimulator(serve=sim_transport(kind), host=loopback, **options)  # type: ignore[arg-type]
        sim.start()
        sims.append(sim)
        known_hosts = str(tmp_path / f"known_hosts-{len(sims)}")
        server = sim.servers[0]
        if kind == "ssh":
            server.write_known_hosts(known_hosts)  # type: ignore[attr-defined]
        return Served(sim, kind, known_hosts)

    yield start
    for sim in sims:
        sim.stop()


def fd_count() -> int:
    return len(os.listdir("/proc/self/fd"))


def thread_names() -> list[str]:
    return sorted(t.name for t in threading.enumerate())


def eventually(check: Callable[[], bool], timeout: float = 5.0, step: float = 0.02) -> float:
    """Poll ``check`` until true; return the seconds it took. Fails the test on timeout."""
    start = time.monotonic()
    pause = threading.Event()
    while not check():
        if time.monotonic() - start > timeout:
            pytest.fail(f"condition not met within {timeout} s")
        pause.wait(step)
    return time.monotonic() - start
