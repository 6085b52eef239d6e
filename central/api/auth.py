"""Sign-in: bearer tokens for API clients, a cookie session with CSRF token for the dashboard."""

from __future__ import annotations

import asyncio
import math

from anyio import to_thread
from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from fastapi.security import OAuth2PasswordRequestForm

from central.api.deps import CSRF_COOKIE, SESSION_COOKIE, Principal, current_user, get_ctx
from central.api.schemas import MeOut, SessionOut, TokenOut
from central.context import AppContext
from central.models import User
from central.ratelimit import LoginThrottled
from central.security import csrf_token_for, sign_access_token
from central.services import accounts

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


def _verify_slots(request: Request, ctx: AppContext) -> asyncio.Semaphore:
    """At most ``login_concurrent_verifies`` argon2 checks at once (each takes ~64 MiB): waiting
    sign-ins wait here, on the event loop, holding neither a thread nor memory."""
    slots = getattr(request.app.state, "login_verify_slots", None)
    if slots is None:
        slots = asyncio.Semaphore(ctx.settings.login_concurrent_verifies)
        request.app.state.login_verify_slots = slots
    return slots


async def _login(ctx: AppContext, request: Request, form: OAuth2PasswordRequestForm) -> User:
    assert ctx.limiter is not None
    limiter = ctx.limiter
    address = request.client.host if request.client else "?"
    try:
        # counted before the password is checked, so a burst gets only the allowance through
        reservation = await to_thread.run_sync(limiter.reserve, form.username, address)
    except LoginThrottled as exc:
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, "too many failed sign-ins; try again later",
                            headers={"Retry-After": str(max(1, math.ceil(exc.retry_after)))}) from None

    def check() -> User | None:
        with ctx.unit() as session:
            return accounts.authenticate(session, form.username, form.password)

    async with _verify_slots(request, ctx):
        user = await to_thread.run_sync(check)      # argon2 is CPU and memory: off the event loop
    if user is None:
        await to_thread.run_sync(limiter.failed, reservation)
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong username or password",
                            headers={"WWW-Authenticate": "Bearer"})
    await to_thread.run_sync(limiter.succeeded, reservation)
    return user


@router.post("/token", response_model=TokenOut)
async def token(request: Request, form: OAuth2PasswordRequestForm = Depends(),
                ctx: AppContext = Depends(get_ctx)) -> TokenOut:
    """OAuth2 password flow: form fields ``username`` and ``password``."""
    user = await _login(ctx, request, form)
    ttl = ctx.settings.access_token_ttl_seconds
    return TokenOut(access_token=sign_access_token(ctx.secret_key, user.id, ttl), expires_in=ttl)


@router.post("/session", response_model=SessionOut)
async def open_session(request: Request, response: Response, form: OAuth2PasswordRequestForm = Depends(),
                       ctx: AppContext = Depends(get_ctx)) -> SessionOut:
    """Dashboard sign-in: sets an HttpOnly session cookie; send the returned ``csrf_token`` back in the
    ``X-CSRF-Token`` header on every change (it is also readable in the ``roomops_csrf`` cookie)."""
    user = await _login(ctx, request, form)
    ttl = ctx.settings.access_token_ttl_seconds
    session_token = sign_access_token(ctx.secret_key, user.id, ttl)
    csrf = csrf_token_for(ctx.secret_key, session_token)
    secure = ctx.settings.cookie_secure
    response.set_cookie(SESSION_COOKIE, session_token, max_age=ttl, httponly=True, samesite="strict",
                        secure=secure, path="/")
    response.set_cookie(CSRF_COOKIE, csrf, max_age=ttl, httponly=False, samesite="strict", secure=secure,
                        path="/")
    return SessionOut(username=user.username, roles=list(user.roles), csrf_token=csrf)


@router.post("/logout", status_code=204)
def logout(response: Response) -> Response:
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
    response.status_code = 204
    return response


@router.get("/me", response_model=MeOut)
def me(user: Principal = Depends(current_user)) -> MeOut:
    return MeOut(username=user.username, roles=sorted(user.roles))
