"""Admin: users, sites and agent tokens."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, status
from sqlalchemy import select

from central.api.deps import Principal, SitePath, TokenPath, admin, get_ctx
from central.api.schemas import SiteIn, SiteOut, SitePatch, SiteRetireIn, SiteTokenOut, UserIn, UserOut
from central.api.sites import get_site
from central.context import AppContext
from central.models import Site, User
from central.services import accounts, audit

router = APIRouter(prefix="/api/v1", tags=["admin"])


def _conflict_or_invalid(exc: accounts.AccountError) -> HTTPException:
    code = status.HTTP_409_CONFLICT if isinstance(exc, accounts.AlreadyExists) else 422
    return HTTPException(code, str(exc))


@router.get("/users", response_model=list[UserOut])
def list_users(_: Principal = Depends(admin), ctx: AppContext = Depends(get_ctx)) -> list[User]:
    with ctx.unit() as session:
        return list(session.scalars(select(User).order_by(User.username)))


@router.post("/users", response_model=UserOut, status_code=201)
def add_user(body: UserIn, user: Principal = Depends(admin), ctx: AppContext = Depends(get_ctx)) -> User:
    try:
        with ctx.unit() as session:
            created = accounts.create_user(session, body.username, body.password, list(body.roles))
            audit.record(session, actor=user.username, action="user.add", target=body.username,
                         outcome="succeeded", detail={"roles": sorted(body.roles)})
            return created
    except accounts.AccountError as exc:
        raise _conflict_or_invalid(exc) from exc


@router.post("/sites", response_model=SiteOut, status_code=201)
def add_site(body: SiteIn, user: Principal = Depends(admin), ctx: AppContext = Depends(get_ctx)) -> Site:
    try:
        with ctx.unit() as session:
            site = accounts.create_site(session, body.id, name=body.name, name_zh=body.name_zh,
                                        timezone=body.timezone, codec_uri=body.codec_uri,
                                        multisite_capacity=body.multisite_capacity)
            audit.record(session, actor=user.username, action="site.add", target=body.id, outcome="succeeded")
            return site
    except accounts.AccountError as exc:
        raise _conflict_or_invalid(exc) from exc


@router.patch("/sites/{site}", response_model=SiteOut)
def edit_site(site: SitePath, body: SitePatch, user: Principal = Depends(admin),
              ctx: AppContext = Depends(get_ctx)) -> Site:
    """Change a site's names, time zone, codec URI or multisite capacity (audited: before and after)."""
    with ctx.unit() as session:
        row = get_site(session, site)
        if row.retired_at is not None:
            raise HTTPException(status.HTTP_409_CONFLICT, f"site {site!r} is retired")
        changes = {}
        for name in sorted(body.model_fields_set):
            before, after = getattr(row, name), getattr(body, name)
            if before != after:
                changes[name] = {"before": before, "after": after}
                setattr(row, name, after)
        audit.record(session, actor=user.username, action="site.edit", target=site, outcome="succeeded",
                     detail={"changes": changes})
        session.flush()
        return row


@router.post("/sites/{site}/retire", response_model=SiteOut)
def retire_site(site: SitePath, body: SiteRetireIn, user: Principal = Depends(admin),
                ctx: AppContext = Depends(get_ctx)) -> Site:
    """Retire a site: its agent tokens are revoked, it takes no new meetings or tokens; its row,
    history and reports stay (a retired site still appears in the reports of its period)."""
    with ctx.unit() as session:
        row = get_site(session, site)
        if row.retired_at is not None:
            raise HTTPException(status.HTTP_409_CONFLICT, f"site {site!r} is already retired")
        revoked = accounts.retire_site(session, row, user.username)
        audit.record(session, actor=user.username, action="site.retire", target=site, outcome="succeeded",
                     detail={"reason": body.reason, "tokens_revoked": revoked})
        session.flush()
        return row


@router.post("/sites/{site}/tokens", response_model=SiteTokenOut, status_code=201)
def issue_token(site: SitePath, user: Principal = Depends(admin),
                ctx: AppContext = Depends(get_ctx)) -> SiteTokenOut:
    with ctx.unit() as session:
        if get_site(session, site).retired_at is not None:
            raise HTTPException(status.HTTP_409_CONFLICT, f"site {site!r} is retired: no new agent tokens")
        row, secret = accounts.issue_site_token(session, site, user.username)
        audit.record(session, actor=user.username, action="token.issue", target=site, outcome="succeeded",
                     detail={"token_id": row.id})
    return SiteTokenOut(token_id=row.id, site=site, token=secret)


@router.delete("/sites/{site}/tokens/{token_id}", status_code=204)
def revoke_token(site: SitePath, token_id: TokenPath, user: Principal = Depends(admin),
                 ctx: AppContext = Depends(get_ctx)) -> None:
    with ctx.unit() as session:
        if accounts.revoke_site_token(session, site, token_id) is None:
            raise HTTPException(404, f"no token {token_id!r} for site {site!r}")
        audit.record(session, actor=user.username, action="token.revoke", target=site, outcome="succeeded",
                     detail={"token_id": token_id})
    # the commit announces the revoked token: every instance closes its open link of it at once
