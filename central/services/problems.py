"""Why a site is not simply "ok": its open faults, failing checks of its latest self-test that no
fault covers, devices in maintenance, an off-line agent. Each entry names a reason code, so every
"degraded" on the dashboard and in the API comes with a plain-language explanation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from central.messages import catalogue, codes
from central.models import Device, Fault, MaintenanceWindow, SelftestRow, Site, utcnow
from central.services import maintenance


@dataclass(frozen=True)
class SiteProblem:
    kind: str  # fault, check, maintenance, device, agent
    code: str
    device: str | None = None
    check: str | None = None
    fault_id: int | None = None
    window_id: int | None = None
    since: datetime | None = None
    evidence: str = ""

    def render(self, lang: str, roles: dict[str, list[str]]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": self.kind,
            "fault_id": self.fault_id,
            "window_id": self.window_id,
            "device": self.device,
            "device_name": catalogue.device_label(self.device, roles.get(self.device), lang)
            if self.device
            else None,
            "check": self.check,
            "check_name": catalogue.check_label(self.check, lang) if self.check else None,
            "since": self.since,
            "evidence": self.evidence,
            **catalogue.explain(self.code, lang),
        }
        return out


def site_problems(session: Session, site: Site, agent_connected: bool) -> list[SiteProblem]:
    out: list[SiteProblem] = []
    if not agent_connected and site.last_seen is not None:
        out.append(SiteProblem("agent", "site.agent_offline", since=site.last_seen))
    open_faults = list(
        session.scalars(
            select(Fault).where(Fault.site_id == site.id, Fault.closed_at.is_(None)).order_by(Fault.opened_at)
        )
    )
    covered: set[tuple[str, str]] = set()
    for fault in open_faults:
        out.append(
            SiteProblem(
                "fault",
                fault.code or codes.FALLBACK_CHECK,
                fault.device_id,
                fault.check_name,
                fault_id=fault.id,
                since=fault.opened_at,
                evidence=fault.cause,
            )
        )
        covered.add((fault.device_id, fault.code))
        covered.update((fault.device_id, str(s.get("code"))) for s in fault.symptoms or [])
    now = utcnow()
    devices = list(session.scalars(select(Device).where(Device.site_id == site.id).order_by(Device.id)))
    faulty = {f.device_id for f in open_faults}
    for device in devices:
        window = maintenance.covering(session, device.id, now)
        if window is not None and device.verdict in ("down", "degraded"):
            out.append(
                SiteProblem(
                    "maintenance",
                    f"maintenance.{window.kind}",
                    device.id,
                    window_id=window.id,
                    since=window.started_at,
                )
            )
            faulty.add(device.id)
        elif device.id not in faulty and device.up is not None and device.verdict in ("down", "degraded"):
            # a state no fault explains yet (e.g. the poll that opens it is still on its way)
            for problem in codes.health_problems(
                device.roles or [], device.up, device.verdict, device.reasons or [], device.details
            ):
                out.append(
                    SiteProblem(
                        "device", problem.code, device.id, since=device.since, evidence=problem.reason
                    )
                )
    out += _failing_checks(session, site.id, covered)
    return out


def _failing_checks(session: Session, site_id: str, covered: set[tuple[str, str]]) -> list[SiteProblem]:
    latest = session.scalars(
        select(SelftestRow)
        .where(SelftestRow.site_id == site_id, SelftestRow.state == "done")
        .order_by(SelftestRow.finished_at.desc())
        .limit(1)
    ).first()
    if latest is None:
        return []
    out = []
    for check in latest.checks or []:
        if check.get("status") != "fail":
            continue
        code = str(
            check.get("code") or codes.check_code(str(check.get("name")), str(check.get("reason", "")))
        )
        device = str(check.get("device"))
        if (device, code) in covered:
            continue
        out.append(
            SiteProblem(
                "check",
                code,
                device,
                str(check.get("name")),
                since=latest.finished_at,
                evidence=str(check.get("reason") or ""),
            )
        )
    return out


def open_windows(session: Session, site_id: str) -> list[MaintenanceWindow]:
    return list(
        session.scalars(
            select(MaintenanceWindow).where(
                MaintenanceWindow.site_id == site_id, MaintenanceWindow.ended_at.is_(None)
            )
        )
    )
