"""Files of pinned keys (SSH known_hosts, TLS certificate pins): appended atomically.

The whole new file is written next to the old one (mode 0600), flushed, and renamed into place
under an exclusive lock, so a crash never leaves half a file and two sessions (or agent
processes) pinning at once never lose each other's line.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile


def append_lines(path: str, lines: list[str]) -> None:
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, mode=0o700, exist_ok=True)
    lock_fd = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX)
        try:
            with open(path, encoding="utf-8", errors="replace") as fh:
                text = fh.read()
        except FileNotFoundError:
            text = ""
        if text and not text.endswith("\n"):
            text += "\n"
        text += "".join(line + "\n" for line in lines)
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", dir=directory)   # 0600
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
    finally:
        os.close(lock_fd)   # releases the lock
