"""Venues by name: a relocation from central names a venue, never a path.

A venue is a profile file ``<name>.yaml`` in the agent's venue directory (``venues/`` beside the
folder of the site profile, e.g. ``/etc/roomops/venues`` for ``/etc/roomops/sites/urumqi.yaml``).
The name is checked against ``VENUE_NAME``, the file must resolve inside that directory (a symlink
pointing out of it is refused), be a regular file and at most ``MAX_VENUE_BYTES`` long, so
``/dev/zero`` or a FIFO fails at once instead of being read.

What goes back to central is one generic sentence whatever went wrong (no such file, a symlink
out, a parse error): central never learns whether a file exists, and no byte of a file leaves the
host. The precise problem (line numbers and key names, never values) goes to the agent's log.
"""

from __future__ import annotations

import logging
import os
import re
import stat
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

#: what a venue name looks like: the file stem in the venue directory
VENUE_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
#: the largest venue profile read (shipped ones are about 1 KB)
MAX_VENUE_BYTES = 256 * 1024


class VenueUnavailable(Exception):
    """A venue cannot be used. ``str()`` is the generic text for central; ``detail`` is for the log."""

    def __init__(self, name: object, detail: str) -> None:
        shown = name if isinstance(name, str) and valid_venue_name(name) else "(invalid name)"
        super().__init__(f"venue {shown!r} is not available on this agent: no such venue profile, or "
                         "not a valid one (the agent's log names the problem)")
        self.name = shown
        self.detail = detail


def valid_venue_name(name: object) -> bool:
    return isinstance(name, str) and VENUE_NAME.fullmatch(name) is not None


def venue_dir_for(site_file: str | Path) -> Path:
    """``<profiles>/sites/<site>.yaml`` -> ``<profiles>/venues``."""
    return Path(site_file).parent.parent / "venues"


def check_regular_file(path: Path, limit: int = MAX_VENUE_BYTES) -> None:
    """Raise ``OSError`` unless ``path`` is a regular file of at most ``limit`` bytes. Opened
    without following a final symlink and without blocking (a FIFO must not hang the agent)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        info = os.fstat(fd)
    finally:
        os.close(fd)
    if not stat.S_ISREG(info.st_mode):
        raise OSError("not a regular file")
    if info.st_size > limit:
        raise OSError(f"larger than {limit} bytes")


def venue_file(venue_dir: Path, name: object) -> Path:
    """The venue profile file named ``name``, confined to ``venue_dir``."""
    if not valid_venue_name(name):
        raise VenueUnavailable(name, "the name does not match the venue name pattern")
    assert isinstance(name, str)
    try:
        base = venue_dir.resolve(strict=True)
        real = (base / f"{name}.yaml").resolve(strict=True)
    except OSError as exc:
        raise VenueUnavailable(name, f"cannot open {venue_dir}/{name}.yaml: {exc.strerror}") from None
    if not real.is_relative_to(base) or real.parent != base:
        raise VenueUnavailable(name, f"{venue_dir}/{name}.yaml leads outside the venue directory")
    try:
        check_regular_file(real)
    except OSError as exc:
        raise VenueUnavailable(name, f"{real}: {exc.strerror or exc}") from None
    return real


def load_named_venue(name: object, site: Any) -> Any:
    """The ``ResolvedVenue`` called ``name`` for the loaded site profile ``site``."""
    from agent.profiles import ProfileError, load_venue

    path = venue_file(venue_dir_for(site.file), name)
    try:
        return load_venue(path, site)
    except ProfileError as exc:
        # issues carry file, line, key path and a message that never quotes a value
        raise VenueUnavailable(name, "; ".join(str(i) for i in exc.issues[:20])) from None


def refuse(exc: VenueUnavailable) -> dict[str, Any]:
    """The relocation result for central, the detail logged here only."""
    log.warning("relocation: venue %r refused: %s", exc.name, exc.detail)
    return {"ok": False, "error": str(exc)}
