"""Database snapshots: SQLite's online backup API, or pg_dump / pg_restore for PostgreSQL."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy import Engine, func, inspect, select, table
from sqlalchemy.engine import URL, make_url

SQLITE_FILE = "database.sqlite3"
PG_FILE = "database.pgdump"


class DatabaseBackupError(RuntimeError):
    """A snapshot or a restore of the database failed; the message says why in plain words."""


def kind_of(url: str) -> str:
    backend = make_url(url).get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise DatabaseBackupError(f"backups support SQLite and PostgreSQL, not {backend}")
    return backend


def table_counts(engine: Engine) -> dict[str, int]:
    """Row count of every table (the restore compares them)."""
    counts: dict[str, int] = {}
    names = sorted(inspect(engine).get_table_names())
    with engine.connect() as connection:
        for name in names:
            counts[name] = int(connection.scalar(select(func.count()).select_from(table(name))) or 0)
    return counts


def snapshot(url: str, target_dir: Path) -> str:
    """Write the database into ``target_dir``; returns the file name."""
    if kind_of(url) == "sqlite":
        return _sqlite_snapshot(_sqlite_path(url), target_dir / SQLITE_FILE)
    _pg_tool("pg_dump", url, ["--format=custom", "--no-owner", "--no-privileges",
                              "--file", str(target_dir / PG_FILE)])
    return PG_FILE


def load(url: str, source_file: Path, *, replace: bool) -> None:
    """Load a snapshot into the database at ``url`` (which must be empty unless ``replace``)."""
    if kind_of(url) == "sqlite":
        _sqlite_load(source_file, _sqlite_path(url))
        return
    args = ["--no-owner", "--no-privileges", "--single-transaction", "--exit-on-error"]
    if replace:
        args += ["--clean", "--if-exists"]
    _pg_tool("pg_restore", url, [*args, str(source_file)])


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise DatabaseBackupError("an in-memory SQLite database cannot be backed up")
    return Path(database)


def _sqlite_snapshot(source: Path, target: Path) -> str:
    if not source.is_file():
        raise DatabaseBackupError(f"no SQLite database at {source}")
    _sqlite_copy(source, target)
    return target.name


def _sqlite_load(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    for leftover in (target.with_name(target.name + "-wal"), target.with_name(target.name + "-shm")):
        leftover.unlink(missing_ok=True)
    _sqlite_copy(source, target)


def _sqlite_copy(source: Path, target: Path) -> None:
    """SQLite's online backup API: a consistent copy while central keeps writing (WAL included)."""
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    try:
        with dst:
            src.backup(dst)
    finally:
        dst.close()
        src.close()


def _pg_tool(tool: str, url: str, args: list[str]) -> None:
    """Run pg_dump / pg_restore with the password in the environment, never on the command line."""
    exe = shutil.which(tool)
    if exe is None:
        raise DatabaseBackupError(f"{tool} is not installed (Debian package postgresql-client)")
    parsed = make_url(url)
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    result = subprocess.run([exe, "--dbname", _libpq_url(parsed), *args], env=env,
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no message"])[-1]
        raise DatabaseBackupError(f"{tool} failed: {last}")


def _libpq_url(parsed: URL) -> str:
    """``postgresql+psycopg://u:p@h/db`` -> ``postgresql://u@h/db`` (libpq knows no driver, no password)."""
    plain = parsed.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False)
