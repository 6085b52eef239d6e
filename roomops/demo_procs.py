"""Child processes of ``roomops demo``: started with logs in files, stopped in reverse order.

Every child is a ``roomops`` subcommand run with this interpreter. On Linux a child also gets
``PR_SET_PDEATHSIG`` so it receives SIGTERM if the demo itself is killed with SIGKILL: a demo
never leaves orphans behind, even when it cannot clean up.
"""

from __future__ import annotations

import ctypes
import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

PR_SET_PDEATHSIG = 1
STOP_GRACE_SECONDS = 10.0


def _die_with_parent() -> None:
    # Runs in the child between fork and exec: ask the kernel for SIGTERM when the parent dies.
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    # Ctrl-C in the terminal goes to the demo only; the demo stops the children in order.
    os.setpgrp()


def roomops_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "roomops.cli", *args]


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[str]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError as exc:
            return f"(no log: {exc})"
        return "\n".join(text.splitlines()[-lines:])


class ChildProcesses:
    """The demo's children. ``stop_all`` is idempotent and safe to call from a ``finally``."""

    def __init__(self, log_dir: Path, env: dict[str, str] | None = None, cwd: Path | None = None) -> None:
        self.log_dir = log_dir
        self.env = env
        self.cwd = cwd
        self.children: list[Child] = []
        log_dir.mkdir(parents=True, exist_ok=True)

    def start(self, name: str, argv: Sequence[str], *, capture_stdout: bool = False) -> Child:
        """Start ``argv``; stderr (and stdout unless captured) go to ``<log_dir>/<name>.log``."""
        log_path = self.log_dir / f"{name}.log"
        log: IO[str] = open(log_path, "w", encoding="utf-8")   # handed to the child, closed below
        try:
            proc = subprocess.Popen(
                list(argv), stdout=subprocess.PIPE if capture_stdout else log, stderr=log,
                stdin=subprocess.DEVNULL, text=True, env=self.env, cwd=self.cwd,
                preexec_fn=_die_with_parent)  # main thread only: fork-safe
        finally:
            log.close()    # the child holds its own copy of the descriptor
        child = Child(name, proc, log_path)
        self.children.append(child)
        return child

    def exited(self) -> list[Child]:
        return [c for c in self.children if c.proc.poll() is not None]

    def stop_all(self) -> list[str]:
        """SIGTERM every live child (newest first), wait, SIGKILL stragglers. Returns problems."""
        problems: list[str] = []
        for child in reversed(self.children):
            if child.proc.poll() is None:
                child.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for child in reversed(self.children):
            try:
                child.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                problems.append(f"{child.name} (pid {child.pid}) ignored SIGTERM; killed")
                child.proc.kill()
                child.proc.wait()
            if child.proc.stdout is not None:
                child.proc.stdout.close()
        self.children.clear()
        return problems


def read_line(child: Child, timeout: float) -> str:
    """One line of a child's captured stdout within ``timeout`` seconds; '' if it exited first."""
    stream = child.proc.stdout
    assert stream is not None, "stdout was not captured"
    with selectors.DefaultSelector() as sel:
        sel.register(stream, selectors.EVENT_READ)
        if not sel.select(timeout):
            raise TimeoutError(f"{child.name} printed nothing within {timeout:g} s")
    return stream.readline()
