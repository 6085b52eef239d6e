"""Admin: users, sites and agent tokens."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, status
from sqlalchemy import select

from central.api.deps import Principal, admin, get_ctx
from central.api.schemas import SiteIn, SiteOut, SiteTokenOut, UserIn, UserOut
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


@router.post("/sites/{site}/tokens", response_model=SiteTokenOut, status_code=201)
def issue_token(site: str, user: Principal = Depends(admin),
                ctx: AppContext = Depends(get_ctx)) -> SiteTokenOut:
    with ctx.unit() as session:
        if session.get(Site, site) is None:
            raise HTTPException(404, f"no site {site!r}")
        row, secret = accounts.issue_site_token(session, site, user.username)
        audit.record(session, actor=user.username, action="token.issue", target=site, outcome="succeeded",
                     detail={"token_id": row.id})
    return SiteTokenOut(token_id=row.id, site=site, token=secret)


@router.delete("/sites/{site}/tokens/{token_id}", status_code=204)
def revoke_token(site: str, token_id: str, user: Principal = Depends(admin),
                 ctx: AppContext = Depends(get_ctx)) -> None:
    with ctx.unit() as session:
        if accounts.revoke_site_token(session, site, token_id) is None:
            raise HTTPException(404, f"no token {token_id!r} for site {site!r}")
        audit.record(session, actor=user.username, action="token.revoke", target=site, outcome="succeeded",
                     detail={"token_id": token_id})
    assert ctx.hub is not None
    ctx.hub.close_links_for(token_ids=[token_id])     # an open link of the token ends now
