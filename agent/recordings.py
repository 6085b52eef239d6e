"""A finished recording: find its file, checksum it, upload it to central's archive over HTTP.

The recorder's control protocol (Extron SIS) names the file but cannot carry its bytes; the unit
records onto storage the agent's host also sees (a network share mounted on the agent's host,
the recorder option ``recordings_dir``) [unverified: how a site exposes the SMP's storage is a
deployment choice; the option keeps it configurable]. For a demo site without that option the
folder is where ``roomops sim`` keeps the simulated recorder's files.

Upload: ``PUT <central>/api/v1/agent/recordings/<meeting id>?file=<name>&sha256=<hex>`` with the
site token as Bearer; central stores it as ``<recordings dir>/<site>/<name>`` only when the bytes
it received hash to ``sha256`` (HTTP is for bulk uploads; the link carries only the result).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

import httpx

log = logging.getLogger(__name__)

UPLOAD_PATH = "/api/v1/agent/recordings/"
CHUNK = 1024 * 1024


class RecordingUnavailable(Exception):
    """The recording's file cannot be read or sent; the message says why."""


@dataclass(frozen=True)
class RecordedFile:
    path: Path
    size: int
    sha256: str

    @property
    def name(self) -> str:
        return self.path.name


def recordings_folder(options: dict[str, Any], resolved: Any) -> Path | None:
    """Where the recorder's files appear on this host, or None when nobody said."""
    configured = options.get("recordings_dir")
    if configured:
        return Path(str(configured))
    if resolved is not None and getattr(resolved, "demo", False):
        # the simulated recorder of a demo site writes here (agent.profiles.simoptions)
        return Path(resolved.root) / ".roomops" / "recordings" / str(resolved.id)
    return None


def file_name(reported: str) -> str:
    """The bare file name of what the recorder reports (``recordings/SMP351_...m4v``)."""
    name = PurePosixPath(reported.replace("\\", "/")).name
    if name in ("", ".", ".."):
        raise RecordingUnavailable(f"the recorder reported no usable file name ({reported!r})")
    return name


def checksum(path: Path) -> RecordedFile:
    digest, size = hashlib.sha256(), 0
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(CHUNK):
                digest.update(chunk)
                size += len(chunk)
    except OSError as exc:
        raise RecordingUnavailable(f"cannot read {path}: {exc.strerror or exc}") from exc
    return RecordedFile(path, size, digest.hexdigest())


def upload_url(central: str, meeting_id: str) -> str:
    base = central.rstrip("/")
    if base.startswith("ws://"):
        base = "http://" + base[len("ws://"):]
    elif base.startswith("wss://"):
        base = "https://" + base[len("wss://"):]
    elif not base.startswith(("http://", "https://")):
        base = "http://" + base
    return base + UPLOAD_PATH + quote(meeting_id, safe="")


async def _chunks(path: Path) -> AsyncIterator[bytes]:
    with path.open("rb") as handle:
        while chunk := await asyncio.to_thread(handle.read, CHUNK):
            yield chunk


async def upload(central: str, token: str, meeting_id: str, recorded: RecordedFile, *,
                 within: float, attempts: int = 3) -> dict[str, Any]:
    """Send the file; a network failure or a 5xx is retried, with backoff, for ``within`` seconds."""
    url = upload_url(central, meeting_id)
    params = {"file": recorded.name, "sha256": recorded.sha256}
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/octet-stream",
               "Content-Length": str(recorded.size)}
    deadline = time.monotonic() + within
    last = ""
    for attempt in range(1, attempts + 1):
        left = deadline - time.monotonic()
        if left <= 0:
            break
        try:
            async with httpx.AsyncClient(timeout=min(left, 60.0)) as client:
                reply = await client.put(url, params=params, headers=headers, content=_chunks(recorded.path))
        except httpx.HTTPError as exc:
            last = f"{type(exc).__name__}: {exc}"
        except OSError as exc:
            raise RecordingUnavailable(f"cannot read {recorded.path}: {exc.strerror or exc}") from exc
        else:
            if reply.status_code in (200, 201):
                return dict(reply.json())
            last = f"HTTP {reply.status_code}: {reply.text[:300]}"
            if reply.status_code < 500:
                break      # central refused it (token, meeting, checksum): a retry changes nothing
        log.warning("recording upload %s attempt %d failed: %s", recorded.name, attempt, last)
        await asyncio.sleep(min(float(attempt), max(0.0, deadline - time.monotonic())))
    raise RecordingUnavailable(f"upload of {recorded.name} to central failed: {last}")
