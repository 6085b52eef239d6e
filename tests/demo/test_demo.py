"""``roomops demo`` end to end: a real process tree (central, simulators, six agents) on a copy of
the shipped profiles moved to a private 127.25x.0.0/16 range, then a clean stop on SIGINT."""

from __future__ import annotations

import os
import re
import selectors
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from roomops.demo import ROLES, write_private

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "demo-password-1"
pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def private_profiles(root: Path) -> Path:
    """The shipped profiles with every 127.0.x.y address moved to 127.25N.x.y (N from the pid), so
    the test never fights a developer's own demo or the loopback fixture's 127.200-249 range."""
    profiles = root / "profiles"
    shutil.copytree(REPO / "profiles", profiles)
    second = 250 + os.getpid() % 5
    for folder in ("sites", "venues"):
        for file in (profiles / folder).glob("*.yaml"):
            file.write_text(file.read_text(encoding="utf-8").replace("127.0.", f"127.{second}."),
                            encoding="utf-8")
    return profiles


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def read_until(proc: subprocess.Popen[bytes], marker: str, timeout: float) -> str:
    """Stdout until it contains ``marker``; fails with what was printed otherwise. Reads the raw
    fd: a buffered readline would hide lines that arrived together from the selector."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    seen = b""
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        while marker.encode() not in seen:
            left = deadline - time.monotonic()
            if left <= 0 or not sel.select(left):
                break
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            seen += chunk
    text = seen.decode(errors="replace")
    assert marker in text, f"demo never printed {marker!r}; stdout was:\n{text}"
    return text


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (from /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue     # exited while we looked
        parents[int(entry.name)] = int(fields[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def login(client: httpx.Client, username: str) -> dict[str, str]:
    reply = client.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
    assert reply.status_code == 200, f"{username}: {reply.status_code} {reply.text}"
    return {"Authorization": f"Bearer {reply.json()['access_token']}"}


def second_demo(tmp_path: Path, profiles: Path, data: Path, port: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "roomops.cli", "demo", "--profiles", str(profiles), "--data-dir", str(data),
         "--port", str(port), "--password", PASSWORD],
        cwd=tmp_path, capture_output=True, text=True, timeout=60)


def snapshot(data: Path) -> dict[str, int]:
    """Every file of a running demo with its inode: a second demo must delete or replace none."""
    return {str(p.relative_to(data)): p.stat().st_ino for p in data.rglob("*") if p.is_file()}


def check_second_demo_refuses(tmp_path: Path, profiles: Path, data: Path, port: int, first_pid: int) -> None:
    before = snapshot(data)
    assert {"central.db", "central.db-wal", "logs/central.log"} <= set(before), sorted(before)
    same = second_demo(tmp_path, profiles, data, port)
    assert same.returncode == 1
    assert "another demo is running" in same.stderr and f"pid {first_pid}" in same.stderr, same.stderr
    assert "Traceback" not in same.stderr
    other = tmp_path / "other-data"
    busy = second_demo(tmp_path, profiles, other, port)
    assert busy.returncode == 1
    assert f"address already in use: 127.0.0.1:{port} (central)" in busy.stderr, busy.stderr
    assert "Nothing was changed" in busy.stderr
    assert sorted(p.name for p in other.iterdir()) == ["demo.lock"]
    after = snapshot(data)
    assert all(after.get(name) == inode for name, inode in before.items()), "the second demo touched files"


def check_reports_and_logs(client: httpx.Client, headers: dict[str, str], data: Path) -> None:
    year = time.gmtime().tm_year
    for lang in ("zh", "zh-CN", "en"):
        pdf = client.get("/api/v1/reports/annual", params={"format": "pdf", "lang": lang}, headers=headers)
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF"), (lang, pdf.text[:200])
    faults_pdf = client.get("/api/v1/reports/faults", params={"format": "pdf", "lang": "zh"}, headers=headers)
    assert faults_pdf.status_code == 200
    # the demo's own inspection at start gives the inspection report a record at every site
    deadline = time.monotonic() + 300
    done: dict[str, int] = {}
    while time.monotonic() < deadline:
        view = client.get("/api/v1/reports/inspections", params={"year": year}, headers=headers).json()
        done = {s["site_id"]: s["done"] for s in view["sites"]}
        if done and all(done.values()):
            break
        time.sleep(3)    # six inspections with test calls; nothing to read meanwhile
    assert done and all(done.values()), done
    # central saw each agent connect from an address: the renewal section knows it
    body = client.get("/api/v1/reports/annual", headers=headers).json()
    assert all(r["addresses"] for r in body["renewal"]), body["renewal"]
    logs = data / "logs"
    central_log = (logs / "central.log").read_text(encoding="utf-8")
    assert "agent of site lhasa connected" in central_log, central_log[-2000:]
    assert "GET /api/v1" not in central_log and "connection open" not in central_log   # no access lines
    assert "paramiko" not in (logs / "simulators.log").read_text(encoding="utf-8")
    assert "serving" in (logs / "simulators.log").read_text(encoding="utf-8")
    agent_log = (logs / "agent-lhasa.log").read_text(encoding="utf-8")
    assert "agent for site lhasa started" in agent_log
    assert "executed successfully" not in agent_log and "Running job" not in agent_log


def test_demo_comes_up_and_stops_cleanly_on_sigint(tmp_path: Path) -> None:
    profiles = private_profiles(tmp_path)
    data = tmp_path / "data"
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "roomops.cli", "demo", "--profiles", str(profiles), "--data-dir", str(data),
         "--port", str(port), "--password", PASSWORD, "--faults", "--poll-interval", "2"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        banner = read_until(proc, "Press Ctrl-C", timeout=150)
        url = f"http://127.0.0.1:{port}"
        assert f"dashboard at {url}/" in banner
        assert "6/6 agents connected" in banner, banner
        assert PASSWORD not in banner              # a given password is never echoed
        children = descendants(proc.pid)
        assert len(children) >= 8, f"central, simulators and six agents expected, got {children}"

        for token in (data / "tokens").glob("*.token"):
            assert stat.S_IMODE(token.stat().st_mode) == 0o600, token
        assert len(list((data / "tokens").glob("*.token"))) == 6

        with httpx.Client(base_url=url, timeout=10, follow_redirects=True) as client:
            assert client.get("/").status_code == 200
            for role in ROLES:
                me = client.get("/api/v1/auth/me", headers=login(client, role))
                assert me.json()["roles"] == [role]
            admin = login(client, "admin")
            sites = client.get("/api/v1/sites", headers=admin).json()
            assert {s["id"] for s in sites if s["agent_connected"]} == {
                "shanghai-hq", "urumqi", "lhasa", "guangzhou", "kunming", "xining"}
            # Guangzhou's codec is driven over HTTPS (getxml/putxml, certificate pinned on first use)
            deadline = time.monotonic() + 40
            codec: dict[str, object] = {}
            while time.monotonic() < deadline:
                codec = client.get("/api/v1/devices/guangzhou.codec", headers=admin).json()
                if codec.get("up"):
                    break
                time.sleep(1)   # the agents poll every 2 s; nothing to read meanwhile
            assert codec.get("up") is True and str(codec["address"]).startswith("https://"), codec
            meetings = client.get("/api/v1/meetings", headers=admin).json()
            assert len(meetings) == 1 and len(meetings[0].get("sites", [1] * 6)) == 6
            # --faults: the silent camera goes down and opens a fault within a few polls
            deadline = time.monotonic() + 40
            open_faults: list[dict[str, object]] = []
            while time.monotonic() < deadline:
                open_faults = client.get("/api/v1/faults", params={"open": "true"}, headers=admin).json()
                if any(f["device_id"] == "lhasa.camera1" for f in open_faults):
                    break
                time.sleep(1)   # the agents poll every 2 s; nothing to read meanwhile
            assert any(f["device_id"] == "lhasa.camera1" for f in open_faults), open_faults
            check_second_demo_refuses(tmp_path, profiles, data, port, proc.pid)
            check_reports_and_logs(client, admin, data)
    finally:
        children = descendants(proc.pid) if proc.poll() is None else set()
        proc.send_signal(signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=40)
        except subprocess.TimeoutExpired:
            proc.kill()
            for pid in descendants(proc.pid):
                os.kill(pid, signal.SIGKILL)
            raise
    err_text = err.decode(errors="replace")
    assert proc.returncode == 0, err_text
    assert "demo stopped" in err_text
    leftovers = [pid for pid in children if alive(pid)]
    assert not leftovers, f"orphans after SIGINT: {leftovers}"
    assert not re.search(r"Traceback", err_text), err_text


def test_generated_password_file_is_private(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "demo-password"
    path.parent.mkdir()
    path.write_text("old")
    os.chmod(path, 0o644)        # a leftover readable copy is replaced, never reused
    write_private(path, "s3cret-value")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text() == "s3cret-value\n"
