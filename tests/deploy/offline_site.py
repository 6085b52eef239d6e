"""Run inside a network namespace with no network (``unshare -n``), with only the standard library:
install central and one site agent from an unpacked offline bundle, start central, the site's
simulators and its agent from the installed venv, and ask central for a self-test.

    python3 offline_site.py BUNDLE_DIR PREFIX SITE RESULT_JSON

Writes what it saw as JSON (install outputs, verdict, modes); exits 0 when the run went through.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

PORT = 8000                      # the demo profiles' central_url; the namespace is private
BASE = f"http://127.0.0.1:{PORT}"


def run(*args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> str:
    """Run a command to completion; its standard output (the installer reports there)."""
    done = subprocess.run(list(args), capture_output=True, text=True, env=env, input=stdin,
                          timeout=300, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args[:3])} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done.stdout


def central_env(prefix: Path) -> dict[str, str]:
    env = dict(os.environ)
    for line in (prefix / "etc/roomops/central.env").read_text().splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            env[key] = value
    return env


def wait_port(port: int, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)      # polling a server this script started
    raise SystemExit(f"nothing listens on {port} after {seconds} s")


def api(path: str, token: str = "", form: dict[str, str] | None = None, method: str = "GET") -> object:
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    request = urllib.request.Request(BASE + path, data=data, method=method if data is None else "POST")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"null")


def main() -> int:
    bundle, prefix, site, result_file = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], Path(sys.argv[4])
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    seen: dict[str, object] = {}
    installer = [str(bundle / "install.sh"), "--prefix", str(prefix), "--user", "root"]
    seen["central_install"] = run(*installer, "--central", "--port", str(PORT))
    seen["central_install_again"] = run(*installer, "--central", "--port", str(PORT))

    roomops = str(prefix / "opt/roomops/current/bin/roomops")
    env = central_env(prefix)
    run(roomops, "central", "site", "add", site, "--name", site.title(), env=env)
    token = run(roomops, "central", "token", "issue", "--site", site, env=env).strip().splitlines()[-1]
    token_file = prefix / "token.tmp"
    token_file.write_text(token + "\n")
    seen["agent_install"] = run(*installer, "--agent", site, "--token-file", str(token_file),
                                "--profile", str(bundle / "profiles/sites" / f"{site}.yaml"))
    token_file.unlink()
    etc = prefix / "etc/roomops"
    seen["modes"] = {name: oct(stat.S_IMODE((etc / name).stat().st_mode))
                     for name in ("central.env", "admin-password", f"{site}.token")}

    profile = str(etc / "profiles/sites" / f"{site}.yaml")
    logs = prefix / "logs"
    logs.mkdir(exist_ok=True)
    procs = []
    try:
        procs.append(subprocess.Popen([roomops, "central", "serve", "--port", str(PORT)], env=env,
                                      stdout=(logs / "central.log").open("w"), stderr=subprocess.STDOUT))
        procs.append(subprocess.Popen([roomops, "sim", "--site", profile],
                                      stdout=(logs / "sim.log").open("w"), stderr=subprocess.STDOUT))
        wait_port(PORT, 60)
        time.sleep(2)        # let the simulators bind before the agent's first poll (harness start-up)
        procs.append(subprocess.Popen(
            [roomops, "agent", "run", "--site", profile, "--token-file", str(etc / f"{site}.token"),
             "--state-dir", str(prefix / "var/lib/roomops" / site)],
            stdout=(logs / "agent.log").open("w"), stderr=subprocess.STDOUT))
        password = (etc / "admin-password").read_text().strip()
        login = api("/api/v1/auth/token", form={"username": "admin", "password": password})
        bearer = login["access_token"]  # type: ignore[index]
        deadline = time.monotonic() + 90
        verdict = None
        while time.monotonic() < deadline and verdict is None:
            detail = api(f"/api/v1/sites/{site}", bearer)
            if detail.get("agent_connected"):  # type: ignore[union-attr]
                break
            time.sleep(0.5)
        requested = api(f"/api/v1/sites/{site}/selftests", bearer, form={}, method="POST")
        while time.monotonic() < deadline:
            row = api(f"/api/v1/selftests/{requested['id']}", bearer)  # type: ignore[index]
            if row["state"] not in ("requested", "pending", "queued", "delivered", "running"):  # type: ignore[index]
                verdict = row["verdict"]  # type: ignore[index]
                seen["selftest"] = row
                break
            time.sleep(0.5)
        seen["verdict"] = verdict
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        seen["logs"] = {p.name: p.read_text()[-3000:] for p in logs.glob("*.log")}
        result_file.write_text(json.dumps(seen, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
