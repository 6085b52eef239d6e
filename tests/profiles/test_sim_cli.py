"""``roomops sim`` end to end: real processes, sockets, ptys; and SiteSimulation in process."""

from __future__ import annotations

import hashlib
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import serial

from agent.profiles import load_site
from roomops.sim_cli import to_sim_specs
from simulators.registry import simulator_class
from simulators.site import SiteSimulation
from tests.profiles.helpers import REPO, make_tree, write


def lab_site(profiles: Path, site_id: str, next_address: Callable[[], str]) -> Path:
    display, camera, switcher, pdu = (next_address() for _ in range(4))
    return write(profiles / "sites" / f"{site_id}.yaml", f"""
        id: {site_id}
        name: {{zh: 实验室, en: Lab}}
        timezone: Asia/Shanghai
        central_url: http://127.0.0.1:8000
        demo: true
        secrets_file: .roomops/demo-secrets.yaml
        expect: {{min_uplink_mbps: 4}}
        devices:
          - id: display1
            model: pjlink-display
            address: {display}
            credentials: {{password: "secret:{site_id}.pjlink"}}
            identity: {{serial: "PJD-1"}}
            outlet: {{pdu: pdu, outlet: 3}}
          - id: camera1
            model: sony-evi-d70
            transport: serial
            serial_device: .roomops/run/{site_id}/camera1
          - id: camera2
            model: sony-srg300
            transport: udp
            address: {camera}
            port: 52381
          - id: switcher
            model: extron-dxp88
            address: {switcher}
            port: 2323
          - id: pdu
            model: apc-ap7900
            transport: telnet
            address: {pdu}
            port: 2323
            credentials: {{password: "secret:{site_id}.pdu"}}
        """)


def has_simulator(driver: str) -> bool:
    try:
        simulator_class(driver)
    except LookupError:
        return False
    return True


def read_line(proc: subprocess.Popen[str], timeout: float) -> str:
    sel = selectors.DefaultSelector()
    assert proc.stdout is not None and proc.stderr is not None
    sel.register(proc.stdout, selectors.EVENT_READ)
    if not sel.select(timeout):
        raise TimeoutError("roomops sim printed nothing")
    line = proc.stdout.readline()
    if not line:
        raise AssertionError(f"roomops sim ended: {proc.stderr.read()}")
    return line


def pjlink_power(host: str, port: int, password: str) -> str:
    with socket.create_connection((host, port), timeout=3) as sock:
        greeting = sock.recv(64).decode()
        assert greeting.startswith("PJLINK 1 "), greeting
        digest = hashlib.md5((greeting.split()[2] + password).encode()).hexdigest()
        sock.sendall(f"{digest}%1POWR ?\r".encode())
        return sock.recv(64).decode().strip()


def test_roomops_sim_serves_two_sites(tmp_path: Path, loopback_factory) -> None:
    profiles = make_tree(tmp_path)
    a = lab_site(profiles, "lab", loopback_factory)
    b = lab_site(profiles, "lab2", loopback_factory)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "roomops.cli", "sim", "--site", str(a), "--site", str(b), "--json",
         "--fault", "lab2.display1=refuse"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        entries = {e["id"]: e for e in json.loads(read_line(proc, 20))}
        link = tmp_path / ".roomops" / "run" / "lab" / "camera1"
        assert entries["lab.camera1"]["url"] == f"serial://{link}"
        assert link.is_symlink()
        display = entries["lab.display1"]
        assert display["url"].startswith("tcp://") and display["password"]
        host, port = display["url"][len("tcp://"):].rsplit(":", 1)
        assert pjlink_power(host, int(port), display["password"]) == "%1POWR=0"
        # the fault knob: lab2's display refuses connections
        host2, port2 = entries["lab2.display1"]["url"][len("tcp://"):].rsplit(":", 1)
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((host2, int(port2)), timeout=2).close()
        # the serial camera answers a VISCA power inquiry on its stable path
        with serial.Serial(str(link), 9600, timeout=2) as line:
            line.write(bytes.fromhex("81090400FF"))
            reply = line.read(4)
        assert reply[:2] == b"\x90\x50" and reply[-1:] == b"\xff"
        assert entries["lab.pdu"]["url"].endswith(":2323")
        assert ("lab.switcher" in entries) == has_simulator("extron-sis-switcher")
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    if not has_simulator("extron-sis-switcher"):
        assert "skipped lab.switcher (extron-dxp88)" in err
    assert not (tmp_path / ".roomops" / "run" / "lab" / "camera1").exists()


def test_site_simulation_wires_the_pdu_and_stops_cleanly(tmp_path: Path, loopback_factory) -> None:
    profiles = make_tree(tmp_path)
    site = load_site(lab_site(profiles, "lab", loopback_factory))
    specs = to_sim_specs(site)
    by_id = {s.device_id: s for s in specs}
    assert by_id["lab.pdu"].options["outlets"] == {3: "lab.display1"}
    assert by_id["lab.display1"].password == site.device("display1").password()
    notices: list[str] = []
    with SiteSimulation(specs, notify=notices.append) as sim:
        display = sim.simulators["lab.display1"]
        sim.simulators["lab.pdu"].switch(3, False)
        assert display.powered is False and display.down is True
        sim.simulators["lab.pdu"].switch(3, True)
        assert display.powered is True
    assert all(not s.started for s in sim.simulators.values())


def test_unknown_fault_device_is_refused(tmp_path: Path, loopback_factory) -> None:
    profiles = make_tree(tmp_path)
    site = load_site(lab_site(profiles, "lab", loopback_factory))
    with pytest.raises(ValueError, match="unknown device"):
        SiteSimulation(to_sim_specs(site), faults={"lab.nothing": ["silent"]})
