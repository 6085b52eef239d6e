"""Relocations: plan from a venue profile (by the agent), then apply."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException

from central.api.deps import Principal, engineer, get_ctx, reader
from central.api.lookup import get_or_404
from central.api.schemas import Created, RelocationIn, RelocationOut
from central.api.sites import get_site
from central.context import AppContext
from central.models import Relocation
from central.services import audit, relocations

router = APIRouter(prefix="/api/v1", tags=["relocations"])


@router.post("/sites/{site}/relocations", response_model=Created, status_code=202)
def plan_relocation(site: str, body: RelocationIn, user: Principal = Depends(engineer),
                    ctx: AppContext = Depends(get_ctx)) -> Created:
    with ctx.unit() as session:
        get_site(session, site)
        row = relocations.plan(session, site_id=site, venue=body.venue, actor=user.username,
                               deadline_seconds=ctx.settings.command_deadline_seconds)
        audit.record(session, actor=user.username, action="relocation.plan", target=site, outcome="accepted",
                     detail={"venue": body.venue, "relocation_id": row.id}, command_id=row.plan_command_id)
        return Created(id=row.id)


@router.get("/relocations/{relocation_id}", response_model=RelocationOut)
def relocation_detail(relocation_id: str, _: Principal = Depends(reader),
                      ctx: AppContext = Depends(get_ctx)) -> Relocation:
    with ctx.unit() as session:
        return get_or_404(session, Relocation, relocation_id, "relocation")


@router.post("/relocations/{relocation_id}/apply", response_model=RelocationOut, status_code=202)
def apply_relocation(relocation_id: str, user: Principal = Depends(engineer),
                     ctx: AppContext = Depends(get_ctx)) -> Relocation:
    try:
        with ctx.unit() as session:
            row = get_or_404(session, Relocation, relocation_id, "relocation")
            command = relocations.apply(session, row, actor=user.username,
                                        deadline_seconds=ctx.settings.command_deadline_seconds)
            audit.record(session, actor=user.username, action="relocation.apply", target=row.site_id,
                         outcome="accepted", detail={"venue": row.venue, "relocation_id": row.id},
                         command_id=command.id)
            session.flush()
            return row
    except relocations.RelocationError as exc:
        raise HTTPException(409, str(exc)) from exc
