"""Reason codes: one name per root cause, derived from what agents report.

A code names a cause, not a detector: the health poll and a self-test check that see the same
silent camera both give ``camera.silent``. Some codes are symptoms of others on the same device
(a failing test call of a codec that is not registered): ``explained_by`` says which, so the fault
service links a symptom to its root instead of opening a fault beside it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

#: a device that does not answer at all, by role (a silent camera is the common case)
UNREACHABLE = "device.unreachable"
SILENT_CAMERA = "camera.silent"
AUTH_FAILED = "device.auth_failed"
WRONG_DEVICE = "device.wrong_identity"
UNREGISTERED = "codec.unregistered"
FALLBACK_CHECK = "check.failed"

#: the part of the agent's text before ": " says how the operation failed (drivers/errors.py)
_TRANSPORT = {"connect_failed", "timeout", "disconnected"}
_AUTH = {"auth_failed", "host_key_refused"}
_PREFIX = re.compile(r"^(?P<kind>[a-z_]+): ")

#: a check's failure, when the device answered, by check name
_CHECK_CODES: dict[str, str] = {
    "reachable": UNREACHABLE,
    "codec.reachable": UNREACHABLE,
    "switcher.alive": UNREACHABLE,
    "pdu.reachable": UNREACHABLE,
    "codec.identity": WRONG_DEVICE,
    "camera.identity": WRONG_DEVICE,
    "router.identity": WRONG_DEVICE,
    "pdu.identity": WRONG_DEVICE,
    "identity": WRONG_DEVICE,
    "codec.registered": UNREGISTERED,
    "codec.idle": "codec.in_call",
    "codec.diagnostics": "codec.diagnostics",
    "codec.preset": "codec.preset_failed",
    "codec.test_call": "codec.test_call_failed",
    "codec.call_rate": "codec.rate_low",
    "camera.power": "camera.power_error",
    "camera.position": "camera.position_unreadable",
    "camera.preset_recall": "camera.preset_failed",
    "display.power": "display.power_failed",
    "display.input": "display.input_wrong",
    "display.lamp": "display.lamp_hours",
    "switcher.routes": "switcher.routes_wrong",
    "recorder.ready": "recorder.not_ready",
    "recording.space": "recorder.space_low",
    "router.uplink": "network.uplink_down",
    "router.ping": "network.unreachable_target",
    "pdu.outlets_on": "pdu.outlet_off",
    "site.uplink": "site.uplink_low",
    "site.time": "site.clock_off",
}

#: display error words (PJLink ERST and driver texts) -> code
_DISPLAY_ERRORS = (("lamp", "display.lamp_error"), ("fan", "display.fan_error"),
                   ("temp", "display.temperature_error"), ("cover", "display.cover_open"),
                   ("filter", "display.filter_error"))

#: symptom -> the root causes that explain it on the same device
_EXPLAINED_BY: dict[str, frozenset[str]] = {
    "codec.diagnostics": frozenset({UNREGISTERED}),
    "codec.test_call_failed": frozenset({UNREGISTERED}),
}
#: a device that does not answer (or refuses the login) explains every other problem of its own
_EXPLAINS_ALL = frozenset({UNREACHABLE, SILENT_CAMERA, AUTH_FAILED})


#: causes that keep a device from serving a meeting although it answers (availability counts
#: it down): an unregistered codec cannot be called, a router without uplink carries no call
BLOCKS_MEETINGS = frozenset({UNREGISTERED, "network.uplink_down"})


@dataclass(frozen=True)
class Problem:
    """One sighting of a cause: its code, who saw it (a check name, or None for the health poll)
    and the raw text (evidence)."""

    code: str
    check: str | None
    reason: str


def explained_by(symptom: str, root: str) -> bool:
    """True when ``root`` on a device explains ``symptom`` on the same device."""
    if symptom == root:
        return True
    if root in _EXPLAINS_ALL and symptom not in _EXPLAINS_ALL:
        return True
    return root in _EXPLAINED_BY.get(symptom, frozenset())


def explains_everything(code: str) -> bool:
    """A device that does not answer: every other problem of it is then a symptom."""
    return code in _EXPLAINS_ALL


def is_root_capable(code: str) -> bool:
    """Codes that explain others come first when several are reported at once."""
    return code in _EXPLAINS_ALL or any(code in roots for roots in _EXPLAINED_BY.values())


def _unreachable(roles: Iterable[str]) -> str:
    return SILENT_CAMERA if "camera" in set(roles) else UNREACHABLE


def _failure_kind(reason: str) -> str:
    match = _PREFIX.match(reason or "")
    return match.group("kind") if match else ""


def _display_code(text: str) -> str | None:
    lowered = text.lower()
    for word, code in _DISPLAY_ERRORS:
        if word in lowered:
            return code
    return None


def check_code(name: str, reason: str, roles: Iterable[str] = ()) -> str:
    """The code of a failed (or warned) check."""
    kind = _failure_kind(reason)
    if kind in _AUTH:
        return AUTH_FAILED
    if "wrong device at" in (reason or ""):
        return WRONG_DEVICE
    if kind in _TRANSPORT:
        return _unreachable(roles)
    if name == "display.errors":
        return _display_code(reason) or "display.error"
    if name == "site.uplink" and "measurement" in (reason or ""):
        return "site.uplink_unmeasured"
    if name == "site.time" and "did not answer" in (reason or ""):
        return "site.time_unavailable"
    code = _CHECK_CODES.get(name)
    if code == UNREACHABLE:
        return _unreachable(roles)
    if code is not None:
        return code
    if kind == "protocol_error":
        return "device.protocol_error"
    return FALLBACK_CHECK


def health_problems(roles: Iterable[str], up: bool | None, verdict: str, reasons: Iterable[str],
                    details: Mapping[str, Any] | None = None) -> list[Problem]:
    """What a health poll says is wrong, one problem per reason (none for an ok or unknown state)."""
    roles = set(roles)
    reasons = [str(r) for r in reasons if str(r)]
    if up is None or verdict == "unknown" or (up and verdict == "ok"):
        return []
    out: list[Problem] = []
    for reason in reasons or [""]:
        out.append(Problem(_health_code(roles, bool(up), reason, details or {}), None, reason))
    return out


def _health_code(roles: set[str], up: bool, reason: str, details: Mapping[str, Any]) -> str:
    kind = _failure_kind(reason)
    lowered = reason.lower()
    if kind in _AUTH:
        return AUTH_FAILED
    if kind in _TRANSPORT or (not up and not reason):
        return _unreachable(roles)
    if "codec" in roles:
        if lowered.startswith("diagnostics"):
            return "codec.diagnostics"
        if "registration" in lowered or "gatekeeper" in lowered:
            return UNREGISTERED
    if "display" in roles:
        found = _display_code(reason)
        if found:
            return found
    if "camera" in roles and "power" in lowered:
        return "camera.power_error"
    if "router" in roles and "uplink" in lowered:
        return "network.uplink_down"
    if "recorder" in roles and "storage" in lowered:
        return "recorder.space_low"
    if kind == "protocol_error":
        return "device.protocol_error"
    return "device.down" if not up else "device.degraded"


def serving(roles: Iterable[str], up: bool | None, verdict: str, reasons: Iterable[str],
            details: Mapping[str, Any] | None = None) -> bool | None:
    """Whether the device can do its part in a meeting (None: not known): up, and no problem of
    it that blocks meetings."""
    if up is None or verdict == "unknown":
        return None
    if not up:
        return False
    return not any(p.code in BLOCKS_MEETINGS for p in health_problems(roles, up, verdict, reasons, details))


def codes_cleared_by_check(name: str, roles: Iterable[str] = ()) -> set[str]:
    """Codes a passing check proves gone: its own, and unreachability for any check that talked
    to the device."""
    out = {_unreachable(roles), AUTH_FAILED}
    code = _CHECK_CODES.get(name)
    if code is not None and code != UNREACHABLE:
        out.add(code)
    if name == "display.errors":
        out |= {code for _, code in _DISPLAY_ERRORS} | {"display.error"}
    if name == "site.uplink":
        out.add("site.uplink_unmeasured")
    if name == "site.time":
        out.add("site.time_unavailable")
    return out


#: codes only a health poll decides on (a healthy poll clears them)
HEALTH_CODES = frozenset({
    UNREACHABLE, SILENT_CAMERA, AUTH_FAILED, UNREGISTERED, "codec.diagnostics", "camera.power_error",
    "network.uplink_down", "recorder.space_low", "device.protocol_error", "device.down", "device.degraded",
    "display.error", *(code for _, code in _DISPLAY_ERRORS),
})
