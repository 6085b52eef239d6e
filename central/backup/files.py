"""Checksummed copies of the recordings archive."""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

CHUNK = 1024 * 1024


@dataclass(frozen=True)
class FileEntry:
    path: str          # relative, with forward slashes
    size: int
    sha256: str

    def as_json(self) -> dict[str, object]:
        return {"path": self.path, "size": self.size, "sha256": self.sha256}


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def copy_tree(source: Path, target: Path) -> list[FileEntry]:
    """Copy every regular file under ``source`` to ``target`` and checksum what was written.

    Symlinks are not followed: the archive holds what central wrote, nothing a link points at.
    """
    entries: list[FileEntry] = []
    if not source.is_dir():
        return entries
    for root, dirs, files in os.walk(source, followlinks=False):
        dirs.sort()
        for name in sorted(files):
            src = Path(root) / name
            if src.is_symlink() or not src.is_file():
                continue
            rel = src.relative_to(source).as_posix()
            dst = target / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            entries.append(_copy_checked(src, dst, rel))
    return entries


def _copy_checked(src: Path, dst: Path, rel: str) -> FileEntry:
    digest = hashlib.sha256()
    size = 0
    with src.open("rb") as reader, dst.open("wb") as writer:
        while chunk := reader.read(CHUNK):
            digest.update(chunk)
            writer.write(chunk)
            size += len(chunk)
        writer.flush()
        os.fsync(writer.fileno())
    shutil.copystat(src, dst)
    return FileEntry(rel, size, digest.hexdigest())


def verify(base: Path, entries: list[FileEntry]) -> list[str]:
    """Names of the files under ``base`` that are missing or differ from their manifest entry."""
    bad: list[str] = []
    for entry in entries:
        path = base / entry.path
        if not path.is_file() or path.stat().st_size != entry.size or sha256_of(path) != entry.sha256:
            bad.append(entry.path)
    return bad


def safe_relative(rel: str) -> bool:
    """A manifest path may not climb out of its directory."""
    parts = Path(rel).parts
    return bool(parts) and not Path(rel).is_absolute() and ".." not in parts
