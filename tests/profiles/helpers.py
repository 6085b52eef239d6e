"""Build small profile trees in a temporary folder: real files, real loader."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "profiles"


def make_tree(root: Path) -> Path:
    """``root/profiles/{models,sites,venues}`` with the shipped models; returns the profiles dir."""
    profiles = root / "profiles"
    shutil.copytree(SHIPPED / "models", profiles / "models")
    (profiles / "sites").mkdir()
    (profiles / "venues").mkdir()
    return profiles


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


SITE_HEAD = """
id: lab
name: {zh: 实验室, en: Lab}
timezone: Asia/Shanghai
central_url: http://127.0.0.1:8000
secrets_file: secrets.yaml
expect:
  min_uplink_mbps: 4
devices:
"""
