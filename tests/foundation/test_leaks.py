"""Open/close cycles leak no file descriptors; a stopped simulator leaves no thread or fd."""

from __future__ import annotations

import pytest

from drivers.errors import DeviceTimeout, Disconnected
from simulators.echo import EchoSimulator
from tests.foundation.conftest import ALL_KINDS, PROMPT, Served, fd_count, sim_transport, thread_names

CYCLES = 200


def start(kind: str, host: str, tmp_path) -> Served:
    sim = EchoSimulator(serve=sim_transport(kind), host=host, password="pw", baudrate=None).start()
    served = Served(sim, kind, str(tmp_path / "known_hosts"))
    if kind == "ssh":
        sim.servers[0].write_known_hosts(served.known_hosts)  # type: ignore[attr-defined]
    return served


def cycle(served: Served, with_traffic: bool) -> None:
    t = served.transport(password="pw") if served.kind == "ssh" else served.transport()
    t.open()
    if with_traffic and served.kind not in ("serial", "socket", "udp"):
        t.read_until(PROMPT, 2.0)
    t.close()


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_open_close_cycles_leak_no_fd_and_stop_leaves_nothing(kind: str, loopback: str, tmp_path) -> None:
    # Warm up once: libraries open what they keep for the process (entropy, caches) on first use.
    warm = start(kind, loopback, tmp_path)
    cycle(warm, with_traffic=True)
    warm.sim.stop()

    threads_before = thread_names()
    fds_before = fd_count()
    served = start(kind, loopback, tmp_path)
    for i in range(CYCLES):
        cycle(served, with_traffic=i % 20 == 0)
    served.sim.stop()
    assert thread_names() == threads_before
    assert fd_count() == fds_before


@pytest.mark.parametrize("kind", ["tcp", "telnet", "ssh", "serial", "udp"])
def test_stop_with_a_client_still_connected_leaves_no_thread(kind: str, loopback: str, tmp_path) -> None:
    threads_before = thread_names()
    fds_before = fd_count()
    served = start(kind, loopback, tmp_path)
    t = served.connect(password="pw") if kind == "ssh" else served.connect()
    t.write(b"hello" if kind == "udp" else b"hello\n")
    served.sim.set_fault("slow", "30")  # a session busy in a long device wait when we stop
    t.write(b"busy" if kind == "udp" else b"busy\n")
    served.sim.stop()
    assert thread_names() == threads_before
    try:
        t.read_some(0.05)  # the device went away: whatever the link says, it must not hang
    except (DeviceTimeout, Disconnected):
        pass
    finally:
        t.close()
    assert fd_count() == fds_before
