"""Benchmark 1: one Cisco xAPI request/reply over SSH, three ways against one simulator.

- our ``CiscoRoomOSDriver`` (terminal mode and JSON mode), one ``xStatus Standby`` each time
  through the driver's single-request path (``_status``, what ``health()`` is made of);
- raw paramiko on an open interactive channel (TCP_NODELAY set), reading until ``OK``;
- netmiko ``send_command`` (device type ``generic``, ``expect_string`` on the end of the reply),
  on the same simulator, with echo on as a CLI has it.
"""

from __future__ import annotations

import re
import socket
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import paramiko

from drivers.cisco_roomos import CiscoRoomOSDriver
from drivers.roles import Endpoint
from roomops.bench.report import Section
from roomops.bench.sizes import Sizes
from roomops.bench.stats import Summary, ms, ratio
from simulators.cisco_roomos import CiscoRoomOSSimulator
from simulators.codec_common import CodecOptions
from simulators.fabric import CallFabric

COMMAND = "xStatus Standby"
PASSWORD = "bench-Cisco-1"
HOST = "127.250.1.10"
REPLY_END = re.compile(rb"\*\* end\r?\n\s*OK\r?\n")


def _timed(op: Callable[[], object], count: int, warmup: int = 5) -> list[float]:
    for _ in range(warmup):
        op()
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        op()
        samples.append(time.perf_counter() - start)
    return samples


def _driver_samples(sim: CiscoRoomOSSimulator, known_hosts: Path, mode: str, count: int) -> list[float]:
    endpoint = Endpoint("ssh", host=sim.host, port=sim.servers[0].port, username="admin",  # type: ignore[attr-defined]
                        password=PASSWORD, known_hosts=str(known_hosts), timeout=5.0,
                        options={"output_mode": mode})
    driver = CiscoRoomOSDriver(endpoint, name="bench.codec")
    driver.connect()
    try:
        return _timed(lambda: driver._status("Standby"), count)
    finally:
        driver.close()


class RawChannel:
    """The baseline: paramiko's interactive channel and a read loop, nothing else."""

    def __init__(self, host: str, port: int) -> None:
        sock = socket.create_connection((host, port), timeout=5)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.client = paramiko.SSHClient()
        self.client.set_missing_host_key_policy(paramiko.AutoAddPolicy())   # our own simulator
        self.client.connect(host, port, username="admin", password=PASSWORD, sock=sock,
                            look_for_keys=False, allow_agent=False, timeout=5)
        self.channel = self.client.invoke_shell()
        self.channel.settimeout(5)
        self._read_until(re.compile(rb"Login successful.*?OK\r?\n", re.S))
        self.channel.sendall(b"echo off\n")
        self._read_until(re.compile(rb"OK\r?\n"))

    def _read_until(self, pattern: re.Pattern[bytes]) -> bytes:
        data = b""
        while not pattern.search(data):
            chunk = self.channel.recv(65536)
            if not chunk:
                raise ConnectionError(f"channel closed; got {data[-200:]!r}")
            data += chunk
        return data

    def ask(self) -> bytes:
        self.channel.sendall(COMMAND.encode() + b"\n")
        return self._read_until(REPLY_END)

    def close(self) -> None:
        self.channel.close()
        self.client.close()


def _netmiko_samples(host: str, port: int, count: int) -> list[float]:
    from netmiko import ConnectHandler

    conn = ConnectHandler(device_type="generic", host=host, port=port, username="admin", password=PASSWORD,
                          fast_cli=True, timeout=10, conn_timeout=10, auth_timeout=10)
    try:
        def ask() -> None:
            out = conn.send_command(COMMAND, expect_string=r"\*\* end\s+OK", read_timeout=10)
            if "Standby" not in out:
                raise RuntimeError(f"netmiko read an unexpected reply: {out[:200]!r}")
        return _timed(ask, count, warmup=2)
    finally:
        conn.disconnect()


def run(sizes: Sizes) -> Section:
    started = time.monotonic()
    sim = CiscoRoomOSSimulator(name="bench.codec", host=HOST, port=0, password=PASSWORD, boot_time=0.1,
                               options=CodecOptions(model="Cisco Room Kit", firmware="ce9.15.3.17",
                                                    serial="FOC0000BENCH"),
                               fabric=CallFabric(), transport="ssh")
    results: dict[str, Summary] = {}
    with sim, tempfile.TemporaryDirectory(prefix="roomops-bench-") as tmp:
        known = Path(tmp) / "known_hosts"
        sim.servers[0].write_known_hosts(str(known))  # type: ignore[attr-defined]
        port = sim.servers[0].port  # type: ignore[attr-defined]
        raw = RawChannel(HOST, port)
        try:
            results["raw paramiko, open channel (baseline)"] = Summary.of(_timed(raw.ask, sizes.ssh_requests))
        finally:
            raw.close()
        results["RoomOps CiscoRoomOSDriver, terminal mode"] = Summary.of(
            _driver_samples(sim, known, "terminal", sizes.ssh_requests))
        results["RoomOps CiscoRoomOSDriver, JSON mode"] = Summary.of(
            _driver_samples(sim, known, "json", sizes.ssh_requests))
        results["netmiko send_command (generic, expect_string)"] = Summary.of(
            _netmiko_samples(HOST, port, sizes.netmiko_requests))
    base = results["raw paramiko, open channel (baseline)"].median
    section = Section(
        title="Command round trip: Cisco driver vs raw paramiko vs netmiko",
        method=(f"One `{COMMAND}` request and its full reply over SSH to the Cisco RoomOS simulator "
                f"(paramiko server, TCP_NODELAY on both ends) on {HOST}, all on one open session each: "
                "our driver (`CiscoRoomOSDriver`, its one-request path `_status` that `health()` is made "
                "of) in terminal and in JSON mode; raw paramiko `invoke_shell` reading until `** end` + "
                "`OK` (the floor: no parsing); netmiko 4 `send_command` with device type `generic` and "
                "`expect_string` (netmiko cannot learn a prompt here: the xAPI has none), echo on as "
                "netmiko expects. Warm-up requests are not counted."),
        header=["client", "requests", "median", "p99", "median vs raw paramiko"])
    for name, s in results.items():
        section.rows.append([name, str(s.n), ms(s.median), ms(s.p99), ratio(s.median, base)])
    section.seconds = time.monotonic() - started
    return section
