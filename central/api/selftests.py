"""Self-tests: run one now, list a site's, read one."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from central.api.deps import Principal, engineer, get_ctx, reader
from central.api.faults import language, lookups
from central.api.lookup import filtered, get_or_404
from central.api.schemas import SelftestOut, SelftestRequestOut
from central.api.sites import get_site
from central.context import AppContext
from central.messages import catalogue, codes
from central.models import SelftestRow
from central.services import audit, selftests

router = APIRouter(prefix="/api/v1", tags=["selftests"])


@router.post("/sites/{site}/selftests", response_model=SelftestRequestOut, status_code=202)
def run_selftest(
    site: str, user: Principal = Depends(engineer), ctx: AppContext = Depends(get_ctx)
) -> SelftestRequestOut:
    with ctx.unit() as session:
        get_site(session, site)
        row = selftests.request(
            session, site_id=site, actor=user.username, deadline_seconds=ctx.settings.command_deadline_seconds
        )
        assert row.command_id is not None
        audit.record(
            session,
            actor=user.username,
            action="site.selftest",
            target=site,
            outcome="accepted",
            command_id=row.command_id,
        )
        return SelftestRequestOut(id=row.id, command_id=row.command_id)


def explained(row: SelftestRow, lang: str, roles: dict[str, list[str]], site_ids: set[str]) -> SelftestOut:
    """The run with each check's name, device and (for a failure or warning) reason code and
    plain-language summary in ``lang``; the raw ``reason`` and ``evidence`` stay as they were."""
    out = SelftestOut.model_validate(row)
    checks = []
    for check in row.checks or []:
        device = str(check.get("device", ""))
        code = check.get("code")
        if code is None and check.get("status") in ("fail", "warn"):
            code = codes.check_code(
                str(check.get("name")), str(check.get("reason", "")), roles.get(device, [])
            )
        entry = {
            **check,
            "code": code or "",
            "check_name": catalogue.check_label(str(check.get("name")), lang),
            "device_name": catalogue.text(lang, "role.site")
            if device in site_ids
            else catalogue.device_label(device, roles.get(device), lang),
        }
        if code:
            entry.update({k: v for k, v in catalogue.explain(code, lang).items() if k != "code"})
        checks.append(entry)
    out.checks = checks
    return out


@router.get("/sites/{site}/selftests", response_model=list[SelftestOut])
def site_selftests(
    site: str,
    limit: int = Query(50, ge=1, le=1000),
    lang: str = Depends(language),
    _: Principal = Depends(reader),
    ctx: AppContext = Depends(get_ctx),
) -> list[SelftestOut]:
    with ctx.unit() as session:
        get_site(session, site)
        sites, roles = lookups(session)
        return [
            explained(row, lang, roles, set(sites))
            for row in session.scalars(
                filtered(SelftestRow, SelftestRow.created_at.desc(), limit=limit, site_id=site)
            )
        ]


@router.get("/selftests/{selftest_id}", response_model=SelftestOut)
def selftest_detail(
    selftest_id: str,
    lang: str = Depends(language),
    _: Principal = Depends(reader),
    ctx: AppContext = Depends(get_ctx),
) -> SelftestOut:
    with ctx.unit() as session:
        row = get_or_404(session, SelftestRow, selftest_id, "self-test")
        sites, roles = lookups(session)
        return explained(row, lang, roles, set(sites))
