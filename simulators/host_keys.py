"""Stable SSH host keys for simulators, so a client's pinned key survives a simulator restart.

A real unit keeps its host key across reboots; a simulator that made a new key on every start
would make trust-on-first-use clients (the demo's ``.roomops/known_hosts``) refuse the second
run. ``load_or_create_host_key(path)`` reads an ECDSA key from ``path`` or creates it there
(mode 0600, written to a temporary file and renamed into place under an exclusive lock, so two
``roomops sim`` processes starting together end up with the same key).

paramiko is imported on first use only: simulators import this module at the top, and a site
without SSH devices should not need paramiko.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import paramiko


def host_key_option(options: Mapping[str, Any]) -> paramiko.PKey | None:
    """The key named by a spec's ``host_key_path`` option, or None (the server makes a fresh one)."""
    path = options.get("host_key_path")
    return load_or_create_host_key(str(path)) if path else None


def load_or_create_host_key(path: str | os.PathLike[str]) -> paramiko.PKey:
    """The ECDSA host key stored at ``path``, created (0600) when the file does not exist yet."""
    file = Path(path)
    file.parent.mkdir(parents=True, exist_ok=True)
    lock_fd = os.open(f"{file}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX)
        if file.exists():
            return _read(file)
        import paramiko

        key = paramiko.ECDSAKey.generate()
        _write_atomically(file, key)
        return key
    finally:
        os.close(lock_fd)  # closing the descriptor releases the lock


def _read(file: Path) -> paramiko.PKey:
    import paramiko

    try:
        return paramiko.ECDSAKey.from_private_key_file(str(file))
    except (OSError, paramiko.SSHException) as exc:
        # OSError: ``roomops sim`` reports it as "cannot serve", like a port it cannot bind.
        raise OSError(f"simulator host key {file} is unreadable: {exc}") from exc


def _write_atomically(file: Path, key: paramiko.PKey) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{file.name}.", dir=file.parent)   # mkstemp makes it 0600
    try:
        with os.fdopen(fd, "w") as fh:
            key.write_private_key(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, file)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
