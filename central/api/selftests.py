"""Self-tests: run one now, list a site's, read one."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Query
from sqlalchemy import select

from central.api.deps import Principal, engineer, get_ctx, reader
from central.api.schemas import SelftestOut, SelftestRequestOut
from central.api.sites import get_site
from central.context import AppContext
from central.models import SelftestRow
from central.services import audit, selftests

router = APIRouter(prefix="/api/v1", tags=["selftests"])


@router.post("/sites/{site}/selftests", response_model=SelftestRequestOut, status_code=202)
def run_selftest(site: str, user: Principal = Depends(engineer),
                 ctx: AppContext = Depends(get_ctx)) -> SelftestRequestOut:
    with ctx.unit() as session:
        get_site(session, site)
        row = selftests.request(session, site_id=site, actor=user.username,
                                deadline_seconds=ctx.settings.command_deadline_seconds)
        assert row.command_id is not None
        audit.record(session, actor=user.username, action="site.selftest", target=site, outcome="accepted",
                     command_id=row.command_id)
        return SelftestRequestOut(id=row.id, command_id=row.command_id)


@router.get("/sites/{site}/selftests", response_model=list[SelftestOut])
def site_selftests(site: str, limit: int = Query(50, ge=1, le=1000), _: Principal = Depends(reader),
                   ctx: AppContext = Depends(get_ctx)) -> list[SelftestRow]:
    with ctx.unit() as session:
        get_site(session, site)
        return list(session.scalars(
            select(SelftestRow).where(SelftestRow.site_id == site)
            .order_by(SelftestRow.created_at.desc()).limit(limit)
        ))


@router.get("/selftests/{selftest_id}", response_model=SelftestOut)
def selftest_detail(selftest_id: str, _: Principal = Depends(reader),
                    ctx: AppContext = Depends(get_ctx)) -> SelftestRow:
    with ctx.unit() as session:
        row = session.get(SelftestRow, selftest_id)
        if row is None:
            raise HTTPException(404, f"no self-test {selftest_id!r}")
        return row
