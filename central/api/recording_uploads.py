"""Recording uploads from agents (site token as Bearer): the bulk half of ``record_stop``.

``PUT /api/v1/agent/recordings/{meeting_id}?file=<name>&sha256=<hex>``, body = the file. The
file is stored as ``<recordings dir>/<site>/<name>`` (what the recordings archive serves) only
when the bytes received hash to ``sha256``; otherwise nothing is kept and the answer is 422.
Sending the same file again is answered 200 (a retry after a lost reply); a different file under
an existing name is refused with 409. The site must take part in the meeting.
"""

from __future__ import annotations

import hashlib
import os
import re
import uuid
from pathlib import Path, PurePosixPath
from typing import IO

from anyio import to_thread
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse

from central.api.deps import get_ctx
from central.api.uplink import agent_site
from central.context import AppContext
from central.models import MeetingSite
from central.services import audit

router = APIRouter(prefix="/api/v1/agent/recordings", tags=["agent uploads"])
_HEX64 = re.compile(r"[0-9a-f]{64}")


def safe_name(name: str) -> str:
    """A bare file name, never a path: anything else is refused."""
    if (not name or name in (".", "..") or name.startswith(".") or "/" in name or "\\" in name
            or "\x00" in name or PurePosixPath(name).name != name or len(name) > 255):
        raise HTTPException(422, f"file must be a plain file name, not {name!r}")
    return name


@router.put("/{meeting_id}", summary="Upload a finished recording (agent, site token)")
async def upload_recording(meeting_id: str, request: Request, file: str = Query(...),
                           sha256: str = Query(..., description="lowercase hex SHA-256 of the body"),
                           site: str = Depends(agent_site),
                           ctx: AppContext = Depends(get_ctx)) -> JSONResponse:
    name = safe_name(file)
    expected = sha256.lower()
    if not _HEX64.fullmatch(expected):
        raise HTTPException(422, "sha256 must be 64 hex digits")

    def takes_part() -> bool:
        with ctx.unit() as session:
            return session.get(MeetingSite, (meeting_id, site)) is not None

    if not await to_thread.run_sync(takes_part):
        raise HTTPException(404, f"site {site!r} takes no part in a meeting {meeting_id!r}")
    folder = ctx.settings.resolved_recordings_dir() / site
    await to_thread.run_sync(lambda: folder.mkdir(parents=True, exist_ok=True))
    target = folder / name
    part = folder / f".{name}.{uuid.uuid4().hex}.part"
    digest, size = hashlib.sha256(), 0
    handle: IO[bytes] = await to_thread.run_sync(part.open, "wb")
    try:
        try:
            async for chunk in request.stream():
                digest.update(chunk)
                size += len(chunk)
                await to_thread.run_sync(handle.write, chunk)
            await to_thread.run_sync(_sync_close, handle)
        finally:
            handle.close()
        actual = digest.hexdigest()
        if actual != expected:
            raise HTTPException(422, f"checksum mismatch: the body hashes to {actual}, not {expected}")
        status = await to_thread.run_sync(_place, part, target, expected)
    finally:
        part.unlink(missing_ok=True)

    def record() -> None:
        with ctx.unit() as session:
            audit.record(session, actor=f"agent:{site}", action="recording.upload", target=meeting_id,
                         outcome="succeeded", detail={"file": name, "size": size, "sha256": expected})

    await to_thread.run_sync(record)
    return JSONResponse({"site": site, "meeting_id": meeting_id, "file": name, "size": size,
                         "sha256": expected}, status_code=status)


def _sync_close(handle: IO[bytes]) -> None:
    handle.flush()
    os.fsync(handle.fileno())


def _place(part: Path, target: Path, sha256: str) -> int:
    """Put the verified upload in place (a hard link never overwrites): 201 new, 200 the same
    file again, else 409."""
    try:
        os.link(part, target)
    except FileExistsError:
        if _sha256_of(target) == sha256:
            return 200
        raise HTTPException(409, f"a different file named {target.name!r} is already archived") from None
    return 201


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()
