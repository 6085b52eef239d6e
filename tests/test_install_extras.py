"""Each side installs alone: a venv with only ``roomops[agent]`` runs the agent and validates a
site profile without FastAPI, Alembic or reportlab; one with only ``roomops[central]`` imports the
central app without netmiko or pyserial. The subcommands of the other side say which extra to
install. RoomOps is installed from its own wheel, its dependencies at the versions of the lock."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT / "profiles" / "sites" / "urumqi.yaml"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*==[^\s\\;]+)", re.MULTILINE)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def run(argv: list[str], cwd: Path, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def wheel_and_pins(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """RoomOps' wheel (built once) and the lock's pins as a constraints file."""
    out = tmp_path_factory.mktemp("roomops-wheel")
    built = run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(out),
                 str(ROOT)], cwd=out)
    assert built.returncode == 0, built.stderr[-2000:]
    pins = out / "constraints.txt"
    pins.write_text("\n".join(PIN.findall((ROOT / "requirements.lock").read_text())) + "\n")
    return next(out.glob("roomops-*.whl")), pins


def venv_with(extra: str, wheel_and_pins: tuple[Path, Path], where: Path) -> Path:
    """A fresh venv holding ``roomops[extra]`` and nothing else; returns its bin/ folder."""
    wheel, pins = wheel_and_pins
    venv = where / f"venv-{extra}"
    made = run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=where)
    assert made.returncode == 0, made.stderr
    # this interpreter's pip installs into the venv: the venv needs no pip of its own
    installed = run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install",
                     "--quiet", "--constraint", str(pins), f"{wheel}[{extra}]"], cwd=where, timeout=480)
    assert installed.returncode == 0, installed.stderr[-2000:]
    return venv / "bin"


def importable(bin_dir: Path, module: str, cwd: Path) -> bool:
    probe = run([str(bin_dir / "python"), "-c",
                 f"import importlib.util, sys; sys.exit(importlib.util.find_spec({module!r}) is None)"],
                cwd=cwd)
    return probe.returncode == 0


def test_an_agent_install_runs_the_agent_without_the_central_stack(
        wheel_and_pins: tuple[Path, Path], tmp_path: Path) -> None:
    bin_dir = venv_with("agent", wheel_and_pins, tmp_path)
    # run from tmp_path: the checkout's own packages must not shadow the installed ones
    imported = run([str(bin_dir / "python"), "-c",
                    "import agent.cli, agent.runtime, drivers.registry, agent; print(agent.__file__)"],
                   cwd=tmp_path)
    assert imported.returncode == 0, imported.stderr
    assert "site-packages" in imported.stdout
    helped = run([str(bin_dir / "roomops"), "agent", "--help"], cwd=tmp_path)
    assert helped.returncode == 0, helped.stderr
    assert "selftest" in helped.stdout
    validated = run([str(bin_dir / "roomops"), "profiles", "validate", str(SITE)], cwd=tmp_path)
    assert validated.returncode == 0, validated.stdout + validated.stderr
    assert "valid" in validated.stdout
    for library in ("fastapi", "alembic", "reportlab", "sqlalchemy", "psycopg", "argon2", "uvicorn"):
        assert not importable(bin_dir, library, tmp_path), f"{library} came with roomops[agent]"
    asked = run([str(bin_dir / "roomops"), "central", "serve", "--port", "1"], cwd=tmp_path)
    assert asked.returncode == 2
    assert "pip install 'roomops[central]'" in asked.stderr
    assert "Traceback" not in asked.stderr


def test_a_central_install_imports_the_app_without_device_drivers(
        wheel_and_pins: tuple[Path, Path], tmp_path: Path) -> None:
    bin_dir = venv_with("central", wheel_and_pins, tmp_path)
    imported = run([str(bin_dir / "python"), "-c", "import central.app, central.cli"], cwd=tmp_path)
    assert imported.returncode == 0, imported.stderr
    helped = run([str(bin_dir / "roomops"), "central", "--help"], cwd=tmp_path)
    assert helped.returncode == 0, helped.stderr
    for library in ("netmiko", "serial", "paramiko", "apscheduler"):
        assert not importable(bin_dir, library, tmp_path), f"{library} came with roomops[central]"
    listed = run([str(bin_dir / "roomops"), "--help"], cwd=tmp_path)
    assert "needs roomops[agent]" in listed.stdout
    asked = run([str(bin_dir / "roomops"), "agent", "selftest", "--site", str(SITE)], cwd=tmp_path)
    assert asked.returncode == 2
    assert "pip install 'roomops[agent]'" in asked.stderr and "Traceback" not in asked.stderr
    # sim imports the simulators' SSH library only when it runs: the same answer, no traceback
    simulated = run([str(bin_dir / "roomops"), "sim", "--site", str(SITE)], cwd=tmp_path, timeout=120)
    assert simulated.returncode == 2, simulated.stdout + simulated.stderr
    assert "pip install 'roomops[agent]'" in simulated.stderr and "Traceback" not in simulated.stderr
