"""``scripts/bundle``: build ``dist/roomops-<version>-offline.tar.gz`` for a network without internet.

The bundle holds a wheel for every locked dependency and for RoomOps itself (dashboard assets
inside), the CJK font the PDF reports need, the model profiles, the systemd units, the TLS proxy
examples and ``install.sh``. Every file is listed with its SHA-256 in ``SHA256SUMS``; the
installer checks them before it installs anything. Building needs the package registry once;
installing needs nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
#: What the wheel is built from: the packages and the files setuptools reads.
SOURCE_ITEMS = ("agent", "central", "contracts", "drivers", "roomops", "simulators",
                "pyproject.toml", "README.md")
FONT = Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")
FONT_COPYRIGHT = Path("/usr/share/doc/fonts-wqy-zenhei/copyright")
DEFAULT_LOCK = "requirements.lock"
SUMS = "SHA256SUMS"


class BundleError(RuntimeError):
    """The bundle cannot be built; the message says what is missing."""


def project_version() -> str:
    return str(tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"])


def build(out_dir: Path, *, lock: Path, version: str | None = None,
          wheels_from: Path | None = None, font: Path = FONT) -> Path:
    """Build the bundle; returns the path of the ``.tar.gz``."""
    version = version or project_version()
    if not lock.is_file():
        raise BundleError(f"no lock file at {lock}: the bundle installs exactly what is locked")
    if not font.is_file():
        raise BundleError(f"no CJK font at {font}: apt-get install fonts-wqy-zenhei")
    name = f"roomops-{version}-offline"
    with tempfile.TemporaryDirectory(prefix="roomops-bundle-") as tmp:
        stage = Path(tmp) / name
        wheels = stage / "wheels"
        wheels.mkdir(parents=True)
        _roomops_wheel(Path(tmp) / "src", version, wheels)
        _dependency_wheels(lock, wheels, wheels_from)
        shutil.copy2(lock, stage / "requirements.lock")
        _check_installable(stage)
        (stage / "fonts").mkdir()
        shutil.copy2(font, stage / "fonts" / font.name)
        if FONT_COPYRIGHT.is_file():
            shutil.copy2(FONT_COPYRIGHT, stage / "fonts" / "COPYRIGHT")
        shutil.copytree(REPO / "deploy", stage / "deploy",
                        ignore=shutil.ignore_patterns("__pycache__", "install.sh"))
        shutil.copy2(REPO / "deploy" / "install.sh", stage / "install.sh")
        (stage / "install.sh").chmod(0o755)
        shutil.copytree(REPO / "profiles", stage / "profiles")
        (stage / "VERSION").write_text(version + "\n")
        _write_sums(stage)
        out_dir.mkdir(parents=True, exist_ok=True)
        target = out_dir / f"{name}.tar.gz"
        with tarfile.open(target, "w:gz") as archive:
            archive.add(stage, arcname=name)
    return target


def _roomops_wheel(src: Path, version: str, wheels: Path) -> None:
    """Build RoomOps' own wheel from a clean copy, with ``version`` written into its pyproject."""
    src.mkdir()
    for item in SOURCE_ITEMS:
        path = REPO / item
        if path.is_dir():
            shutil.copytree(path, src / item, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(path, src / item)
    pyproject = src / "pyproject.toml"
    text, count = re.subn(r'(?m)^version = "[^"]*"$', f'version = "{version}"', pyproject.read_text(),
                          count=1)
    if count != 1:
        raise BundleError("pyproject.toml has no version line to set")
    pyproject.write_text(text)
    _pip("wheel", "--quiet", "--no-deps", "--wheel-dir", str(wheels), str(src))


def _dependency_wheels(lock: Path, wheels: Path, wheels_from: Path | None) -> None:
    if wheels_from is not None:
        for wheel in sorted(wheels_from.glob("*.whl")):
            if not wheel.name.startswith("roomops-"):
                shutil.copy2(wheel, wheels / wheel.name)
        return
    # Binary wheels where they exist; a dependency published only as source is built here once.
    _pip("wheel", "--quiet", "--prefer-binary", "--wheel-dir", str(wheels), "-r", str(lock))


#: The sides install.sh installs, each from its own part of the lock: an agent gets no web stack,
#: central no device drivers.
SIDES = ("central", "agent")


def _check_installable(stage: Path) -> None:
    """The installer's own commands, against the wheel folder alone, must resolve: every pin of
    the lock (hash-checked), and for each side ``roomops[<side>]`` with the lock's pins as
    constraints. What that side resolves to is written as ``requirements-<side>.lock`` (the
    lock's own entries, hashes included), which install.sh installs with ``--no-deps``: even the
    older pip of a fresh venv then installs exactly the locked, hashed files."""
    wheels = stage / "wheels"
    roomops = next(wheels.glob("roomops-*.whl"))
    digest = hashlib.sha256(roomops.read_bytes()).hexdigest()
    lock = stage / "requirements.lock"
    common = ("install", "--quiet", "--dry-run", "--ignore-installed", "--no-index",
              "--find-links", str(wheels))
    _pip(*common, "--no-deps", "-r", str(lock))
    entries = _lock_entries(lock.read_text())
    for side in SIDES:
        requirement = stage.parent / f"check-{side}.txt"
        report = stage.parent / f"check-{side}.json"
        requirement.write_text(f"roomops[{side}] @ {roomops.as_uri()} --hash=sha256:{digest}\n")
        try:
            _pip(*common, "--constraint", str(lock), "--requirement", str(requirement),
                 "--report", str(report))
            resolved = json.loads(report.read_text())["install"]
            needed = {_canonical(item["metadata"]["name"]) for item in resolved}
        finally:
            requirement.unlink(missing_ok=True)
            report.unlink(missing_ok=True)
        needed.discard("roomops")
        missing = needed - entries.keys()
        if missing:
            raise BundleError(f"roomops[{side}] needs what the lock does not pin: "
                              f"{sorted(missing)}")
        header = (f"# The part of requirements.lock that roomops[{side}] installs, written by\n"
                  f"# scripts/bundle; install.sh --{side} installs it with --no-deps.\n")
        body = "".join(entries[name] for name in sorted(needed))
        (stage / f"requirements-{side}.lock").write_text(header + body)


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _lock_entries(text: str) -> dict[str, str]:
    """canonical name -> that pin's entry of a pip-compile lock (its hash and "via" lines)."""
    entries = {}
    for entry in re.split(r"\n(?=[A-Za-z0-9])", text):
        match = re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)==", entry)
        if match:
            entries[_canonical(match.group(1))] = entry.rstrip("\n") + "\n"
    return entries


def _write_sums(stage: Path) -> None:
    lines = []
    for path in sorted(p for p in stage.rglob("*") if p.is_file()):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        lines.append(f"{digest}  {path.relative_to(stage).as_posix()}\n")
    (stage / SUMS).write_text("".join(lines))


def _pip(*args: str) -> None:
    result = subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tail = "\n".join(result.stderr.strip().splitlines()[-5:])
        raise BundleError(f"pip {args[0]} failed:\n{tail}")


def describe(bundle: Path) -> str:
    """Size and contents by folder, for the README and the build's last line."""
    counts: dict[str, int] = {}
    with tarfile.open(bundle) as archive:
        for member in archive.getmembers():
            if member.isfile():
                parts = member.name.split("/")
                top = parts[1] if len(parts) > 2 else "(top)"
                counts[top] = counts.get(top, 0) + 1
    size_mb = bundle.stat().st_size / 1e6
    inside = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))
    return f"{bundle} ({size_mb:.1f} MB; files by folder: {inside})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/bundle", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "dist", help="output folder (default dist/)")
    parser.add_argument("--lock", type=Path, default=REPO / DEFAULT_LOCK, help="the pinned requirements")
    parser.add_argument("--version", help="version to stamp on the RoomOps wheel (default pyproject's)")
    parser.add_argument("--wheels-from", type=Path,
                        help="take dependency wheels from an earlier bundle's wheels/ instead of pip")
    args = parser.parse_args(argv)
    try:
        bundle = build(args.out, lock=args.lock, version=args.version, wheels_from=args.wheels_from)
    except BundleError as exc:
        print(f"scripts/bundle: {exc}", file=sys.stderr)
        return 2
    print(describe(bundle))
    return 0


if __name__ == "__main__":
    sys.exit(main())
