"""``roomops central`` as real processes: init, site add, token issue, user add, serve."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from roomops.cli import main as cli_main

ROOMOPS = [sys.executable, "-m", "roomops.cli"]


def run(data_dir: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ROOMOPS_DATA_DIR": str(data_dir)}
    return subprocess.run([*ROOMOPS, "central", *args], input=stdin, capture_output=True, text=True, env=env,
                          timeout=60, check=False)


def main(data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str,
         stdin: str = "") -> tuple[int, str, str]:
    """The console script's entry point in-process (each subprocess costs seconds of imports)."""
    monkeypatch.setenv("ROOMOPS_DATA_DIR", str(data_dir))
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = cli_main(["central", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_init_site_token_user(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                              capsys: pytest.CaptureFixture[str]) -> None:
    def roomops(*args: str, stdin: str = "") -> tuple[int, str, str]:
        return main(tmp_path, monkeypatch, capsys, *args, stdin=stdin)

    code, out, _ = roomops("init", "--password-stdin", stdin="admin password 1\n")
    assert code == 0 and "admin 'admin' created" in out
    code, out, _ = roomops("init", "--password-stdin", stdin="other password\n")
    assert code == 0 and "no admin created" in out

    assert roomops("site", "add", "urumqi", "--name", "Urumqi", "--name-zh", "乌鲁木齐")[0] == 0
    code, _, err = roomops("site", "add", "urumqi")
    assert code == 2 and "already exists" in err
    code, _, err = roomops("site", "add", "mars", "--timezone", "Mars/Olympus_Mons")
    assert code == 2 and "IANA time zone" in err        # a bad zone would break every report later
    code, token, err = roomops("token", "issue", "--site", "urumqi")
    assert code == 0 and token.startswith("rst_") and "shown once" in err
    assert roomops("token", "issue", "--site", "nowhere")[0] == 2
    code, _, err = roomops("user", "add", "li", "--role", "viewer", "--password-stdin", stdin="short\n")
    assert code == 2 and "at least 8" in err
    code, out, _ = roomops("user", "add", "li", "--role", "viewer", "--role", "secretariat",
                           "--password-stdin", stdin="long enough password\n")
    assert code == 0 and "secretariat, viewer" in out
    assert token.strip() not in (tmp_path / "central.db").read_bytes().decode("latin-1")


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
