"""The offline bundle installs, upgrades and rolls back with no network at all (``unshare -n``)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.deploy.conftest import Bundle

HERE = Path(__file__).resolve().parent


def offline(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """A command in a fresh network namespace: loopback only, nothing beyond it."""
    script = 'ip link set lo up && exec "$@"'
    return subprocess.run(["unshare", "-n", "sh", "-c", script, "sh", *args], capture_output=True,
                          text=True, timeout=timeout, check=False)


def install(bundle: Bundle, prefix: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return offline(str(bundle.folder / "install.sh"), "--prefix", str(prefix), "--user", "root", *args)


def test_bundle_holds_what_an_offline_install_needs(bundles: tuple[Bundle, Bundle]) -> None:
    first, _ = bundles
    names = {p.relative_to(first.folder).as_posix() for p in first.folder.rglob("*") if p.is_file()}
    assert {"install.sh", "VERSION", "SHA256SUMS", "requirements.lock", "fonts/wqy-zenhei.ttc",
            "deploy/systemd/roomops-central.service", "deploy/systemd/roomops-agent@.service",
            "deploy/systemd/roomops-backup.timer", "deploy/nginx-roomops.conf"} <= names
    wheel = next((first.folder / "wheels").glob("roomops-0.1.0-*.whl"))
    inside = zipfile.ZipFile(wheel).namelist()
    assert any(n.startswith("central/web/static/") for n in inside), "dashboard assets missing from the wheel"
    assert any(n.startswith("central/web/templates/") for n in inside)
    assert any(n.startswith("profiles/models/") for n in names)


def test_offline_install_of_central_and_an_agent_passes_the_selftest(bundles: tuple[Bundle, Bundle],
                                                                      tmp_path: Path) -> None:
    first, _ = bundles
    result = tmp_path / "seen.json"
    done = offline(sys.executable, str(HERE / "offline_site.py"), str(first.folder), str(tmp_path / "root"),
                   "urumqi", str(result), timeout=400)
    assert done.returncode == 0, done.stdout + done.stderr
    seen = json.loads(result.read_text())
    assert "venv" in seen["central_install"] and "installed from" in seen["central_install"]
    again = seen["central_install_again"]
    assert "present" in again and "kept" in again and "unchanged" in again
    assert "written" not in again and "generated" not in again and "installed from" not in again
    assert seen["modes"] == {"central.env": "0o600", "admin-password": "0o600", "urumqi.token": "0o600"}
    assert seen["verdict"] == "ready", json.dumps(seen.get("selftest"), indent=1)[:3000]
    failed = [c for c in seen["selftest"]["checks"] if c.get("status") not in ("pass", "skip")]
    assert not failed


def _site_rows(prefix: Path) -> list[tuple[str, ...]]:
    with sqlite3.connect(prefix / "var/lib/roomops/central/central.db") as db:
        return [tuple(row) for row in db.execute("SELECT id, name FROM sites ORDER BY id")]


def _revision(prefix: Path) -> str:
    with sqlite3.connect(prefix / "var/lib/roomops/central/central.db") as db:
        return str(db.execute("SELECT version_num FROM alembic_version").fetchone()[0])


def test_upgrade_keeps_the_data_and_the_previous_version(bundles: tuple[Bundle, Bundle],
                                                         tmp_path: Path) -> None:
    first, second = bundles
    prefix = tmp_path / "root"
    assert install(first, prefix, "--central").returncode == 0
    env_file = prefix / "etc/roomops/central.env"
    roomops = prefix / "opt/roomops/current/bin/roomops"
    added = offline("sh", "-c", f'set -a; . "{env_file}"; exec "{roomops}" central site add lhasa '
                    "--name Lhasa")
    assert added.returncode == 0, added.stderr
    before, revision = _site_rows(prefix), _revision(prefix)

    up = install(second, prefix, "--central")
    assert up.returncode == 0, up.stdout + up.stderr
    assert "backup before the upgrade" in up.stdout and "data kept" in up.stdout
    assert (prefix / "opt/roomops/current").resolve() == prefix / "opt/roomops/venvs/0.1.1"
    assert (prefix / "opt/roomops/venvs/0.1.0/bin/roomops").exists(), "the previous venv must stay"
    assert _site_rows(prefix) == before and _revision(prefix) == revision
    assert list((prefix / "var/backups/roomops/pre-upgrade").iterdir())


def test_an_upgrade_that_does_not_come_up_rolls_back_by_itself(bundles: tuple[Bundle, Bundle],
                                                              tmp_path: Path) -> None:
    first, second = bundles
    broken = _broken_copy(second, tmp_path / "broken")
    prefix = tmp_path / "root"
    assert install(first, prefix, "--central").returncode == 0
    before = _site_rows(prefix)

    up = install(broken, prefix, "--central")
    assert up.returncode != 0
    assert "rolled back to 0.1.0" in up.stderr, up.stdout + up.stderr
    assert (prefix / "opt/roomops/current").resolve() == prefix / "opt/roomops/venvs/0.1.0"
    assert not (prefix / "opt/roomops/venvs/0.1.1").exists()
    assert _site_rows(prefix) == before
    again = install(first, prefix, "--central")
    assert again.returncode == 0 and "answers /healthz" in again.stdout


def _broken_copy(bundle: Bundle, target: Path) -> Bundle:
    """The same bundle with a RoomOps wheel whose central cannot start (a bad build)."""
    subprocess.run(["cp", "-a", str(bundle.folder), str(target)], check=True)
    wheel = next((target / "wheels").glob("roomops-*.whl"))
    patched = wheel.with_suffix(".tmp")
    with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(patched, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "central/app.py":
                data = b'raise RuntimeError("a broken build")\n' + data
            dst.writestr(item, data)
    patched.replace(wheel)
    sums = subprocess.run(["sh", "-c", "find . -type f ! -name SHA256SUMS | sort | sed 's#^./##' | "
                           "xargs sha256sum"], cwd=target, capture_output=True, text=True, check=True)
    (target / "SHA256SUMS").write_text(sums.stdout)
    return Bundle(bundle.version, bundle.tarball, target)
