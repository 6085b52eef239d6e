"""``roomops central`` as real processes: init, site add, token issue, user add, serve."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOMOPS = [sys.executable, "-m", "roomops.cli"]


def run(data_dir: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ROOMOPS_DATA_DIR": str(data_dir)}
    return subprocess.run([*ROOMOPS, "central", *args], input=stdin, capture_output=True, text=True, env=env,
                          timeout=60, check=False)


def test_init_site_token_user(tmp_path: Path) -> None:
    init = run(tmp_path, "init", "--password-stdin", stdin="admin password 1\n")
    assert init.returncode == 0, init.stderr
    assert "admin 'admin' created" in init.stdout
    again = run(tmp_path, "init", "--password-stdin", stdin="other password\n")
    assert again.returncode == 0 and "no admin created" in again.stdout

    assert run(tmp_path, "site", "add", "urumqi", "--name", "Urumqi", "--name-zh", "乌鲁木齐").returncode == 0
    duplicate = run(tmp_path, "site", "add", "urumqi")
    assert duplicate.returncode == 2 and "already exists" in duplicate.stderr
    token = run(tmp_path, "token", "issue", "--site", "urumqi")
    assert token.returncode == 0 and token.stdout.startswith("rst_") and "shown once" in token.stderr
    assert run(tmp_path, "token", "issue", "--site", "nowhere").returncode == 2
    short = run(tmp_path, "user", "add", "li", "--role", "viewer", "--password-stdin", stdin="short\n")
    assert short.returncode == 2 and "at least 8" in short.stderr
    ok = run(tmp_path, "user", "add", "li", "--role", "viewer", "--role", "secretariat", "--password-stdin",
             stdin="long enough password\n")
    assert ok.returncode == 0 and "secretariat, viewer" in ok.stdout
    assert token.stdout.strip() not in (tmp_path / "central.db").read_bytes().decode("latin-1")


def test_serve_runs_under_uvicorn(tmp_path: Path, loopback: str) -> None:
    assert run(tmp_path, "init", "--password-stdin", stdin="admin password 1\n").returncode == 0
    env = {**os.environ, "ROOMOPS_DATA_DIR": str(tmp_path)}
    process = subprocess.Popen([*ROOMOPS, "central", "serve", "--host", loopback, "--port", "18181",
                                "--log-level", "warning"], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx.get(f"http://{loopback}:18181/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.communicate()[1]
                assert time.monotonic() < deadline, "server did not come up"
                time.sleep(0.1)   # waiting for a child process to bind, not for a device
        assert response.json() == {"status": "ok"}
        login = httpx.post(f"http://{loopback}:18181/api/v1/auth/token",
                           data={"username": "admin", "password": "admin password 1"})
        assert login.status_code == 200
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    assert "admin password 1" not in stderr
