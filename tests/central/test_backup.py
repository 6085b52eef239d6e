"""Backup and restore: a seeded year restored into an empty database, every row and recording compared."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, MetaData, select

from central.backup import BackupError, backup, restore, rotate
from central.backup.archive import MANIFEST
from central.backup.files import sha256_of
from central.db import make_engine
from central.models import Recording
from central.models.base import set_clock
from central.settings import Settings
from tests.central.helpers import RunningServer, central_settings, postgres_database, postgres_reachable
from tests.conftest import next_loopback
from tests.reports.history import Clock, cst, seed_year


def _url(kind: str, tmp: Path, name: str) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{tmp / name / 'central.db'}"
        return
    reason = postgres_reachable()
    if reason:
        pytest.skip(reason)
    with postgres_database() as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def source(kind: str, tmp_path: Path) -> Iterator[Settings]:
    """A central database holding a seeded year (meetings, faults, inspections, recordings, audit)."""
    for url in _url(kind, tmp_path, "source"):
        clock = Clock(cst(2024, 12, 1))
        set_clock(clock)
        try:
            server = RunningServer(central_settings(tmp_path / "source", url), next_loopback())
            seed_year(server.ctx, clock, server.settings.resolved_recordings_dir())
            server.ctx.engine.dispose()
        finally:
            set_clock(None)
        yield server.settings


@pytest.fixture
def empty(kind: str, tmp_path: Path) -> Iterator[Settings]:
    for url in _url(kind, tmp_path, "target"):
        yield central_settings(tmp_path / "target", url)


def _dump(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table, in primary-key order."""
    meta = MetaData()
    meta.reflect(engine)
    out: dict[str, list[tuple[object, ...]]] = {}
    with engine.connect() as connection:
        for name, table in sorted(meta.tables.items()):
            order = list(table.primary_key.columns) or list(table.columns)
            out[name] = [tuple(row) for row in connection.execute(select(table).order_by(*order))]
    return out


def _recording_files(settings: Settings) -> dict[str, str]:
    base = settings.resolved_recordings_dir()
    return {p.relative_to(base).as_posix(): sha256_of(p) for p in sorted(base.rglob("*")) if p.is_file()}


def test_restore_into_an_empty_database_gives_back_every_row_and_recording(
        source: Settings, empty: Settings, tmp_path: Path) -> None:
    made = backup(source, tmp_path / "backups")
    assert (made.path / MANIFEST).is_file()
    assert made.recordings > 0 and made.tables["meetings"] > 0 and made.tables["events"] > 0

    done = restore(empty, tmp_path / "backups")          # the directory: its newest backup
    assert done.path == made.path

    src_engine = make_engine(source.resolved_database_url())
    dst_engine = make_engine(empty.resolved_database_url())
    try:
        before, after = _dump(src_engine), _dump(dst_engine)
        assert sorted(before) == sorted(after)
        for name in before:
            assert before[name] == after[name], f"table {name} differs after restore"
        with dst_engine.connect() as connection:
            stored = {row.sha256 for row in connection.execute(select(Recording.sha256))}
    finally:
        src_engine.dispose()
        dst_engine.dispose()
    files_before, files_after = _recording_files(source), _recording_files(empty)
    assert files_before == files_after and files_after
    assert stored <= set(files_after.values()), "a recording's stored checksum matches no restored file"


def test_restore_refuses_a_database_that_is_not_empty_and_a_damaged_backup(
        source: Settings, tmp_path: Path) -> None:
    made = backup(source, tmp_path / "backups")
    with pytest.raises(BackupError, match="not empty"):
        restore(source, made.path)
    victim = next((made.path / "recordings").rglob("*.*"))
    victim.write_bytes(victim.read_bytes() + b"x")
    with pytest.raises(BackupError, match="damaged"):
        restore(source, made.path, replace=True)


def test_rotation_keeps_the_newest(source: Settings, tmp_path: Path) -> None:
    parent = tmp_path / "nightly"
    paths = [backup(source, parent).path for _ in range(3)]
    removed = rotate(parent, 2)
    assert removed == paths[:1]
    assert sorted(p for p in parent.iterdir()) == paths[1:]
    assert (parent.stat().st_mode & 0o777) == 0o700


@pytest.mark.parametrize("kind", ["sqlite"])          # the CLI path is the same for both databases
def test_cli_backup_and_restore_say_what_they_did(source: Settings, empty: Settings, tmp_path: Path) -> None:
    def run(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "roomops.cli", "central", "--data-dir",
                               str(settings.data_dir), "--database-url", settings.resolved_database_url(),
                               *args], capture_output=True, text=True, timeout=120, check=False)
    made = run(source, "backup", str(tmp_path / "b"), "--keep", "1")
    assert made.returncode == 0, made.stderr
    assert "backup written to" in made.stdout and "recordings" in made.stdout
    again = run(source, "restore", str(tmp_path / "b"))
    assert again.returncode == 2 and "not empty" in again.stderr
    done = run(empty, "restore", str(tmp_path / "b"))
    assert done.returncode == 0, done.stderr
    assert "restored" in done.stdout
