"""Before ``roomops demo`` touches anything: is another demo (or anything else) in the way?

A second demo must not delete the first one's database, agents, WAL files or logs and then die
on "Address already in use". So, first of all and in this order:

1. an exclusive lock on ``DATA/demo.lock`` (held for the demo's life; the kernel drops it when
   the process dies, so a crashed demo never leaves a stale lock behind);
2. central's address and every TCP/UDP address the simulators will serve must be free.

Each refusal names what is busy. Nothing is created or deleted before both pass, except the
data folder itself (so the lock file has somewhere to live).
"""

from __future__ import annotations

import errno
import fcntl
import os
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from agent.profiles import ResolvedSite

LOCK_NAME = "demo.lock"


class Busy(Exception):
    """Something the demo needs is in use; the message says what."""


@dataclass(frozen=True)
class Address:
    what: str          # "central" or a device id
    host: str
    port: int
    udp: bool = False

    def __str__(self) -> str:
        return f"{self.host}:{self.port}{'/udp' if self.udp else ''} ({self.what})"


def take_lock(data_dir: Path) -> IO[str]:
    """Hold ``DATA/demo.lock`` exclusively; raise ``Busy`` naming the holder's pid otherwise."""
    data_dir.mkdir(parents=True, exist_ok=True)
    handle = open(data_dir / LOCK_NAME, "a+", encoding="utf-8")   # kept open: the open file holds the lock
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        handle.seek(0)
        holder = handle.read().strip() or "unknown"
        handle.close()
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
            raise Busy(f"another demo is running with the data folder {data_dir} (pid {holder}); "
                       "stop it first or give --data-dir and --port of your own") from None
        raise
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


def addresses(sites: Iterable[ResolvedSite], host: str, port: int) -> list[Address]:
    """Central's address, then every network address the simulators of ``sites`` listen on."""
    out = [Address("central", host, port)]
    for site in sites:
        for device in site.devices:
            if device.is_network and device.host and device.port:
                out.append(Address(device.id, device.host, int(device.port), udp=device.transport == "udp"))
    return out


def in_use(address: Address) -> bool:
    """True when something listens on (or holds) ``address``: binding it fails with EADDRINUSE."""
    kind = socket.SOCK_DGRAM if address.udp else socket.SOCK_STREAM
    with socket.socket(socket.AF_INET, kind) as probe:
        if not address.udp:
            # a port in TIME_WAIT after the last demo is free; only a live socket should count
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((address.host, address.port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return True
            raise Busy(f"cannot use {address}: {exc.strerror}") from None
    return False


def check_free(wanted: Iterable[Address]) -> None:
    """Raise ``Busy`` naming every address already in use."""
    busy = [a for a in wanted if in_use(a)]
    if busy:
        listed = ", ".join(str(a) for a in busy[:5]) + (f" and {len(busy) - 5} more" if len(busy) > 5 else "")
        raise Busy(f"address already in use: {listed}; is another demo or RoomOps running? "
                   "Nothing was changed.")
