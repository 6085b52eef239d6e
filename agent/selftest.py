"""The self-test runner: every check of every device, in parallel, each with its own deadline.

Per device the checks run in order on that device's thread (first ``reachable``: connect,
identify and compare the identity with the profile, then the driver's ``selftest_checks``);
devices run concurrently. A failing or hanging device becomes failed checks with a reason and
evidence (the redacted transcript tail), never an exception that stops the run. A check whose
prerequisite did not pass (``needs``, or the device it is controlled through) is skipped with
the reason. The result is a ``contracts.messages.SelftestReport``: plain data.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from agent.session import DeviceSession, failure_text
from agent.site import DeviceSpec, SiteSpec
from contracts.messages import CheckResult, DeviceInfo, SelftestReport, utcnow
from drivers.errors import DeviceError
from drivers.roles import CheckOutcome, CheckStatus, DeviceCheck, Driver, Identity

log = logging.getLogger(__name__)

REACHABLE = "reachable"
#: the site check that measures the uplink (agent/site_checks.py); its figures go to central
UPLINK_CHECK = "site.uplink"
UPLINK_FIELDS = ("rtt_ms", "loss", "up_mbps", "down_mbps")
EVIDENCE_LINES = 20
Progress = Callable[[CheckResult], None]
SiteCheck = Callable[["RunState"], Awaitable[list[CheckResult]]]
#: device id -> why checks that need an idle codec cannot run now ("in a call ..."), "" when idle
InCall = Callable[[str], Awaitable[str]]
#: codec checks a call in progress makes meaningless or harmful (a test call, moving the camera)
NEEDS_IDLE = frozenset({"codec.idle", "codec.test_call", "codec.preset"})


@dataclass
class RunState:
    """What site checks may look at: the site, its sessions, and results so far."""

    site: SiteSpec
    sessions: Mapping[str, DeviceSession]
    results: dict[tuple[str, str], asyncio.Future[CheckResult]]
    identities: dict[str, Identity]

    async def result_of(self, device: str, name: str) -> CheckResult | None:
        fut = self.results.get((device, name))
        return None if fut is None else await fut


def evidence_of(session: DeviceSession, error: DeviceError | None = None) -> list[str]:
    """The redacted transcript tail; with ``error`` noted first, so a failure that left no
    exchange behind (connection refused, a library that keeps its own log) still shows it."""
    if error is not None:
        session.driver.transcript.note(f"failed: {failure_text(error)}")
    text = session.driver.transcript.render(EVIDENCE_LINES)
    return text.splitlines() if text else []


def identity_mismatch(expected: Mapping[str, str], found: Identity) -> str:
    """Why ``found`` is not the device the profile describes ("" when it is). Only the serial
    number is compared (model names differ between profiles and what units report), and only when
    the unit reports one: some protocols (VISCA, Extron SIS, PJLink) have no serial query."""
    want = str(expected.get("serial", "")).strip()
    got = str(found.serial or "").strip()
    if want and got and got.lower() != want.lower():
        return f"expected serial {want!r}, found {got!r}"
    return ""


def _result(dev: str, name: str, outcome: CheckOutcome, started: float, evidence: list[str] | None = None
            ) -> CheckResult:
    return CheckResult(device=dev, name=name, status=outcome.status.value, reason=outcome.reason,
                       measured=_jsonable(outcome.measured),
                       duration_ms=round((time.monotonic() - started) * 1000, 1), evidence=evidence or [])


def _jsonable(measured: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in measured.items():
        out[str(k)] = v if isinstance(v, str | int | float | bool | type(None) | list | dict) else str(v)
    return out


def skipped(dev: str, name: str, reason: str) -> CheckResult:
    return CheckResult(device=dev, name=name, status="skip", reason=reason)


def verdict_of(results: Sequence[CheckResult], site: SiteSpec) -> str:
    """``not_ready`` if a check on a critical device (or a site check) failed, ``degraded`` for
    any other failure or warning, else ``ready``."""
    roles = {d.id: d.roles for d in site.devices}
    verdict = "ready"
    for r in results:
        if r.status == "fail":
            if r.device == site.id or roles.get(r.device, frozenset()) & site.critical_roles:
                return "not_ready"
            verdict = "degraded"
        elif r.status == "warn":
            verdict = "degraded"
    return verdict


def uplink_of(results: Sequence[CheckResult]) -> dict[str, Any] | None:
    """The uplink figures a run measured, also when they were below the site's minimum (central
    keeps them for the annual report); None when nothing was measured."""
    for result in results:
        if result.name == UPLINK_CHECK and result.status != "skip":
            figures = {k: result.measured[k] for k in UPLINK_FIELDS if result.measured.get(k) is not None}
            if figures:
                return figures
    return None


class SelftestRunner:
    def __init__(self, site: SiteSpec, sessions: Mapping[str, DeviceSession], *,
                 site_checks: Sequence[SiteCheck] = (), reachable_timeout: float | None = None,
                 in_call: InCall | None = None) -> None:
        self.site = site
        self.sessions = sessions
        self.in_call = in_call
        self.site_checks = list(site_checks)
        self.reachable_timeout = reachable_timeout

    async def run(self, *, trigger: str = "on_demand", meeting_id: str | None = None,
                  command_id: str | None = None, late: bool = False, progress: Progress | None = None,
                  devices: Sequence[str] | None = None) -> SelftestReport:
        started_at = utcnow()
        loop = asyncio.get_running_loop()
        state = RunState(self.site, self.sessions, {}, {})
        chosen = [d for d in self.site.devices
                  if d.id in self.sessions and (devices is None or d.id in devices)]
        for dev in chosen:
            state.results[(dev.id, REACHABLE)] = loop.create_future()
        collected: list[CheckResult] = []

        def report(result: CheckResult) -> None:
            collected.append(result)
            if progress is not None:
                try:
                    progress(result)
                except Exception:  # noqa: BLE001 - a display callback must not stop the run
                    log.exception("progress callback failed")

        tasks = [self._device(dev, state, report) for dev in chosen]
        tasks += [self._site_check(check, state, report) for check in self.site_checks]
        await asyncio.gather(*tasks)
        order = {d.id: i for i, d in enumerate(self.site.devices)}
        collected.sort(key=lambda r: (order.get(r.device, len(order)),))
        inventory = [DeviceInfo(id=d.id, model=d.model, roles=sorted(d.roles), address=d.address(),
                                identity={k: str(v) for k, v in state.identities[d.id].as_dict().items()
                                          if isinstance(v, str)})
                     for d in chosen if d.id in state.identities]
        return SelftestReport(site=self.site.id, trigger=trigger, meeting_id=meeting_id,
                              command_id=command_id,
                              started_at=started_at, finished_at=utcnow(),
                              verdict=verdict_of(collected, self.site), late=late, checks=collected,
                              inventory=inventory, uplink=uplink_of(collected))

    # -- one device ----------------------------------------------------------------------------------
    async def _device(self, dev: DeviceSpec, state: RunState, report: Progress) -> None:
        session = self.sessions[dev.id]
        reach_fut = state.results[(dev.id, REACHABLE)]
        done: dict[str, CheckResult] = {}

        def finish(result: CheckResult) -> None:
            done[result.name] = result
            report(result)

        blocked = await self._blocked_by_via(dev, state)
        if blocked:
            res = skipped(dev.id, REACHABLE, blocked)
            reach_fut.set_result(res)
            finish(res)
            return
        reach = await self._reachable(dev, session, state)
        reach_fut.set_result(reach)
        finish(reach)
        checks = self._driver_checks(dev, session)
        if isinstance(checks, CheckResult):
            finish(checks)
            return
        busy = await self.in_call(dev.id) if self.in_call is not None and "codec" in dev.roles else ""
        for check in checks:
            if busy and check.name in NEEDS_IDLE:
                finish(skipped(dev.id, check.name, busy))
                continue
            if reach.status != "pass":
                finish(skipped(dev.id, check.name, f"device not reachable: {reach.reason}"))
                continue
            why = _unmet(check, done)
            if why:
                finish(skipped(dev.id, check.name, why))
                continue
            finish(await self._run_check(dev, session, check))

    async def _blocked_by_via(self, dev: DeviceSpec, state: RunState) -> str:
        if not dev.via:
            return ""
        fut = state.results.get((dev.via, REACHABLE))
        if fut is None:
            return ""
        via = await fut
        if via.status == "pass":
            return ""
        return f"controlled through {dev.via}, which is not reachable: {via.reason or via.status}"

    async def _reachable(self, dev: DeviceSpec, session: DeviceSession, state: RunState) -> CheckResult:
        started = time.monotonic()
        timeout = self.reachable_timeout or max(2.0, dev.endpoint.timeout * 3)
        try:
            ident = await session.call(lambda d: d.identify(), timeout, force=True)
        except DeviceError as exc:
            return _result(dev.id, REACHABLE, CheckOutcome.failed(failure_text(exc)), started,
                           evidence_of(session, exc))
        state.identities[dev.id] = ident
        measured = {"serial": ident.serial, "firmware": ident.firmware, "model": ident.model}
        wrong = identity_mismatch(dev.identity, ident)
        if wrong:
            return _result(dev.id, REACHABLE, CheckOutcome.failed(f"wrong device at {dev.address()}: {wrong}",
                                                                  **measured), started, evidence_of(session))
        return _result(dev.id, REACHABLE, CheckOutcome.passed(**measured), started)

    def _driver_checks(self, dev: DeviceSpec, session: DeviceSession) -> list[DeviceCheck] | CheckResult:
        # selftest_checks does no I/O (it builds closures), so it is fine on the loop thread.
        try:
            return list(session.driver.selftest_checks(dev.expect))
        except DeviceError as exc:
            return CheckResult(device=dev.id, name="checks", status="fail",
                               reason=failure_text(exc))
        except Exception as exc:  # noqa: BLE001 - a driver bug is a failed check, not a crashed run
            log.exception("%s: selftest_checks raised", dev.id)
            return CheckResult(device=dev.id, name="checks", status="fail", reason=f"driver error: {exc!r}")

    async def _run_check(self, dev: DeviceSpec, session: DeviceSession, check: DeviceCheck) -> CheckResult:
        started = time.monotonic()
        run = check.run

        def op(_driver: Driver) -> CheckOutcome:
            return run()

        try:
            outcome = await session.call(op, check.timeout, force=True)
        except DeviceError as exc:
            return _result(dev.id, check.name, CheckOutcome.failed(failure_text(exc)), started,
                           evidence_of(session, exc))
        if not isinstance(outcome, CheckOutcome):
            outcome = CheckOutcome.failed(f"check returned {type(outcome).__name__}, not an outcome")
        evidence = evidence_of(session) if outcome.status is CheckStatus.FAIL else []
        return _result(dev.id, check.name, outcome, started, evidence)

    async def _site_check(self, check: SiteCheck, state: RunState, report: Progress) -> None:
        name = getattr(check, "check_name", getattr(check, "__name__", "site"))
        try:
            results = await check(state)
        except Exception as exc:  # noqa: BLE001 - a site check bug is a failed check, not a crashed run
            log.exception("site check %s raised", name)
            results = [CheckResult(device=self.site.id, name=str(name), status="fail",
                                   reason=f"check error: {exc!r}")]
        for r in results:
            report(r)


def _unmet(check: DeviceCheck, done: Mapping[str, CheckResult]) -> str:
    for need in check.needs:
        prior = done.get(need)
        if prior is None:
            return f"needs {need}, which did not run before it"
        if prior.status not in ("pass", "warn"):
            return f"needs {need}, which did not pass ({prior.status}: {prior.reason})"
    return ""
