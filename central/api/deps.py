"""Request dependencies: the app context, the signed-in user and role checks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request, status
from fastapi.security import OAuth2PasswordBearer

from central.context import AppContext
from central.models import User
from central.security import csrf_token_for, read_access_token
from central.services import audit

#: path ids are bounded at the door: a database id is a 64-bit integer, text ids are short
MAX_INT_ID = 2**63 - 1
IntId = Annotated[int, Path(ge=1, le=MAX_INT_ID)]
TextId = Annotated[str, Path(min_length=1, max_length=128)]
SitePath = Annotated[str, Path(min_length=1, max_length=64)]
TokenPath = Annotated[str, Path(min_length=1, max_length=32)]

SESSION_COOKIE = "roomops_session"
CSRF_COOKIE = "roomops_csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# auto_error=False: a dashboard request may carry a session cookie instead of a bearer token.
oauth2 = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


class Permission(StrEnum):
    READ = "read"
    MEETINGS = "meetings"          # schedule, start, stop meetings
    DEVICES = "devices"            # device commands, self-tests, relocations
    ADMIN = "admin"                # users, sites, agent tokens


#: Which roles hold which permission. Admin may do everything.
GRANTS: dict[Permission, frozenset[str]] = {
    Permission.READ: frozenset({"viewer", "secretariat", "engineer", "admin"}),
    Permission.MEETINGS: frozenset({"secretariat", "admin"}),
    Permission.DEVICES: frozenset({"engineer", "admin"}),
    Permission.ADMIN: frozenset({"admin"}),
}


@dataclass(frozen=True)
class Principal:
    user_id: int
    username: str
    roles: frozenset[str]

    def can(self, permission: Permission) -> bool:
        return bool(self.roles & GRANTS[permission])


def get_ctx(request: Request) -> AppContext:
    return request.app.state.ctx


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, message, headers={"WWW-Authenticate": "Bearer"})


def current_user(
    request: Request, bearer: str | None = Depends(oauth2), ctx: AppContext = Depends(get_ctx)
) -> Principal:
    token = bearer
    if token is None:
        token = request.cookies.get(SESSION_COOKIE)
        if token is None:
            raise _unauthorized("not signed in: send a bearer token or sign in to the dashboard")
        # A cookie rides along on cross-site requests: changes must prove they come from our page.
        if request.method not in SAFE_METHODS:
            sent = request.headers.get(CSRF_HEADER, "")
            if not sent or sent != csrf_token_for(ctx.secret_key, token):
                raise HTTPException(status.HTTP_403_FORBIDDEN, f"missing or wrong {CSRF_HEADER} header")
    user_id = read_access_token(ctx.secret_key, token)
    if user_id is None:
        raise _unauthorized("the token is invalid or has expired; sign in again")
    with ctx.unit() as session:
        user = session.get(User, user_id)
        if user is None or not user.active:
            raise _unauthorized("the account no longer exists or is disabled")
        return Principal(user.id, user.username, frozenset(user.roles))


def require(permission: Permission) -> Callable[..., Principal]:
    def dependency(
        request: Request, user: Principal = Depends(current_user), ctx: AppContext = Depends(get_ctx)
    ) -> Principal:
        if user.can(permission):
            return user
        if request.method not in SAFE_METHODS:
            with ctx.unit() as session:
                audit.record(session, actor=user.username, action=f"{request.method} {request.url.path}",
                             target=request.url.path, outcome="denied",
                             detail={"needs": permission.value, "roles": sorted(user.roles)})
        needed = ", ".join(sorted(GRANTS[permission]))
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"this needs one of the roles: {needed}")

    return dependency


reader = require(Permission.READ)
secretariat = require(Permission.MEETINGS)
engineer = require(Permission.DEVICES)
admin = require(Permission.ADMIN)
