"""``roomops central backup DIR [--keep N]`` and ``roomops central restore PATH [--replace]``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from central.backup.archive import BackupError, backup, restore
from central.settings import Settings

T = TypeVar("T")


def register(sub: Any, settings_from: Callable[[argparse.Namespace], Settings]) -> None:
    """Add the two subcommands to ``roomops central``."""
    make = sub.add_parser("backup", help="back up the database and the recordings archive into DIR/<time>")
    make.add_argument("dir", type=Path)
    make.add_argument("--keep", type=int, help="then delete all but the newest N backups in DIR")
    make.set_defaults(func=lambda args: _backup(args, settings_from(args)))

    back = sub.add_parser("restore", help="restore a backup (a backup directory, or DIR: its newest)")
    back.add_argument("path", type=Path)
    back.add_argument("--replace", action="store_true",
                      help="overwrite a database that is not empty (default: refuse)")
    back.set_defaults(func=lambda args: _restore(args, settings_from(args)))


def _backup(args: argparse.Namespace, settings: Settings) -> int:
    result = _attempt("backup", lambda: backup(settings, args.dir, keep=args.keep))
    if result is None:
        return 2
    print(f"backup written to {result.path}: {result.database_kind} database, {len(result.tables)} tables, "
          f"{sum(result.tables.values())} rows, {result.recordings} recordings")
    for path in result.pruned:
        print(f"old backup removed: {path}")
    return 0


def _restore(args: argparse.Namespace, settings: Settings) -> int:
    result = _attempt("restore", lambda: restore(settings, args.path, replace=args.replace))
    if result is None:
        return 2
    print(f"restored {result.path}: {len(result.tables)} tables, {sum(result.tables.values())} rows, "
          f"{result.recordings} recordings, schema at revision {result.revision}")
    return 0


def _attempt(action: str, work: Callable[[], T]) -> T | None:
    """Run ``work``; a refusal or an I/O error is printed as one line, never a traceback."""
    try:
        return work()
    except (BackupError, OSError) as exc:
        print(f"roomops central {action}: {exc}", file=sys.stderr)
        return None
