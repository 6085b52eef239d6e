"""Faults: one open fault per device and root cause, whoever finds it first.

The health poll and self-test checks report *problems* (a reason code, who saw it, the raw text).
A problem explained by an open fault of its device (the same cause seen again, or a symptom of it:
``central.messages.codes.explained_by``) is added to that fault's symptoms; otherwise it opens a
fault, unless the device is in a maintenance window (planned work is not a fault). A fault closes
when a detector that can see its cause reports it gone: a healthy poll, or a passing check.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from central.messages import codes
from central.messages.codes import Problem
from central.models import Device, Fault
from central.services import maintenance

#: the most symptoms kept on one fault (each distinct sighting once, refreshed in place)
MAX_SYMPTOMS = 50


def open_faults(session: Session, device_id: str) -> list[Fault]:
    return list(session.scalars(
        select(Fault).where(Fault.device_id == device_id, Fault.closed_at.is_(None)).order_by(Fault.id)))


def roles_of(session: Session, device_id: str) -> list[str]:
    """The device's roles from its hello; else guessed from its local id ("lhasa.camera1")."""
    device = session.get(Device, device_id)
    if device is not None and device.roles:
        return list(device.roles)
    local = device_id.split(".", 1)[-1]
    return [r for r in ("codec", "camera", "display", "switcher", "recorder", "router", "pdu")
            if local.startswith(r)][:1]


def _symptom(problem: Problem, source: str, at: datetime) -> dict[str, Any]:
    return {"source": source, "check": problem.check, "code": problem.code, "reason": problem.reason,
            "at": at.isoformat()}


def _add_symptom(fault: Fault, entry: dict[str, Any]) -> None:
    """Keep one entry per (source, check, code): a sighting seen again only refreshes it."""
    key = (entry["source"], entry["check"], entry["code"])
    kept = [s for s in (fault.symptoms or []) if (s.get("source"), s.get("check"), s.get("code")) != key]
    fault.symptoms = [*kept, entry][-MAX_SYMPTOMS:]     # a new list: JSON columns track assignment only


def _is_first_sighting(fault: Fault, problem: Problem, source: str) -> bool:
    return fault.code == problem.code and fault.check_name == problem.check and source == (
        "health" if problem.check is None else "selftest")


def report(session: Session, *, site_id: str, device_id: str, problems: Iterable[Problem], source: str,
           at: datetime, may_open: bool = True) -> list[Fault]:
    """Apply problems of one device: link each to the open fault that explains it, or open one.

    ``may_open`` False only links (a self-test type that does not open faults still adds its
    evidence to faults already open). Returns the faults touched.
    """
    touched: list[Fault] = []
    ordered = sorted(problems, key=lambda p: not codes.is_root_capable(p.code))
    current = open_faults(session, device_id)
    for problem in ordered:
        root = next((f for f in current if f.code and codes.explained_by(problem.code, f.code)), None)
        if root is not None:
            if not _is_first_sighting(root, problem, source):
                _add_symptom(root, _symptom(problem, source, at))
            touched.append(root)
            continue
        if not may_open or maintenance.covering(session, device_id, at) is not None:
            continue
        fault = Fault(site_id=site_id, device_id=device_id, check_name=problem.check, code=problem.code,
                      cause=problem.reason or problem.code, opened_at=at, symptoms=[])
        session.add(fault)
        session.flush()
        _absorb(fault, current, at)
        current = [f for f in current if f.closed_at is None] + [fault]
        touched.append(fault)
    return touched


def _absorb(root: Fault, others: list[Fault], at: datetime) -> None:
    """Faults opened earlier for what turns out to be a symptom of ``root`` become part of it."""
    for other in others:
        if other.closed_at is not None or other is root or not other.code:
            continue
        # a device gone silent does not make an older, different fault its symptom
        if codes.explained_by(other.code, root.code) and (
                not codes.explains_everything(root.code) or other.opened_at >= at):
            for entry in [{"source": "health" if other.check_name is None else "selftest",
                           "check": other.check_name, "code": other.code, "reason": other.cause,
                           "at": other.opened_at.isoformat()}, *(other.symptoms or [])]:
                _add_symptom(root, entry)
            other.root_id = root.id
            _close(other, at, f"a symptom of fault {root.id} ({root.code})", "system")


def _close(fault: Fault, at: datetime, reason: str, closed_by: str) -> None:
    fault.closed_at = max(at, fault.opened_at)
    fault.closed_by = closed_by
    fault.reason = reason


def clear(session: Session, *, device_id: str, cleared: set[str], at: datetime, reason: str,
          check: str | None = None) -> list[Fault]:
    """Close the device's open faults whose cause ``cleared`` says is gone (and a fault without a
    code that the same check opened: rows from before reason codes)."""
    closed = []
    for fault in open_faults(session, device_id):
        legacy = not fault.code and fault.check_name == check
        if fault.code in cleared or legacy:
            _close(fault, at, reason, "system")
            closed.append(fault)
    return closed


# -- named faults (one per device and check name) ---------------------------------------------------------
def open_fault(session: Session, *, site_id: str, device_id: str, check_name: str | None, cause: str,
               at: datetime) -> Fault:
    """A fault named by its check (e.g. ``agent.schema_version`` on the site): the check name is
    also its reason code. One stays open per device and name."""
    code = check_name or "device.down"
    for fault in open_faults(session, device_id):
        if fault.check_name == check_name and fault.code in ("", code):
            return fault
    fault = Fault(site_id=site_id, device_id=device_id, check_name=check_name, code=code, cause=cause,
                  opened_at=at, symptoms=[])
    session.add(fault)
    session.flush()
    return fault


def close_fault(session: Session, *, device_id: str, check_name: str | None, at: datetime, reason: str,
                closed_by: str = "system") -> Fault | None:
    """Close the device's open fault of this check name (see ``open_fault``)."""
    for fault in open_faults(session, device_id):
        if fault.check_name == check_name and fault.code in ("", check_name or "device.down"):
            _close(fault, at, reason, closed_by)
            return fault
    return None


# -- the detectors -------------------------------------------------------------------------------------
def observe_health(session: Session, *, site_id: str, device_id: str, up: bool | None, verdict: str,
                   reasons: Iterable[str], details: dict[str, Any] | None, at: datetime) -> None:
    """A health poll whose outcome changed: open or link what it sees, close what it no longer sees."""
    if up is None or verdict == "unknown":
        return            # not observed yet: neither a fault nor a recovery
    roles = roles_of(session, device_id)
    problems = codes.health_problems(roles, up, verdict, list(reasons), details)
    seen = {p.code for p in problems}
    if not any(codes.explains_everything(code) for code in seen):     # a silent device shows nothing else
        clear(session, device_id=device_id, cleared=set(codes.HEALTH_CODES) - seen, at=at,
              reason="the health poll no longer sees it")
    if problems:
        report(session, site_id=site_id, device_id=device_id, problems=problems, source="health", at=at)


def device_down(session: Session, *, site_id: str, device_id: str, reason: str, at: datetime) -> None:
    """The agent says the device stopped answering (a ``device_down`` event)."""
    observe_health(session, site_id=site_id, device_id=device_id, up=False, verdict="down",
                   reasons=[reason] if reason else [], details=None, at=at)


def device_up(session: Session, *, device_id: str, at: datetime) -> None:
    """The device answers again: unreachability is over (its health poll judges the rest)."""
    gone = {codes.UNREACHABLE, codes.SILENT_CAMERA, codes.AUTH_FAILED, "device.down"}
    clear(session, device_id=device_id, cleared=gone, at=at, reason="device back up")


def observe_checks(session: Session, *, site_id: str, checks: Iterable[dict[str, Any]], at: datetime,
                   may_open: bool, run: str) -> None:
    """A self-test's results: failures open or link faults, passes close what they prove gone.
    ``checks`` are the stored check dicts with their ``code`` filled in."""
    by_device: dict[str, list[Problem]] = {}
    for check in checks:
        device = str(check["device"])
        if check["status"] == "fail":
            by_device.setdefault(device, []).append(
                Problem(str(check["code"]), str(check["name"]), str(check.get("reason") or "")))
        elif check["status"] == "pass":
            clear(session, device_id=device, check=str(check["name"]), at=at,
                  cleared=codes.codes_cleared_by_check(str(check["name"]), roles_of(session, device)),
                  reason=f"check {check['name']} passed ({run})")
    for device, problems in by_device.items():
        report(session, site_id=site_id, device_id=device, problems=problems, source="selftest", at=at,
               may_open=may_open)


def after_maintenance(session: Session, *, site_id: str, device_ids: Iterable[str], at: datetime) -> None:
    """A window ended: a device still down (or degraded) now has a fault, from this moment."""
    for device_id in device_ids:
        device = session.get(Device, device_id)
        if device is None or device.up is None:
            continue
        observe_health(session, site_id=site_id, device_id=device_id, up=device.up, verdict=device.verdict,
                       reasons=device.reasons or [], details=device.details, at=at)
