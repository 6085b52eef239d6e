"""Inspection records: the monthly inspection runs, engineers' remarks and sign-off, the year view."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from central.models import SelftestRow, Site, utcnow
from central.reports.models import InspectionSignoff
from central.reports.periods import local_month, month_bounds, year_bounds
from central.reports.policy import ReportPolicy

TRIGGER = "inspection"
MonthStatus = Literal["done", "late", "missing", "pending", "upcoming", "not_applicable"]
#: Statuses of months that were due (their deadline passed or a run exists).
DUE_STATUSES = frozenset({"done", "late", "missing"})


class InspectionError(ValueError):
    """A request that does not fit the record's state (reported as 409)."""


@dataclass
class MonthCell:
    month: int
    status: MonthStatus
    due_at: datetime
    deadline: datetime
    record_id: str | None = None
    verdict: str | None = None
    signed: bool = False


@dataclass
class SiteYear:
    site_id: str
    name: str
    name_zh: str
    months: list[MonthCell] = field(default_factory=list)

    def count(self, *statuses: str) -> int:
        return sum(1 for m in self.months if m.status in statuses)

    @property
    def due(self) -> int:
        return self.count(*DUE_STATUSES)

    @property
    def done(self) -> int:
        """Inspections carried out (on time or late)."""
        return self.count("done", "late")

    @property
    def signed(self) -> int:
        return sum(1 for m in self.months if m.signed)


@dataclass
class InspectionYear:
    year: int
    generated_at: datetime
    sites: list[SiteYear]


def due_window(year: int, month: int, tz: str, policy: ReportPolicy) -> tuple[datetime, datetime]:
    """When the month's inspection falls due, and the end of its grace period."""
    start, _ = month_bounds(year, month, tz)
    due = start + timedelta(days=policy.inspection_day - 1)
    return due, due + timedelta(days=policy.inspection_grace_days)


def is_late(run: SelftestRow, deadline: datetime) -> bool:
    """Late: the agent ran it after its scheduled time, or it finished after the grace period."""
    finished = run.finished_at or run.started_at
    return bool(run.late) or (finished is not None and finished > deadline)


def runs(session: Session, site_ids: list[str], lo: datetime, hi: datetime) -> list[SelftestRow]:
    """Completed inspection runs of the sites started in [lo, hi)."""
    return list(session.scalars(
        select(SelftestRow).where(
            SelftestRow.site_id.in_(site_ids), SelftestRow.trigger == TRIGGER, SelftestRow.state == "done",
            SelftestRow.started_at >= lo, SelftestRow.started_at < hi,
        ).order_by(SelftestRow.started_at)
    ))


def signoffs(session: Session, ids: list[str]) -> dict[str, InspectionSignoff]:
    if not ids:
        return {}
    rows = session.scalars(select(InspectionSignoff).where(InspectionSignoff.selftest_id.in_(ids)))
    return {row.selftest_id: row for row in rows}


def pick_record(candidates: list[SelftestRow], signed: dict[str, InspectionSignoff],
                deadline: datetime) -> SelftestRow:
    """The run that stands for the month: a signed one, else an on-time one, else the latest."""
    for run in candidates:
        sign = signed.get(run.id)
        if sign is not None and sign.signed_at is not None:
            return run
    on_time = [r for r in candidates if not is_late(r, deadline)]
    return on_time[0] if on_time else candidates[-1]


def year_view(session: Session, year: int, sites: list[Site], policy: ReportPolicy,
              now: datetime | None = None) -> InspectionYear:
    now = now or utcnow()
    out = InspectionYear(year=year, generated_at=now, sites=[])
    for site in sites:
        lo, hi = year_bounds(year, site.timezone)
        site_runs = runs(session, [site.id], lo, hi)
        signed = signoffs(session, [r.id for r in site_runs])
        by_month: dict[int, list[SelftestRow]] = {}
        for run in site_runs:
            assert run.started_at is not None
            by_month.setdefault(local_month(run.started_at, site.timezone)[1], []).append(run)
        row = SiteYear(site.id, site.name, site.name_zh)
        for month in range(1, 13):
            due, deadline = due_window(year, month, site.timezone, policy)
            cell = MonthCell(month=month, status="upcoming", due_at=due, deadline=deadline)
            candidates = by_month.get(month, [])
            if candidates:
                record = pick_record(candidates, signed, deadline)
                sign = signed.get(record.id)
                cell.status = "late" if all(is_late(r, deadline) for r in candidates) else "done"
                cell.record_id, cell.verdict = record.id, record.verdict
                cell.signed = sign is not None and sign.signed_at is not None
            elif deadline <= site.created_at:
                cell.status = "not_applicable"        # the site did not exist while it was due
            elif now >= deadline:
                cell.status = "missing"
            elif now >= due:
                cell.status = "pending"
            row.months.append(cell)
        out.sites.append(row)
    return out


# -- one record -------------------------------------------------------------------------------------
def get_run(session: Session, selftest_id: str) -> SelftestRow | None:
    row = session.get(SelftestRow, selftest_id)
    return row if row is not None and row.trigger == TRIGGER else None


def record(session: Session, run: SelftestRow, policy: ReportPolicy) -> dict[str, Any]:
    """Everything an inspection record shows, as plain data (for HTML, PDF, CSV and JSON)."""
    site = session.get(Site, run.site_id)
    tz = site.timezone if site is not None else policy.report_timezone
    started = run.started_at or run.created_at
    year, month = local_month(started, tz)
    _, deadline = due_window(year, month, tz, policy)
    sign = session.get(InspectionSignoff, run.id)
    return {
        "id": run.id, "site_id": run.site_id,
        "site_name": site.name if site else run.site_id, "site_name_zh": site.name_zh if site else "",
        "year": year, "month": month, "started_at": run.started_at, "finished_at": run.finished_at,
        "verdict": run.verdict, "late": is_late(run, deadline), "agent_late": bool(run.late),
        "checks": list(run.checks or []), "inventory": list(run.inventory or []),
        "drift": list(run.drift or []), "uplink": dict(run.uplink or {}),
        "remarks": sign.remarks if sign else "", "remarks_by": sign.remarks_by if sign else None,
        "signed_by": sign.signed_by if sign else None, "signed_at": sign.signed_at if sign else None,
    }


def _signoff_row(session: Session, run: SelftestRow) -> InspectionSignoff:
    row = session.get(InspectionSignoff, run.id)
    if row is None:
        row = InspectionSignoff(selftest_id=run.id, remarks="")
        session.add(row)
    if row.signed_at is not None:
        raise InspectionError(f"inspection {run.id} was signed off by {row.signed_by}; it cannot change")
    return row


def set_remarks(session: Session, run: SelftestRow, remarks: str, actor: str) -> InspectionSignoff:
    row = _signoff_row(session, run)
    row.remarks, row.remarks_by, row.remarks_at = remarks, actor, utcnow()
    session.flush()
    return row


def sign_off(session: Session, run: SelftestRow, actor: str, remarks: str | None = None) -> InspectionSignoff:
    row = _signoff_row(session, run)
    if remarks is not None:
        row.remarks, row.remarks_by, row.remarks_at = remarks, actor, utcnow()
    row.signed_by, row.signed_at = actor, utcnow()
    session.flush()
    return row
