"""Reports API (picked up by ``central.routers``): annual report, inspections with remarks and
sign-off, fault records with notes and manual close, the recordings archive, the report policy.

Every read takes ``format`` (json, html, pdf, csv) and ``lang`` (zh-CN, en); the year reports
share one route shape (``year_report``: year, sites, format, lang); engineers sign off and
close faults, viewers read, the policy's download roles fetch recordings, admins set the policy.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from central.api.deps import SESSION_COOKIE, IntId, Permission, Principal, admin, engineer, get_ctx, reader
from central.api.lookup import get_or_404
from central.context import AppContext
from central.models import Fault, Recording, Site, utcnow
from central.reports import (
    annual,
    charts,
    faults,
    inspections,
    policy,
    recordings,
    render_csv,
    render_html,
    render_pdf,
    site_map,
)
from central.reports import tables as docs
from central.reports.document import Document, site_label
from central.reports.periods import year_bounds
from central.reports.texts import LANGUAGES, from_accept_language, normalize, pick
from central.security import csrf_token_for
from central.services import audit

router = APIRouter(prefix="/api/v1", tags=["reports"])

Format = Literal["json", "html", "pdf", "csv"]
LANG_COOKIE = "roomops_lang"
MEDIA = {"pdf": "application/pdf", "csv": "text/csv; charset=utf-8"}


# -- request helpers ------------------------------------------------------------------------------
def _lang(request: Request, lang: str | None) -> str:
    """The query wins (``zh``, ``zh-CN``, ``en``, ``en-US``...), then the dashboard's language
    cookie, then Accept-Language, else Chinese."""
    if lang is not None:
        chosen = normalize(lang)
        if chosen is None:
            raise HTTPException(422, f"lang must be one of zh, {', '.join(LANGUAGES)}")
        return chosen
    cookie = normalize(request.cookies.get(LANG_COOKIE))
    if cookie:
        return cookie
    return from_accept_language(request.headers.get("accept-language")) or pick(None)


def _year(year: int | None) -> int:
    return year if year is not None else utcnow().year


def _sites(session: Session, sites: str | None) -> list[Site]:
    """The named sites (comma separated) in that order, or every site."""
    every = {s.id: s for s in session.scalars(select(Site).order_by(Site.created_at, Site.id))}
    if not sites:
        return list(every.values())
    wanted = [s.strip() for s in sites.split(",") if s.strip()]
    unknown = [s for s in wanted if s not in every]
    if unknown:
        raise HTTPException(404, f"unknown site(s): {', '.join(unknown)}")
    return [every[s] for s in dict.fromkeys(wanted)]


def _labels(sites: list[Site], lang: str) -> dict[str, str]:
    """Site id -> the name a reader of ``lang`` knows it by."""
    return {s.id: site_label(s.name, s.name_zh, s.id, lang) for s in sites}


def _csrf(request: Request, ctx: AppContext) -> str:
    token = request.cookies.get(SESSION_COOKIE)
    return csrf_token_for(ctx.secret_key, token) if token else ""


def _links(request: Request, lang: str) -> dict[str, str]:
    """The same document in the other formats and language."""
    params = {**dict(request.query_params), "lang": lang}
    out = {}
    for fmt in ("pdf", "csv"):
        out[fmt.upper()] = f"{request.url.path}?{urlencode({**params, 'format': fmt})}"
    other = "en" if lang == "zh-CN" else "zh-CN"
    out["English" if other == "en" else "中文"] = f"{request.url.path}?{urlencode({**params, 'lang': other})}"
    return out


def _respond(doc: Document, fmt: Format, request: Request, *, actions: dict[str, Any] | None = None,
             csrf: str = "") -> Response:
    if fmt == "html":
        page = render_html.render(doc, actions=actions, csrf=csrf, links=_links(request, doc.lang))
        return HTMLResponse(page, headers={"Cache-Control": "no-store"})
    if fmt == "pdf":
        try:
            body = render_pdf.render(doc)
        except render_pdf.FontMissing as exc:
            raise HTTPException(503, str(exc)) from exc
    else:
        body = render_csv.render(doc)
    filename = f"{doc.slug}-{doc.lang}.{fmt}"
    return Response(body, media_type=MEDIA[fmt], headers={
        "Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"})


def _json(data: Any) -> JSONResponse:
    return JSONResponse(jsonable_encoder(data))


# -- the year reports: one route shape ------------------------------------------------------------
@dataclass(frozen=True)
class ReportQuery:
    """What a year report is asked for, read once by the route ``year_report`` builds."""
    session: Session
    year: int | None           # as asked: None means this year (the recordings: every year)
    sites: str | None          # as asked: comma-separated ids, None means every site
    policy: policy.ReportPolicy
    lang: str

    @property
    def year_or_this(self) -> int:
        return _year(self.year)

    def chosen_sites(self) -> list[Site]:
        return _sites(self.session, self.sites)


@dataclass(frozen=True)
class Report:
    data: Any                          # the JSON answer
    document: Callable[[], Document]   # the html/pdf/csv one, built only when asked for


def year_report(path: str, summary: str) -> Callable[[Callable[[ReportQuery], Report]],
                                                     Callable[[ReportQuery], Report]]:
    """Register ``build`` as ``GET path``: the year, sites, format and lang parameters, the
    reader permission, the policy, and the answer as JSON or as the rendered document. The route
    keeps ``build``'s name (the OpenAPI operation and ``url_path_for``)."""
    def register(build: Callable[[ReportQuery], Report]) -> Callable[[ReportQuery], Report]:
        def route(request: Request, year: int | None = Query(None, ge=2000, le=2100),
                  sites: str | None = Query(None, description="comma-separated site ids; default all"),
                  format: Format = "json", lang: str | None = None,
                  _: Principal = Depends(reader), ctx: AppContext = Depends(get_ctx)) -> Response:
            language = _lang(request, lang)
            with ctx.unit() as session:
                report = build(ReportQuery(session, year, sites, policy.load(session), language))
            if format == "json":
                return _json(report.data)
            return _respond(report.document(), format, request)

        router.add_api_route(path, route, methods=["GET"], summary=summary, name=build.__name__)
        return build
    return register


# -- annual report --------------------------------------------------------------------------------
def annual_json(report: annual.AnnualReport) -> dict[str, Any]:
    body = dataclasses.asdict(report)
    body["policy"] = report.policy.model_dump()
    for fig, out in zip(report.sites, body["sites"], strict=True):
        out["satisfaction"] = fig.satisfaction
    body["totals"].update(hd_share=report.totals.hd_share, sd_share=report.totals.sd_share,
                          satisfaction=report.totals.satisfaction)
    body["satisfaction_met"] = report.satisfaction_met
    for item, out in zip(report.renewal, body["renewal"], strict=True):
        out.update(typical_resolution=item.typical_resolution, renew=item.renew)
    return body


@year_report("/reports/annual", "Annual operations report")
def annual_report(q: ReportQuery) -> Report:
    chosen, pol = q.chosen_sites(), q.policy
    report = annual.build(q.session, q.year_or_this, chosen, pol)
    monthly = charts.build(q.session, q.year_or_this, chosen, pol.report_timezone, pol.hd_uplink_mbps,
                           report.generated_at)
    return Report({**annual_json(report), "charts": [dataclasses.asdict(c) for c in monthly]},
                  lambda: docs.annual_document(report, q.lang, monthly))


@router.get("/reports/charts", summary="Per-site monthly charts of a year (json, or html: inline SVG)")
def monthly_charts(request: Request, year: int | None = Query(None, ge=2000, le=2100),
                   sites: str | None = None, format: Literal["json", "html"] = "json",
                   lang: str | None = None, _: Principal = Depends(reader),
                   ctx: AppContext = Depends(get_ctx)) -> Response:
    language = _lang(request, lang)
    with ctx.unit() as session:
        pol = policy.load(session)
        chosen = _sites(session, sites)
        monthly = charts.build(session, _year(year), chosen, pol.report_timezone, pol.hd_uplink_mbps)
    if format == "json":
        return _json([dataclasses.asdict(c) for c in monthly])
    section = docs.charts_section(monthly, language, _labels(chosen, language))
    return HTMLResponse(render_html.figures(section), headers={"Cache-Control": "no-store"})


MAP_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {"content": {"image/svg+xml": {"schema": {"type": "string"}},
                      "application/json": {"schema": {"type": "array", "items": {"type": "object"}}}},
          "description": "The map as SVG, or its pins as JSON"},
}


@router.get("/reports/map", summary="The sites on a map of China with their live status (svg or json)",
            responses=MAP_RESPONSES)  # type: ignore[arg-type]
def sites_map(request: Request, format: Literal["svg", "json"] = "svg", lang: str | None = None,
              _: Principal = Depends(reader), ctx: AppContext = Depends(get_ctx)) -> Response:
    language = _lang(request, lang)
    with ctx.unit() as session:
        pins = site_map.pins(session, language)
    if format == "json":
        return _json([dataclasses.asdict(p) for p in pins])
    return Response(site_map.render(pins, language), media_type="image/svg+xml",
                    headers={"Cache-Control": "no-store"})


# -- inspections ----------------------------------------------------------------------------------
@year_report("/reports/inspections", "Monthly inspections of a year: done, late, missing")
def inspections_year(q: ReportQuery) -> Report:
    view = inspections.year_view(q.session, q.year_or_this, q.chosen_sites(), q.policy)
    data = {"year": view.year, "generated_at": view.generated_at, "sites": [
        {**dataclasses.asdict(s), "due": s.due, "done": s.done, "late": s.count("late"),
         "missing": s.count("missing"), "signed": s.signed} for s in view.sites]}
    return Report(data, lambda: docs.inspections_document(view, q.policy, q.lang))


def _run(session: Session, selftest_id: str) -> Any:
    run = inspections.get_run(session, selftest_id)
    if run is None:
        raise HTTPException(404, f"no inspection record {selftest_id!r}")
    return run


@router.get("/reports/inspections/{selftest_id}", summary="One inspection record")
def inspection_record(selftest_id: str, request: Request, format: Format = "json", lang: str | None = None,
                      user: Principal = Depends(reader), ctx: AppContext = Depends(get_ctx)) -> Response:
    language = _lang(request, lang)
    with ctx.unit() as session:
        pol = policy.load(session)
        rec = inspections.record(session, _run(session, selftest_id), pol)
    if format == "json":
        return _json(rec)
    actions: dict[str, Any] = {}
    if format == "html" and user.can(Permission.DEVICES) and rec["signed_at"] is None:
        base = f"/api/v1/reports/inspections/{selftest_id}"
        actions = {"remarks": f"{base}/remarks", "remarks_text": rec["remarks"], "signoff": f"{base}/signoff"}
    return _respond(docs.inspection_record_document(rec, pol, language), format, request, actions=actions,
                    csrf=_csrf(request, ctx))


class RemarksIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    remarks: str = Field(max_length=10000)


class SignoffIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    remarks: str | None = Field(None, max_length=10000)


@router.put("/reports/inspections/{selftest_id}/remarks", summary="Set an engineer's remarks")
def inspection_remarks(selftest_id: str, body: RemarksIn, user: Principal = Depends(engineer),
                       ctx: AppContext = Depends(get_ctx)) -> JSONResponse:
    return _inspection_change(selftest_id, user, ctx, "remarks", body.remarks)


@router.post("/reports/inspections/{selftest_id}/signoff", summary="Sign off an inspection record")
def inspection_signoff(selftest_id: str, body: SignoffIn | None = None, user: Principal = Depends(engineer),
                       ctx: AppContext = Depends(get_ctx)) -> JSONResponse:
    return _inspection_change(selftest_id, user, ctx, "signoff", body.remarks if body else None)


def _inspection_change(selftest_id: str, user: Principal, ctx: AppContext, what: str,
                       remarks: str | None) -> JSONResponse:
    try:
        with ctx.unit() as session:
            run = _run(session, selftest_id)
            if what == "signoff":
                inspections.sign_off(session, run, user.username, remarks)
            else:
                inspections.set_remarks(session, run, remarks or "", user.username)
            audit.record(session, actor=user.username, action=f"inspection.{what}", target=selftest_id,
                         outcome="succeeded")
            return _json(inspections.record(session, run, policy.load(session)))
    except inspections.InspectionError as exc:
        raise HTTPException(409, str(exc)) from exc


# -- faults ---------------------------------------------------------------------------------------
@year_report("/reports/faults", "Fault records of a year")
def fault_records(q: ReportQuery) -> Report:
    lo, hi = year_bounds(q.year_or_this, q.policy.report_timezone)
    chosen = q.chosen_sites()
    found = faults.in_period(q.session, [s.id for s in chosen], lo, hi)
    records = [faults.record(q.session, f) for f in found]
    labels = _labels(chosen, q.lang)
    return Report(records, lambda: docs.faults_document(records, q.year_or_this, q.policy, q.lang, labels))


def _fault(session: Session, fault_id: int) -> Fault:
    return get_or_404(session, Fault, fault_id, "fault")


@router.get("/reports/faults/{fault_id}", summary="One fault record")
def fault_record(fault_id: IntId, request: Request, format: Format = "json", lang: str | None = None,
                 user: Principal = Depends(reader), ctx: AppContext = Depends(get_ctx)) -> Response:
    language = _lang(request, lang)
    with ctx.unit() as session:
        pol = policy.load(session)
        rec = faults.record(session, _fault(session, fault_id))
        labels = _labels([s for s in [session.get(Site, rec["site_id"])] if s is not None], language)
    if format == "json":
        return _json(rec)
    actions: dict[str, Any] = {}
    if format == "html" and user.can(Permission.DEVICES):
        base = f"/api/v1/reports/faults/{fault_id}"
        actions = {"note": f"{base}/notes"}
        if rec["closed_at"] is None:
            actions["close"] = f"{base}/close"
    return _respond(docs.fault_document(rec, pol, language, labels), format, request, actions=actions,
                    csrf=_csrf(request, ctx))


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=10000)


class CloseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=2000)


@router.post("/reports/faults/{fault_id}/notes", status_code=201, summary="Add a note to a fault")
def fault_note(fault_id: IntId, body: NoteIn, user: Principal = Depends(engineer),
               ctx: AppContext = Depends(get_ctx)) -> JSONResponse:
    with ctx.unit() as session:
        fault = _fault(session, fault_id)
        faults.add_note(session, fault, body.text, user.username)
        audit.record(session, actor=user.username, action="fault.note", target=str(fault_id),
                     outcome="succeeded")
        return JSONResponse(jsonable_encoder(faults.record(session, fault)), status_code=201)


@router.post("/reports/faults/{fault_id}/close", summary="Close a fault by hand, with a reason")
def fault_close(fault_id: IntId, body: CloseIn, user: Principal = Depends(engineer),
                ctx: AppContext = Depends(get_ctx)) -> JSONResponse:
    try:
        with ctx.unit() as session:
            fault = _fault(session, fault_id)
            faults.close(session, fault, body.reason, user.username)
            audit.record(session, actor=user.username, action="fault.close", target=str(fault_id),
                         outcome="succeeded", detail={"reason": body.reason})
            return _json(faults.record(session, fault))
    except faults.FaultError as exc:
        raise HTTPException(409, str(exc)) from exc


# -- recordings archive ---------------------------------------------------------------------------
@year_report("/recordings", "The recordings archive")
def recordings_archive(q: ReportQuery) -> Report:
    every = q.chosen_sites()
    chosen = [s.id for s in every] if q.sites else None
    lo, hi = year_bounds(q.year, q.policy.report_timezone) if q.year is not None else (None, None)
    items = recordings.listing(q.session, q.policy, chosen, lo, hi)
    labels = _labels(every, q.lang)
    return Report(items, lambda: docs.recordings_document(items, q.policy, q.lang, labels))


def _recording(session: Session, recording_id: str) -> Recording:
    return get_or_404(session, Recording, recording_id, "recording")


@router.get("/recordings/{recording_id}/file", summary="Download a recording (the policy's roles)")
def recording_file(recording_id: str, user: Principal = Depends(reader),
                   ctx: AppContext = Depends(get_ctx)) -> FileResponse:
    root = ctx.settings.resolved_recordings_dir()
    with ctx.unit() as session:
        allowed = set(policy.load(session).recording_download_roles)
        if not user.roles & allowed:
            audit.record(session, actor=user.username, action="recording.download", target=recording_id,
                         outcome="denied", detail={"needs": sorted(allowed)})
    if not user.roles & allowed:
        needed = ", ".join(sorted(allowed))
        raise HTTPException(403, f"downloading recordings needs one of the roles: {needed}")
    with ctx.unit() as session:
        row = _recording(session, recording_id)
        try:
            path = recordings.archive_path(root, row)
        except recordings.ArchiveError as exc:
            raise HTTPException(404, str(exc)) from exc
        if not path.is_file():
            raise HTTPException(404, f"recording {recording_id}: the file is not in the archive")
        audit.record(session, actor=user.username, action="recording.download", target=recording_id,
                     outcome="succeeded")
    return FileResponse(path, filename=path.name, media_type="application/octet-stream")


@router.post("/recordings/{recording_id}/verify", summary="Verify a recording's checksum now")
def recording_verify(recording_id: str, user: Principal = Depends(engineer),
                     ctx: AppContext = Depends(get_ctx)) -> JSONResponse:
    root = ctx.settings.resolved_recordings_dir()
    with ctx.unit() as session:
        row = _recording(session, recording_id)
        check = recordings.verify(session, row, root, user.username)
        audit.record(session, actor=user.username, action="recording.verify", target=recording_id,
                     outcome="succeeded" if check.ok else "failed", detail={"problem": check.problem or ""})
        return _json({"id": recording_id, "ok": check.ok, "expected_sha256": row.sha256,
                      "actual_sha256": check.actual_sha256, "expected_size": row.size,
                      "actual_size": check.actual_size, "problem": check.problem,
                      "verified_at": check.verified_at, "verified_by": check.verified_by})


@router.post("/recordings/retention/apply", summary="Purge the files of recordings past retention")
def retention_apply(user: Principal = Depends(admin), ctx: AppContext = Depends(get_ctx)) -> JSONResponse:
    root = ctx.settings.resolved_recordings_dir()
    with ctx.unit() as session:
        purged = recordings.apply_retention(session, root, policy.load(session))
        audit.record(session, actor=user.username, action="recording.retention", target="recordings",
                     outcome="succeeded", detail={"purged": len(purged)})
        return _json({"purged": purged})


# -- policy ---------------------------------------------------------------------------------------
@router.get("/reports/settings", summary="The report policy (retention, targets, inspection due dates)")
def get_settings(_: Principal = Depends(reader), ctx: AppContext = Depends(get_ctx)) -> JSONResponse:
    with ctx.unit() as session:
        return _json(policy.load(session).model_dump())


@router.put("/reports/settings", summary="Change the report policy (admin)")
def put_settings(body: dict[str, Any], user: Principal = Depends(admin),
                 ctx: AppContext = Depends(get_ctx)) -> JSONResponse:
    unknown = sorted(set(body) - set(policy.ReportPolicy.model_fields))
    if unknown:
        raise HTTPException(422, f"unknown setting(s): {', '.join(unknown)}")
    try:
        with ctx.unit() as session:
            updated = policy.update(session, body, user.username)
            audit.record(session, actor=user.username, action="reports.settings", target="reports",
                         outcome="succeeded", detail=jsonable_encoder(body))
            return _json(updated.model_dump())
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise HTTPException(422, f"invalid setting {where}: {first.get('msg')}") from exc


