"""Secrets are never values in a profile, only references:

- ``${ENV_NAME}``: the environment variable ``ENV_NAME`` of the process that resolves it;
- ``secret:NAME``: the key ``NAME`` of the site's secrets file (YAML mapping name -> value).
  The file must not be readable or writable by group or others (mode 0600 or stricter).

A demo site (``demo: true``) holds simulator credentials, not real ones: its secrets file is
created on first use (mode 0600, outside git, e.g. ``.roomops/demo-secrets.yaml``) and a
missing name gets a random value, under a file lock, so ``roomops sim`` and the agent agree
with no set-up. A real site's missing secret is an error.

Resolved values live in memory only: ``Secret`` hides its value from ``repr``/``str`` and
errors name the reference, never the value.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import secrets as _random
import stat
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ENV_REF = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
FILE_REF = re.compile(r"^secret:([A-Za-z0-9_.\-/]+)$")
REFERENCE_HELP = "must be a reference: ${ENV_NAME} or secret:name"
MASK = "********"


class SecretError(Exception):
    """A reference that cannot be resolved. The message never contains a secret value."""


@dataclass(frozen=True)
class SecretRef:
    """A parsed reference: ``kind`` is "env" or "file", ``name`` the variable or key."""

    kind: str
    name: str

    @classmethod
    def parse(cls, text: str) -> SecretRef:
        if m := ENV_REF.match(text):
            return cls("env", m.group(1))
        if m := FILE_REF.match(text):
            return cls("file", m.group(1))
        raise ValueError(REFERENCE_HELP)

    def __str__(self) -> str:
        return f"${{{self.name}}}" if self.kind == "env" else f"secret:{self.name}"


@dataclass(frozen=True)
class Secret:
    """A resolved value that does not show itself."""

    ref: SecretRef
    value: str = field(repr=False)

    def __str__(self) -> str:
        return MASK

    def __repr__(self) -> str:
        return f"Secret({self.ref})"


def is_private(mode: int) -> bool:
    return not (mode & (stat.S_IRWXG | stat.S_IRWXO))


class SecretStore:
    """Resolves references for one site. ``file`` may be None (then only ``${ENV}`` works)."""

    def __init__(self, file: Path | None, *, demo: bool = False,
                 environ: Mapping[str, str] | None = None) -> None:
        self.file = file
        self.demo = demo
        self.environ = os.environ if environ is None else environ
        self._cache: dict[str, str] | None = None

    def resolve(self, ref: SecretRef) -> Secret:
        if ref.kind == "env":
            value = self.environ.get(ref.name)
            if value is None:
                raise SecretError(f"missing secret: environment variable {ref.name} is not set")
            return Secret(ref, value)
        return Secret(ref, self._from_file(ref.name))

    def check(self, ref: SecretRef) -> None:
        """Raise ``SecretError`` if ``ref`` cannot be resolved (the value is dropped at once)."""
        self.resolve(ref)

    # -- the secrets file ---------------------------------------------------------------------------
    def _from_file(self, name: str) -> str:
        if self.file is None:
            raise SecretError(f"missing secret: secret:{name} needs a secrets_file in the site profile")
        if self._cache is not None and name in self._cache:
            return self._cache[name]
        if self.demo:
            return self._demo_value(name)
        values = self._read()
        if name not in values:
            raise SecretError(f"missing secret: {name} is not in {self.file}")
        return values[name]

    def _read(self) -> dict[str, str]:
        assert self.file is not None
        try:
            st = self.file.stat()
        except FileNotFoundError:
            raise SecretError(f"missing secret: secrets file {self.file} does not exist") from None
        if not is_private(st.st_mode):
            raise SecretError(
                f"secrets file {self.file} is readable by group or others "
                f"(mode {stat.S_IMODE(st.st_mode):04o}); run: chmod 600 {self.file}")
        try:
            data = yaml.safe_load(self.file.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            # The parser's message may quote file content: name only the file and the line.
            line = getattr(getattr(exc, "problem_mark", None), "line", None)
            where = f" (line {line + 1})" if line is not None else ""
            raise SecretError(f"secrets file {self.file} is not valid YAML{where}") from None
        if not isinstance(data, dict) or not all(isinstance(v, str | int) for v in data.values()):
            raise SecretError(f"secrets file {self.file} must be a mapping of name: value")
        self._cache = {str(k): str(v) for k, v in data.items()}
        return self._cache

    def _demo_value(self, name: str) -> str:
        """Read the demo file, adding ``name`` with a random value if it is missing."""
        assert self.file is not None
        self.file.parent.mkdir(parents=True, exist_ok=True)
        with _locked(self.file.with_name(self.file.name + ".lock")):
            if not self.file.exists():
                _write_private(self.file, {})
            values = self._read()
            if name not in values:
                values[name] = _random.token_urlsafe(12)
                _write_private(self.file, values)
        return values[name]


@contextlib.contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _write_private(path: Path, values: Mapping[str, str]) -> None:
    """Write atomically with mode 0600 from the start (never briefly world-readable)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write("# Simulator credentials for the demo sites, generated on first use. Not real secrets.\n")
        yaml.safe_dump(dict(values), fh, sort_keys=True)
    os.replace(tmp, path)
