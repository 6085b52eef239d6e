"""A private copy of the shipped profiles on addresses of the benchmark's own.

The shipped sites live on 127.0.<site>.<n>; the copy moves them to 127.250.1<site>.<n> (e.g.
127.0.20.10 -> 127.250.120.10), so a benchmark never fights a running demo or the tests.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "profiles"
_ADDRESS = re.compile(r"\b127\.0\.(\d{1,2})\.")


def private_profiles(root: Path) -> Path:
    """Copy ``profiles/`` under ``root`` (secrets and serial links then live under ``root`` too)."""
    profiles = root / "profiles"
    shutil.copytree(SHIPPED, profiles)
    for folder in ("sites", "venues"):
        for file in (profiles / folder).glob("*.yaml"):
            text = file.read_text(encoding="utf-8")
            moved = _ADDRESS.sub(lambda m: f"127.250.1{int(m.group(1)):02d}.", text)
            file.write_text(moved, encoding="utf-8")
    return profiles
