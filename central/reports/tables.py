"""Reports -> documents: the annual report, the inspections year view, one inspection record,
one fault record, the recordings archive."""

from __future__ import annotations

from typing import Any

from central.messages import catalogue
from central.reports.annual import AnnualReport
from central.reports.charts import SiteCharts
from central.reports.document import (
    DASH,
    Document,
    Figure,
    Section,
    avail,
    duration,
    num,
    pct,
    site_label,
    when,
)
from central.reports.inspections import InspectionYear
from central.reports.policy import ReportPolicy
from central.reports.renewal import CODEC_AGE_LIMIT, SiteRenewal
from central.reports.texts import Translator, translator


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def charts_section(site_charts: list[SiteCharts], lang: str, label: dict[str, str]) -> Section:
    t = translator(lang)
    figures, rows = [], []
    for site in site_charts:
        name = label.get(site.site_id, site.site_id)
        figures.append([Figure(f"{name} · {t('chart.' + s.kind)}", s, site.site_id) for s in site.series])
        for s in site.series:
            shown = [DASH if v is None else (num(v, 1) if s.kind == "uplink" else pct(v, 2 if
                     s.kind == "availability" else 0)) for v in s.values]
            rows.append([name, t("chart." + s.kind), *shown])
    return Section(t("section.charts"), [t("col.site"), t("col.chart"), *[str(m) for m in range(1, 13)]],
                   rows, key="charts", figures=figures, notes=[t("def.charts")])


def annual_document(report: AnnualReport, lang: str, site_charts: list[SiteCharts] | None = None) -> Document:
    t = translator(lang)
    tz = report.policy.report_timezone
    tot = report.totals
    label = {s.site_id: site_label(s.name, s.name_zh, s.site_id, lang) for s in report.sites}
    doc = Document(title=t("annual.title", year=report.year), lang=lang, slug=f"annual-report-{report.year}")
    doc.meta = [
        (t("annual.period"), f"{when(report.period_start, tz)} – {when(report.period_end, tz)}"),
        (t("annual.sites"), "、".join(label.values()) if lang == "zh-CN" else ", ".join(label.values())),
        (t("annual.generated"), when(report.generated_at, tz)),
    ]
    met = report.satisfaction_met
    doc.sections.append(Section(t("section.summary"), [t("col.figure"), t("col.value")], key="summary", rows=[
        [t("col.meetings"), str(tot.meetings)],
        [t("col.hours"), num(tot.meeting_hours)],
        [t("col.sites_taking_part"), str(tot.sites_with_meetings)],
        [t("section.inspections"), f"{tot.inspections_done} / {tot.inspections_due}"],
        [t("col.faults"), str(tot.faults)],
        [t("col.mttr"), duration(tot.mean_repair_s)],
        [t("col.worst"), duration(tot.worst_repair_s)],
        [t("col.hd_share"), pct(tot.hd_share)],
        [t("col.sd_share"), pct(tot.sd_share)],
        [t("col.satisfaction"), pct(tot.satisfaction)],
        [t("col.target"), pct(report.policy.satisfaction_target, 0)],
        [t("col.met"), DASH if met is None else t("yes" if met else "no")],
    ]))
    rows = [[label[s.site_id], str(s.meetings), num(s.meeting_hours)] for s in report.sites]
    rows.append([t("total"), str(tot.meetings), num(tot.meeting_hours)])
    doc.sections.append(Section(t("section.meetings"), [t("col.site"), t("col.meetings"), t("col.hours")],
                                rows, key="meetings", total_row=True,
                                notes=[t("def.meetings")]))
    rows = [[label[s.site_id], str(s.inspections_due), str(s.inspections_done), str(s.inspections_late),
             pct(_ratio(s.inspections_done, s.inspections_due))] for s in report.sites]
    rows.append([t("total"), str(tot.inspections_due), str(tot.inspections_done), str(tot.inspections_late),
                 pct(_ratio(tot.inspections_done, tot.inspections_due))])
    policy = report.policy
    doc.sections.append(Section(
        t("section.inspections"), [t("col.site"), t("col.due"), t("col.done"), t("col.late"), t("col.rate")],
        rows, key="inspections", total_row=True,
        notes=[t("def.inspections", day=policy.inspection_day, grace=policy.inspection_grace_days)]))
    doc.sections.append(Section(
        t("section.availability"),
        [t("col.site"), t("col.availability"), t("col.availability_meetings"), t("col.downtime")],
        [[label[s.site_id], avail(s.availability), avail(s.availability_meetings), num(s.downtime_hours, 2)]
         for s in report.sites], key="availability", notes=[t("def.availability")]))
    rows = [[label[s.site_id], str(s.faults), str(s.faults_open), duration(s.mean_repair_s),
             duration(s.worst_repair_s)] for s in report.sites]
    rows.append([t("total"), str(tot.faults), str(tot.faults_open), duration(tot.mean_repair_s),
                 duration(tot.worst_repair_s)])
    doc.sections.append(Section(
        t("section.faults"), [t("col.site"), t("col.faults"), t("col.open"), t("col.mttr"), t("col.worst")],
        rows, key="faults", total_row=True))
    doc.sections.append(_maintenance_section(report, lang, label))
    rows = [[label[s.site_id], str(s.calls), str(s.calls_hd), str(s.calls_sd),
             pct(s.calls_hd / s.calls if s.calls else None), pct(s.calls_sd / s.calls if s.calls else None)]
            for s in report.sites]
    rows.append([t("total"), str(tot.calls), str(tot.calls_hd), str(tot.calls_sd), pct(tot.hd_share),
                 pct(tot.sd_share)])
    doc.sections.append(Section(
        t("section.calls"),
        [t("col.site"), t("col.calls"), t("col.hd"), t("col.sd"), t("col.hd_share"), t("col.sd_share")],
        rows, key="calls", total_row=True))
    doc.sections.append(Section(
        t("section.uplink"),
        [t("col.site"), t("col.measurements"), t("col.up_mean"), t("col.up_min"), t("col.down_mean"),
         t("col.rtt"), t("col.loss"), t("col.below_hd")],
        [[label[s.site_id], str(s.uplink.measurements), num(s.uplink.up_mean, 2), num(s.uplink.up_min, 2),
          num(s.uplink.down_mean, 2), num(s.uplink.rtt_mean, 1), pct(s.uplink.loss_mean, 2),
          str(s.uplink.below_hd)] for s in report.sites],
        key="uplink", notes=[t("uplink.need", mbps=num(report.policy.hd_uplink_mbps, 1))]))
    target = report.policy.satisfaction_target
    rows = [[label[s.site_id], str(s.ratings), str(s.ratings_good), pct(s.satisfaction), pct(target, 0),
             DASH if s.satisfaction is None else t("yes" if s.satisfaction >= target else "no")]
            for s in report.sites]
    rows.append([t("total"), str(tot.ratings), str(tot.ratings_good), pct(tot.satisfaction), pct(target, 0),
                 DASH if met is None else t("yes" if met else "no")])
    doc.sections.append(Section(
        t("section.satisfaction"),
        [t("col.site"), t("col.ratings"), t("col.good"), t("col.satisfaction"), t("col.target"),
         t("col.met")],
        rows, key="satisfaction", total_row=True, notes=[t("def.satisfaction", target=pct(target, 0))]))
    if site_charts:
        doc.sections.append(charts_section(site_charts, lang, label))
    doc.sections.append(renewal_section(report, lang, label))
    return doc


def _advice(item: SiteRenewal, year: int, t: Translator, lang: str) -> str:
    said = []
    for finding in item.findings or ["none"]:
        values: dict[str, object] = {}
        if finding == "uplink":
            values = {"min": num(item.uplink_min, 1), "need": num(item.hd_need_mbps, 1)}
        elif finding == "codec_old":
            values = {"year": item.codec_introduced, "age": year - (item.codec_introduced or year)}
        elif finding == "address":
            values = {"n": item.address_changes}
        elif finding == "below_hd":
            values = {"res": item.typical_resolution or DASH,
                      "share": pct(_ratio(item.calls_hd, item.calls), 0)}
        said.append(t(f"finding.{finding}", **values))
    return ("；" if lang == "zh-CN" else "; ").join(said)


def renewal_section(report: AnnualReport, lang: str, label: dict[str, str]) -> Section:
    t = translator(lang)
    rows = []
    for item in report.renewal:
        uplink = (f"{num(item.uplink_mean, 1)} / {num(item.uplink_min, 1)} Mbps "
                  f"({num(item.hd_need_mbps, 1)})" if item.uplink_measurements else DASH)
        if item.codec_introduced is not None:
            codec = f"{item.codec_name} ({item.codec_introduced}, {item.codec_best_video})"
        else:
            codec = f"{item.codec_model or DASH} ({t('renew.unknown_codec')})"
        calls = (t("renew.calls_at", res=item.typical_resolution or DASH,
                   share=pct(_ratio(item.calls_hd, item.calls), 0), calls=item.calls)
                 if item.calls else t("renew.no_calls"))
        if not item.address_seen:
            address = t("renew.unseen")
        else:
            address = t("renew.changes", n=item.address_changes) if item.address_changes else t("no")
        rows.append([label.get(item.site_id, item.site_id), uplink, codec, calls, address,
                     t("renew.renew" if item.renew else "renew.keep"), _advice(item, report.year, t, lang)])
    return Section(
        t("section.renewal"),
        [t("col.site"), t("renew.uplink"), t("renew.codec"), t("renew.calls"), t("renew.address"),
         t("renew.verdict"), t("renew.advice")],
        rows, key="renewal", notes=[t("def.renewal", age=CODEC_AGE_LIMIT)])


def inspections_document(view: InspectionYear, policy: ReportPolicy, lang: str) -> Document:
    t = translator(lang)
    doc = Document(title=t("insp.title", year=view.year), lang=lang, slug=f"inspections-{view.year}")
    doc.meta = [(t("annual.generated"), when(view.generated_at, policy.report_timezone))]
    headers = [t("col.site")] + [str(m) for m in range(1, 13)] + [t("col.due"), t("col.done"), t("col.late"),
                                                                  t("insp.signed_count")]
    rows = []
    for site in view.sites:
        cells = [t(f"status.{m.status}") + (" ✓" if m.signed else "") for m in site.months]
        rows.append([site_label(site.name, site.name_zh, site.site_id, lang), *cells, str(site.due),
                     str(site.done), str(site.count("late")), str(site.signed)])
    doc.sections.append(Section(t("insp.title", year=view.year), headers, rows, key="inspections", notes=[
        t("def.inspections", day=policy.inspection_day, grace=policy.inspection_grace_days),
        " · ".join(f"{t('status.' + s)}" for s in ("done", "late", "missing", "pending", "upcoming")),
    ]))
    return doc


def _identity(item: dict[str, Any], key: str) -> str:
    identity = item.get("identity") or {}
    return str(identity.get(key) or DASH)


def inspection_record_document(rec: dict[str, Any], policy: ReportPolicy, lang: str) -> Document:
    t = translator(lang)
    tz = policy.report_timezone
    site = site_label(rec["site_name"], rec["site_name_zh"], rec["site_id"], lang)
    doc = Document(title=f"{t('insp.record')} · {site} · {rec['year']}-{rec['month']:02d}", lang=lang,
                   slug=f"inspection-{rec['site_id']}-{rec['year']}-{rec['month']:02d}")
    doc.meta = [
        (t("rec.site"), site), (t("rec.started"), when(rec["started_at"], tz)),
        (t("rec.finished"), when(rec["finished_at"], tz)),
        (t("rec.verdict"), t(f"verdict.{rec['verdict']}") if rec["verdict"] else DASH),
        (t("rec.late"), t("yes" if rec["late"] else "no")),
    ]
    doc.sections.append(Section(
        t("rec.checks"), [t("rec.device"), t("rec.check"), t("rec.status"), t("rec.reason")],
        [[_check_device(c, rec, lang), catalogue.check_label(str(c.get("name", "")), lang),
          c.get("status", ""),
          catalogue.summary(str(c["code"]), lang) if c.get("code") else c.get("reason", "")]
         for c in rec["checks"]], key="checks"))
    doc.sections.append(Section(
        t("rec.inventory"), [t("rec.device"), t("rec.model"), t("rec.serial"), t("rec.firmware")],
        [[d.get("id", ""), str(d.get("model") or _identity(d, "model")), _identity(d, "serial"),
          _identity(d, "firmware")] for d in rec["inventory"]], key="inventory"))
    drift_rows = [[str(d.get("device", DASH)), str(d.get("path") or d.get("setting") or d.get("key") or DASH),
                   str(d.get("expected", DASH)), str(d.get("actual", DASH))] for d in rec["drift"]]
    doc.sections.append(Section(
        t("rec.drift"), [t("rec.device"), t("rec.setting"), t("rec.expected"), t("rec.actual")], drift_rows,
        key="drift", notes=[] if drift_rows else [t("rec.no_drift")]))
    up = rec["uplink"]
    doc.sections.append(Section(
        t("rec.uplink"), [t("col.up_mean"), t("col.down_mean"), t("col.rtt"), t("col.loss")],
        [[num(up.get("up_mbps"), 2), num(up.get("down_mbps"), 2), num(up.get("rtt_ms"), 1),
          pct(up.get("loss"), 2)]] if up else [], key="uplink"))
    signed = rec["signed_at"] is not None
    doc.sections.append(Section(
        t("rec.signoff"), [t("rec.remarks"), t("rec.signed_by"), t("rec.signed_at")],
        [[rec["remarks"] or DASH, rec["signed_by"] or DASH, when(rec["signed_at"], tz)]], key="signoff",
        notes=[] if signed else [t("rec.unsigned")]))
    return doc


def _check_device(check: dict[str, Any], rec: dict[str, Any], lang: str) -> str:
    """A check's device for people: "摄像机 1", or the room for a site check."""
    device = str(check.get("device", ""))
    if device == rec.get("site_id") or "." not in device:
        return catalogue.text(lang, "role.site")
    return catalogue.device_label(device, None, lang)


def fault_document(rec: dict[str, Any], policy: ReportPolicy, lang: str,
                   sites: dict[str, str] | None = None) -> Document:
    """One fault; site and device names come translated with the record (``sites`` is kept for
    callers that pass them)."""
    t = translator(lang)
    tz = policy.report_timezone
    doc = Document(title=f"{t('fault.title')} #{rec['id']}", lang=lang, slug=f"fault-{rec['id']}")
    doc.meta = [
        (t("rec.site"), rec["plain"][lang]["site"]), (t("fault.device"), rec["plain"][lang]["device"]),
        (t("fault.kind"), rec["plain"][lang]["check"]), (t("fault.cause"), rec["plain"][lang]["summary"]),
        (t("fault.evidence"), rec["cause"] or DASH), (t("fault.opened"), when(rec["opened_at"], tz)),
        (t("fault.closed"), when(rec["closed_at"], tz)), (t("fault.closed_by"), rec["closed_by"] or DASH),
        (t("fault.reason"), rec["reason"] or DASH), (t("fault.repair"), duration(rec["repair_seconds"])),
    ]
    doc.sections.append(Section(
        t("fault.commands"), [t("fault.at"), t("fault.command"), t("fault.by"), t("fault.state")],
        [[when(c["created_at"], tz), c["kind"], c["requested_by"],
          c["state"] + (f": {c['error']}" if c["error"] else "")] for c in rec["commands"]], key="commands"))
    doc.sections.append(Section(
        t("fault.notes"), [t("fault.at"), t("fault.by"), t("fault.notes")],
        [[when(n["at"], tz), n["author"], n["text"]] for n in rec["notes"]], key="notes"))
    return doc


def _maintenance_section(report: AnnualReport, lang: str, label: dict[str, str]) -> Section:
    """Planned work listed on its own: it is neither a fault nor downtime."""
    t = translator(lang)
    tz = report.policy.report_timezone
    rows = [[label.get(w.site_id, w.site_id),
             catalogue.device_label(w.device_id, None, lang) if w.device_id else t("maint.whole_site"),
             catalogue.text(lang, f"maintenance.{w.kind}"), w.actor, w.why, when(w.started_at, tz),
             when(w.ended_at, tz)] for w in report.maintenance]
    return Section(t("section.maintenance"),
                   [t("col.site"), t("fault.device"), t("fault.kind"), t("maint.actor"), t("maint.why"),
                    t("maint.start"), t("maint.end")], rows, key="maintenance", notes=[t("def.maintenance")])


def faults_document(records: list[dict[str, Any]], year: int, policy: ReportPolicy, lang: str,
                    sites: dict[str, str] | None = None) -> Document:
    t = translator(lang)
    tz = policy.report_timezone
    doc = Document(title=t("fault.list_title", year=year), lang=lang, slug=f"faults-{year}")
    doc.sections.append(Section(
        t("fault.list_title", year=year),
        ["#", t("rec.site"), t("fault.device"), t("fault.kind"), t("fault.cause"), t("fault.opened"),
         t("fault.closed"), t("fault.repair"), t("fault.reason")],
        [[str(r["id"]), r["plain"][lang]["site"], r["plain"][lang]["device"], r["plain"][lang]["check"],
          r["plain"][lang]["summary"],
          when(r["opened_at"], tz), when(r["closed_at"], tz), duration(r["repair_seconds"]),
          r["reason"] or DASH]
         for r in records], key="faults"))
    return doc


def recordings_document(items: list[dict[str, Any]], policy: ReportPolicy, lang: str,
                        sites: dict[str, str] | None = None) -> Document:
    t = translator(lang)
    tz = policy.report_timezone
    doc = Document(title=t("rec_archive.title"), lang=lang, slug="recordings")
    doc.meta = [(t("rec_archive.retention"), t("rec_archive.days", days=policy.retention_days))]
    doc.sections.append(Section(
        t("rec_archive.title"),
        [t("rec_archive.meeting"), t("rec.site"), t("rec_archive.file"), t("rec_archive.size"),
         t("rec_archive.duration"), t("rec_archive.sha256"), t("rec_archive.expires"),
         t("rec_archive.verified")],
        [[r["meeting_title"], (sites or {}).get(r["site_id"], r["site_id"]), r["file"], str(r["size"]),
          num(r["duration_s"], 1), r["sha256"],
          when(r["expires_at"], tz),
          DASH if r["verified_ok"] is None else t("yes" if r["verified_ok"] else "no")]
         for r in items], key="recordings"))
    return doc
