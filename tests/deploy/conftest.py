"""Offline bundles built once per session: the current version and a newer one (same wheels)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LOCK = REPO / "requirements.lock"


@dataclass(frozen=True)
class Bundle:
    version: str
    tarball: Path
    folder: Path          # unpacked


def _need_root_and_namespaces() -> None:
    if os.geteuid() != 0:
        pytest.skip("the installer test needs root (it creates users, owners and network namespaces)")
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        pytest.skip("needs unshare (util-linux) and ip (iproute2) for a namespace without network")


def build_bundle(out: Path, version: str, wheels_from: Path | None = None) -> Bundle:
    args = [sys.executable, "-m", "roomops.bundle", "--out", str(out), "--lock", str(LOCK),
            "--version", version]
    if wheels_from is not None:
        args += ["--wheels-from", str(wheels_from)]
    done = subprocess.run(args, capture_output=True, text=True, timeout=600, check=False, cwd=REPO)
    assert done.returncode == 0, done.stderr
    tarball = out / f"roomops-{version}-offline.tar.gz"
    with tarfile.open(tarball) as archive:
        archive.extractall(out / "unpacked", filter="tar")
    return Bundle(version, tarball, out / "unpacked" / f"roomops-{version}-offline")


@pytest.fixture(scope="session")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> tuple[Bundle, Bundle]:
    _need_root_and_namespaces()
    first = build_bundle(tmp_path_factory.mktemp("bundle1"), "0.1.0")
    second = build_bundle(tmp_path_factory.mktemp("bundle2"), "0.1.1", wheels_from=first.folder / "wheels")
    return first, second
