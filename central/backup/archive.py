"""``backup`` and ``restore``: one directory per backup, verified by its manifest before any write."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import Engine, inspect

from central import migrate
from central.backup import database, files
from central.backup.database import DatabaseBackupError
from central.db import make_engine
from central.settings import Settings

MANIFEST = "manifest.json"
FORMAT = 1
RECORDINGS = "recordings"
#: Alembic's own table: its count is the revision, compared separately.
UNCOUNTED = {"alembic_version"}
P = ParamSpec("P")
T = TypeVar("T")


class BackupError(RuntimeError):
    """A backup or restore that cannot be done; the message says why and what to do."""


@dataclass
class BackupResult:
    path: Path
    database_kind: str
    tables: dict[str, int]
    recordings: int
    pruned: list[Path] = field(default_factory=list)


@dataclass
class RestoreResult:
    path: Path
    revision: str | None
    tables: dict[str, int]
    recordings: int


def roomops_version() -> str:
    try:
        return metadata.version("roomops")
    except metadata.PackageNotFoundError:
        return "unknown"


def backup(settings: Settings, parent: Path, *, keep: int | None = None) -> BackupResult:
    """Write a new backup directory under ``parent`` (created 0700) and prune to ``keep`` if given."""
    url = settings.resolved_database_url()
    kind = _kind(url)
    parent.mkdir(parents=True, exist_ok=True)
    os.chmod(parent, 0o700)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    work = parent / f".{stamp}.partial"
    work.mkdir(mode=0o700)
    try:
        engine = make_engine(url)
        try:
            revision = migrate.current_revision(engine)
            tables = _counts(engine)
            db_file = _call(database.snapshot, url, work)
        finally:
            engine.dispose()
        entries = files.copy_tree(settings.resolved_recordings_dir(), work / RECORDINGS)
        manifest = {
            "format": FORMAT,
            "roomops_version": roomops_version(),
            "created_at": datetime.now(UTC).isoformat(),
            "database": {"kind": kind, "file": db_file, "sha256": files.sha256_of(work / db_file),
                         "revision": revision, "tables": tables},
            "recordings": [entry.as_json() for entry in entries],
        }
        _write_json(work / MANIFEST, manifest)
        final = parent / stamp
        work.rename(final)              # a backup directory without ".partial" is complete
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    pruned = rotate(parent, keep) if keep else []
    return BackupResult(final, kind, tables, len(entries), pruned)


def rotate(parent: Path, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` complete backups under ``parent``."""
    if keep < 1:
        raise BackupError("keep must be at least 1")
    doomed = _complete_backups(parent)[:-keep]
    for path in doomed:
        shutil.rmtree(path)
    return doomed


def find_backup(path: Path) -> Path:
    """``path`` itself if it holds a manifest, else its newest complete backup."""
    if (path / MANIFEST).is_file():
        return path
    candidates = _complete_backups(path) if path.is_dir() else []
    if candidates:
        return candidates[-1]
    raise BackupError(f"no backup (manifest.json) at {path}")


def restore(settings: Settings, path: Path, *, replace: bool = False) -> RestoreResult:
    """Restore database and recordings from a backup; refuses a non-empty database unless ``replace``."""
    source = find_backup(path)
    manifest = _read_manifest(source)
    db = manifest["database"]
    url = settings.resolved_database_url()
    if db["kind"] != _kind(url):
        raise BackupError(f"the backup holds a {db['kind']} database; this central uses {_kind(url)}")
    entries = [files.FileEntry(e["path"], int(e["size"]), e["sha256"]) for e in manifest["recordings"]]
    _check_backup_intact(source, db, entries)

    engine = make_engine(url)
    try:
        _check_revision_known(engine, db.get("revision"))
        if not replace and _has_tables(engine):
            raise BackupError("the target database is not empty: restore into an empty database, "
                              "or pass --replace to overwrite it")
    finally:
        engine.dispose()
    _call(database.load, url, source / db["file"], replace=replace)

    engine = make_engine(url)
    try:
        restored = _counts(engine)
        if restored != db["tables"]:
            differ = sorted(k for k in set(restored) | set(db["tables"])
                            if restored.get(k) != db["tables"].get(k))
            raise BackupError(f"restored row counts differ from the backup in: {', '.join(differ)}")
        migrate.upgrade(engine)          # an older backup comes up to this version's schema
        revision = migrate.current_revision(engine)
    finally:
        engine.dispose()

    target = settings.resolved_recordings_dir()
    for entry in entries:
        dst = target / entry.path
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source / RECORDINGS / entry.path, dst)
    bad = files.verify(target, entries)
    if bad:
        raise BackupError(f"recordings differ after the copy: {', '.join(bad[:5])}")
    return RestoreResult(source, revision, restored, len(entries))


# -- helpers ------------------------------------------------------------------------------------
def _complete_backups(parent: Path) -> list[Path]:
    """Finished backups, oldest first (names are UTC time stamps; ".partial" ones are skipped)."""
    return sorted(p for p in parent.iterdir()
                  if p.is_dir() and not p.name.startswith(".") and (p / MANIFEST).is_file())


def _kind(url: str) -> str:
    return _call(database.kind_of, url)


def _call(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Database errors surface as BackupError, the one error the CLI prints."""
    try:
        return fn(*args, **kwargs)
    except DatabaseBackupError as exc:
        raise BackupError(str(exc)) from exc


def _counts(engine: Engine) -> dict[str, int]:
    return {k: v for k, v in database.table_counts(engine).items() if k not in UNCOUNTED}


def _has_tables(engine: Engine) -> bool:
    return bool([t for t in inspect(engine).get_table_names() if t not in UNCOUNTED])


def _check_revision_known(engine: Engine, revision: str | None) -> None:
    if revision is None:
        return
    script = migrate.ScriptDirectory.from_config(migrate.alembic_config(engine))
    try:
        script.get_revision(revision)
    except Exception as exc:  # noqa: BLE001 - alembic raises several kinds for an unknown revision
        raise BackupError(f"the backup's schema revision {revision} is newer than this RoomOps "
                          f"({roomops_version()}): restore it with the version that made it") from exc


def _check_backup_intact(source: Path, db: dict[str, Any], entries: list[files.FileEntry]) -> None:
    db_path = source / db["file"]
    if not db_path.is_file() or files.sha256_of(db_path) != db["sha256"]:
        raise BackupError(f"the backup's database file {db['file']} is missing or damaged")
    unsafe = [e.path for e in entries if not files.safe_relative(e.path)]
    if unsafe:
        raise BackupError(f"the manifest names paths outside the backup: {', '.join(unsafe[:3])}")
    bad = files.verify(source / RECORDINGS, entries)
    if bad:
        raise BackupError(f"{len(bad)} recording(s) in the backup are missing or damaged: "
                          f"{', '.join(bad[:5])}")


def _read_manifest(source: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((source / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BackupError(f"unreadable manifest in {source}: {exc}") from exc
    if manifest.get("format") != FORMAT:
        raise BackupError(f"unknown backup format {manifest.get('format')!r} in {source}")
    return manifest


def _write_json(path: Path, value: object) -> None:
    with path.open("w", encoding="utf-8") as handle:
        json.dump(value, handle, indent=2, sort_keys=True)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())
