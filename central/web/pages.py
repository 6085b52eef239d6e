"""The dashboard's HTML pages. Each page is a shell; its script fetches data from the REST API,
so what a role may see or do is decided in one place: the API."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

from central.api.deps import SESSION_COOKIE, Permission, Principal, current_user, get_ctx
from central.context import AppContext
from central.security import csrf_token_for
from central.web.assets import render, static_file, texts
from central.web.i18n import LANG_COOKIE, pick_language

router = APIRouter(include_in_schema=False)

NAV: tuple[tuple[str, str], ...] = (
    ("overview", "/"), ("meetings", "/meetings"), ("faults", "/faults"), ("audit", "/audit"),
    ("reports", "/reports"),
)
#: The role shown next to the user name: the most capable one held.
ROLE_ORDER = ("admin", "engineer", "secretariat", "viewer")


def request_language(request: Request) -> str:
    return pick_language(request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"))


def _login_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)


def _page_user(request: Request, ctx: AppContext) -> Principal | None:
    """The signed-in user of a page request (cookie session), or None."""
    try:
        return current_user(request, None, ctx)
    except HTTPException as exc:
        if exc.status_code == 401:
            return None
        raise


def _page(request: Request, ctx: AppContext, template: str, page: str, section: str,
          **context: Any) -> Response:
    user = _page_user(request, ctx)
    if user is None:
        return _login_redirect(request)
    lang = request_language(request)
    session_token = request.cookies.get(SESSION_COOKIE, "")
    caps = {"meetings": user.can(Permission.MEETINGS), "devices": user.can(Permission.DEVICES),
            "admin": user.can(Permission.ADMIN)}
    role = next((r for r in ROLE_ORDER if r in user.roles), "viewer")
    return render(
        template, lang, page=page, section=section, nav=NAV, caps=caps,
        csrf=csrf_token_for(ctx.secret_key, session_token) if session_token else "",
        user={"username": user.username, "roles": sorted(user.roles), "role": role},
        boot={"lang": lang, "caps": caps, "texts": texts(lang), "live": True},
        **context,
    )


def _safe_next(target: str | None) -> str:
    """Only a path on this server: never an open redirect."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


@router.get("/login")
def login_page(request: Request, next: str | None = None) -> Response:
    return render("login.html", request_language(request), next=_safe_next(next))


@router.get("/")
def overview_page(request: Request, ctx: AppContext = Depends(get_ctx)) -> Response:
    return _page(request, ctx, "overview.html", "overview", "overview")


@router.get("/meetings")
def meetings_page(request: Request, ctx: AppContext = Depends(get_ctx)) -> Response:
    return _page(request, ctx, "meetings.html", "meetings", "meetings")


@router.get("/meetings/{meeting_id}")
def meeting_page(meeting_id: str, request: Request, ctx: AppContext = Depends(get_ctx)) -> Response:
    return _page(request, ctx, "meeting.html", "meeting", "meetings", meeting_id=meeting_id)


@router.get("/sites/{site_id}")
def site_page(site_id: str, request: Request, ctx: AppContext = Depends(get_ctx)) -> Response:
    return _page(request, ctx, "site.html", "site", "overview", site_id=site_id)


@router.get("/faults")
def faults_page(request: Request, ctx: AppContext = Depends(get_ctx)) -> Response:
    return _page(request, ctx, "faults.html", "faults", "faults")


@router.get("/audit")
def audit_page(request: Request, ctx: AppContext = Depends(get_ctx)) -> Response:
    return _page(request, ctx, "audit.html", "audit", "audit")


@router.get("/reports")
def reports_page(request: Request, ctx: AppContext = Depends(get_ctx)) -> Response:
    return _page(request, ctx, "reports.html", "reports", "reports")


@router.get("/static/{path:path}")
def static(path: str) -> FileResponse:
    return static_file(path)
