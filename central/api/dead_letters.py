"""Admin: the agent frames central set aside (dead letters), listed and replayed."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from pydantic import BaseModel, ConfigDict
from sqlalchemy.orm import Session

from central.api.deps import Principal, admin, get_ctx
from central.api.lookup import get_or_404
from central.context import AppContext
from central.models import DeadLetter
from central.services import audit, dead_letters
from central.services.ingest import ingest_frame

router = APIRouter(prefix="/api/v1/admin", tags=["admin"])

LetterId = Path(ge=1, le=2**31 - 1)


class DeadLetterOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    site_id: str
    msg_id: str | None
    type: str | None
    reason: str
    truncated: bool
    state: Literal["held", "replayed"]
    received: int
    first_at: datetime
    last_at: datetime
    replayed_at: datetime | None
    replayed_by: str | None
    replay_error: str | None


class DeadLetterDetailOut(DeadLetterOut):
    #: the frame as the agent sent it (evidence for engineers)
    body: str


class ReplayOut(BaseModel):
    dead_letter: DeadLetterOut
    #: True when the replay ingested the message now (False: it had been ingested before, or failed)
    ingested: bool
    duplicate: bool
    error: str | None


@router.get("/dead-letters", response_model=list[DeadLetterOut])
def list_dead_letters(site: str | None = Query(None, max_length=64),
                      state: Literal["held", "replayed"] | None = None,
                      limit: int = Query(100, ge=1, le=1000), offset: int = Query(0, ge=0, le=10**9),
                      _: Principal = Depends(admin), ctx: AppContext = Depends(get_ctx)) -> list[DeadLetter]:
    with ctx.unit() as session:
        return dead_letters.listing(session, site=site, state=state, limit=limit, offset=offset)


@router.get("/dead-letters/{letter_id}", response_model=DeadLetterDetailOut)
def dead_letter(letter_id: int = LetterId, _: Principal = Depends(admin),
                ctx: AppContext = Depends(get_ctx)) -> DeadLetter:
    with ctx.unit() as session:
        return get_or_404(session, DeadLetter, letter_id, "dead letter")


@router.post("/dead-letters/{letter_id}/replay", response_model=ReplayOut,
             responses={404: {"description": "no such dead letter"},
                        409: {"description": "the dead letter was replayed already"}})
def replay_dead_letter(letter_id: int = LetterId, user: Principal = Depends(admin),
                       ctx: AppContext = Depends(get_ctx)) -> ReplayOut:
    """Ingest a held frame again (after the cause was fixed); it stays held with the error if not."""
    def record(session: Session, outcome: str, site: str, detail: dict[str, Any]) -> None:
        audit.record(session, actor=user.username, action="dead_letter.replay", target=site,
                     outcome=outcome, detail=detail)

    apply = functools.partial(_apply, limits=ctx.limits)
    try:
        result = dead_letters.replay(ctx.unit, letter_id, user.username, apply, record)
    except dead_letters.NotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    except dead_letters.AlreadyReplayed as exc:
        raise HTTPException(409, str(exc)) from exc
    return ReplayOut(dead_letter=DeadLetterOut.model_validate(result.letter), ingested=result.ingested,
                     duplicate=result.duplicate, error=result.error)


def _apply(session: Session, site_id: str, raw: str, limits: Any) -> bool:
    return ingest_frame(session, site_id, raw, limits)
