"""``roomops agent selftest --json`` as a process against ``roomops sim`` in another process, run
twice with the simulators restarted in between: the SSH units (codec, router, PDU) keep their
host keys, so the trust-on-first-use known_hosts of the first run accepts the second."""

from __future__ import annotations

import json
import os
import selectors
import signal
import stat
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import paramiko
import pytest

from simulators.host_keys import host_key_option, load_or_create_host_key
from tests.agent.real_sites import REPO, SiteCopy, make_test_site

pytestmark = pytest.mark.timeout(180)

SSH_DEVICES = {"urumqi.codec", "urumqi.router", "urumqi.pdu"}
ENV = {**os.environ, "PYTHONPATH": str(REPO)}


def start_sim(ts: SiteCopy) -> tuple[subprocess.Popen[str], list[dict[str, Any]]]:
    command = [sys.executable, "-m", "roomops.cli", "sim", "--site", str(ts.site_file), "--json"]
    proc = subprocess.Popen(command, cwd=ts.root, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        return proc, json.loads(_read_line(proc, 30))
    except BaseException:
        stop_sim(proc)
        raise


def _read_line(proc: subprocess.Popen[str], timeout: float) -> str:
    assert proc.stdout is not None and proc.stderr is not None
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        if not sel.select(timeout):
            raise TimeoutError("roomops sim printed nothing")
    line = proc.stdout.readline()
    if not line:
        raise AssertionError(f"roomops sim ended: {proc.stderr.read()}")
    return line


def stop_sim(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    return err


def selftest(ts: SiteCopy, state: Path) -> tuple[int, dict[str, Any], str]:
    command = [sys.executable, "-m", "roomops.cli", "agent", "selftest", "--site", str(ts.site_file),
               "--json", "--state-dir", str(state)]
    done = subprocess.run(command, cwd=ts.root, env=ENV, capture_output=True, text=True, timeout=120)
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        raise AssertionError(f"no JSON report (exit {done.returncode}): {done.stdout}\n{done.stderr}"
                             ) from None
    return done.returncode, report, done.stderr


def test_selftest_cli_against_roomops_sim_twice(tmp_path: Path) -> None:
    ts = make_test_site(tmp_path)
    known_hosts = tmp_path / ".roomops" / "known_hosts"
    runs = []
    for run in (1, 2):
        proc, entries = start_sim(ts)
        try:
            assert {e["id"] for e in entries} >= SSH_DEVICES
            runs.append(selftest(ts, tmp_path / "state"))
        finally:
            err = stop_sim(proc)
        assert "Traceback" not in err
        if run == 1:
            pinned = known_hosts.read_text()
    for code, report, err in runs:
        failing = [f"{c['device']} {c['name']}: {c['status']} {c['reason']}"
                   for c in report["checks"] if c["status"] not in ("pass", "skip")]
        assert failing == [], err
        skipped = {c["name"] for c in report["checks"] if c["status"] == "skip"}
        assert skipped <= {"site.uplink", "site.time"}        # need central or an NTP server
        assert report["verdict"] == "ready" and code == 0, err
        reach = {c["device"] for c in report["checks"] if c["name"] == "reachable" and c["status"] == "pass"}
        assert reach >= SSH_DEVICES
        assert "host key" not in err.lower()
    # the second run found the keys of the first: nothing new pinned, nothing refused
    assert known_hosts.read_text() == pinned
    assert len(pinned.splitlines()) == len(SSH_DEVICES)
    keys = sorted((tmp_path / ".roomops" / "sim-keys").glob("*.key"))
    assert {k.stem for k in keys} == SSH_DEVICES
    for key in keys:
        assert stat.S_IMODE(key.stat().st_mode) == 0o600


# -- the key file itself ------------------------------------------------------------------------------
def test_host_key_is_created_once_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "unit.key"
    first = load_or_create_host_key(path)
    again = load_or_create_host_key(path)
    assert isinstance(first, paramiko.ECDSAKey)
    assert again.get_base64() == first.get_base64()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert host_key_option({"host_key_path": str(path)}).get_base64() == first.get_base64()
    assert host_key_option({}) is None
    assert [p.name for p in path.parent.iterdir() if not p.name.startswith("unit.key")] == []


def test_host_key_created_concurrently_is_one_key(tmp_path: Path) -> None:
    path = tmp_path / "unit.key"
    keys: list[str] = []
    lock = threading.Lock()

    def load() -> None:
        key = load_or_create_host_key(path).get_base64()
        with lock:
            keys.append(key)

    threads = [threading.Thread(target=load) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    code = ("import sys; from simulators.host_keys import load_or_create_host_key as f; "
            "print(f(sys.argv[1]).get_base64())")
    other = subprocess.run([sys.executable, "-c", code, str(path)], env=ENV, capture_output=True, text=True,
                           timeout=30, check=True)
    assert len(keys) == 8 and len(set(keys)) == 1
    assert other.stdout.strip() == keys[0]


def test_unreadable_host_key_is_an_os_error(tmp_path: Path) -> None:
    path = tmp_path / "unit.key"
    path.write_text("not a key\n")
    with pytest.raises(OSError, match="unreadable"):
        load_or_create_host_key(path)
