"""Relocation: move a room's devices onto a new venue's addresses and settings, safely.

1. Discover every device by its identity on the venue's address plan (never trust an address
   alone: an unknown device at an expected address is reported, never configured).
2. Plan, per device, what changes (settings read from the device vs the target profile, and its
   management address).
3. Apply in a safe order: every device's ordinary settings first, management addresses last;
   after an address change reconnect at the new address.
4. Verify by reading back (identity at the new address, every target setting).
5. If verification fails, roll back what was applied (newest first) and stop.
6. Otherwise run the self-test.

Who changes a unit's address: the agent does, for units whose driver has address keys — codecs
with a ``network`` block in the profile, and Extron SIS switchers and recorders on a network
transport (``network.ipv4.*``, see ``agent.driver_config``). Every other unit (PJLink displays,
VISCA-over-IP cameras, the router, the PDU) is installer-addressed: someone sets it to the
venue's plan on the unit, and the agent finds it there by identity; a unit found at an old
address with no way to move it is a plan problem, never a guess.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from agent.actions import wait_until_state
from agent.driver_config import ADDRESS_KEYS, WRITE_ONLY_KEYS, comparable, resolve_values
from agent.selftest import identity_mismatch
from agent.session import DriverFactory
from agent.site import DeviceSpec, SiteSpec
from drivers.errors import DeviceError
from drivers.roles import Identity

log = logging.getLogger(__name__)

#: desired keys that carry a device's management address (drivers: flat or nested "network",
#: the codecs' ``network.*`` keys)
DEFAULT_ADDRESS_KEYS = ("network", "net.address", *ADDRESS_KEYS)


@dataclass
class DevicePlan:
    device: str
    found_at: str | None = None               # host where the identity matched
    target: str = ""
    problem: str = ""                         # why it cannot be relocated (not found, wrong unit)
    strangers: list[str] = field(default_factory=list)   # unknown units seen at expected addresses
    settings: dict[str, tuple[Any, Any]] = field(default_factory=dict)  # key -> (now, wanted)
    address: dict[str, tuple[Any, Any]] = field(default_factory=dict)   # address keys -> (now, wanted)

    @property
    def moves(self) -> bool:
        return self.found_at is not None and self.found_at != self.target

    def as_dict(self) -> dict[str, Any]:
        return {"device": self.device, "found_at": self.found_at, "target": self.target,
                "moves": self.moves, "problem": self.problem, "strangers": self.strangers,
                "settings": {k: {"now": a, "wanted": b} for k, (a, b) in self.settings.items()},
                "address": {k: {"now": a, "wanted": b} for k, (a, b) in self.address.items()}}


def _address_keys(dev: DeviceSpec) -> tuple[str, ...]:
    return tuple(dev.endpoint.options.get("address_keys", DEFAULT_ADDRESS_KEYS))


def differs(now: Any, wanted: Any) -> bool:
    """Whether a read-back ``now`` misses ``wanted`` (mappings: only the wanted keys count)."""
    if isinstance(wanted, Mapping):
        now_map = now if isinstance(now, Mapping) else {}
        return any(differs(now_map.get(k), v) for k, v in wanted.items())
    if isinstance(wanted, list | tuple):
        return [str(x) for x in (now or [])] != [str(x) for x in wanted]
    return str(now) != str(wanted)


def _probe(factory: DriverFactory, spec: DeviceSpec) -> tuple[Identity, dict[str, Any]]:
    """Connect a throw-away driver at ``spec``'s address: identity and current settings."""
    driver = factory(spec)
    try:
        driver.connect()
        ident = driver.identify()
        try:
            config = driver.read_config()
        except DeviceError:
            config = {}
        return ident, config
    finally:
        driver.close()


async def discover(current: SiteSpec, target: SiteSpec, factory: DriverFactory, *,
                   scan: Iterable[str] = (), timeout: float = 10.0) -> list[DevicePlan]:
    """Find each device by identity at its old address, its new one, or any scanned address."""
    extra = list(scan)

    async def one(dev: DeviceSpec) -> DevicePlan:
        want = target.device(dev.id)
        plan = DevicePlan(dev.id, target=want.endpoint.host)
        if dev.endpoint.transport == "serial":
            candidates = [dev.endpoint.host]
        else:
            candidates = list(dict.fromkeys([dev.endpoint.host, want.endpoint.host, *extra]))
        for host in candidates:
            try:
                probe = asyncio.to_thread(_probe, factory, want.at(host))
                ident, config = await asyncio.wait_for(probe, timeout)
            except (DeviceError, TimeoutError):
                continue
            wrong = identity_mismatch(dev.identity, ident)
            if wrong:
                if host in (dev.endpoint.host, want.endpoint.host):
                    plan.strangers.append(
                        f"{host}: {ident.vendor} {ident.model} serial {ident.serial} ({wrong})")
                continue
            plan.found_at = host
            _plan_settings(plan, want, config, _address_keys(dev))
            break
        if plan.found_at is None:
            plan.problem = "not found by identity at " + ", ".join(candidates)
        elif plan.moves and not plan.address:
            plan.problem = (f"found at {plan.found_at}, but its address cannot be changed over its "
                            f"protocol: set it to {plan.target} on the unit and plan again")
        return plan

    return list(await asyncio.gather(*(one(d) for d in current.devices)))


def _plan_settings(plan: DevicePlan, want: DeviceSpec, config: Mapping[str, Any],
                   addr_keys: Sequence[str]) -> None:
    """What differs between the device's read-back and the target; a write-only key (a password)
    goes along whenever another key of its group (``sip.``) changes."""
    for key, wanted in comparable(want.desired).items():
        now = config.get(key)
        if differs(now, wanted):
            (plan.address if key in addr_keys else plan.settings)[key] = (now, wanted)
    changed = [*plan.settings, *plan.address]
    for key in WRITE_ONLY_KEYS & set(want.desired):
        group = key.split(".", 1)[0] + "."
        if any(k.startswith(group) for k in changed):
            (plan.address if key in addr_keys else plan.settings)[key] = (None, want.desired[key])


@dataclass
class Applied:
    device: str
    keys: dict[str, Any]                      # key -> value before
    moved_from: str | None = None


async def _apply(sessions: Mapping[str, Any], device: str, values: Mapping[str, Any]) -> None:
    config = resolve_values(values, sessions[device].spec.secrets)
    report = await sessions[device].call(lambda d: d.apply_config(config), 60.0, force=True)
    if not report.verified:
        raise DeviceError(f"read-back differs for {', '.join(report.mismatches)}", device=device)


async def _verify(session: Any, dev: DeviceSpec, wanted: Mapping[str, Any]) -> str:
    check = comparable(wanted)
    try:
        ident = await session.call(lambda d: d.identify(), 30.0, force=True)
        # nothing to compare: no read-back (a display in standby refuses even to report)
        config = await session.call(lambda d: d.read_config(), 30.0, force=True) if check else {}
    except DeviceError as exc:
        return f"{dev.id}: not answering at {dev.address()}: {exc.reason}: {exc.message}"
    wrong = identity_mismatch(dev.identity, ident)
    if wrong:
        return f"{dev.id}: wrong unit at {dev.address()}: {wrong}"
    bad = [k for k, v in check.items() if differs(config.get(k), v)]
    return f"{dev.id}: read-back differs for {', '.join(bad)}" if bad else ""


async def apply_plan(current: SiteSpec, target: SiteSpec, plans: Sequence[DevicePlan],
                     sessions: Mapping[str, Any], *, log_step: Callable[[str], None] = log.info
                     ) -> dict[str, Any]:
    """Apply the plan in the safe order; roll back on a failure. Returns what happened."""
    steps: list[str] = []
    applied: list[Applied] = []

    def note(text: str) -> None:
        steps.append(text)
        log_step(text)

    blocked = [p for p in plans if p.problem or p.strangers]
    if blocked:
        return {"ok": False, "error": "; ".join(f"{p.device}: {p.problem or 'unknown unit at its address'}"
                                                for p in blocked), "steps": steps, "rolled_back": False}
    try:
        for p in plans:                              # the session must talk to where the unit is now
            cur = current.device(p.device)
            if p.found_at and p.found_at != cur.endpoint.host:
                await sessions[p.device].replace_spec(cur.at(p.found_at))
        for p in plans:                              # 1. ordinary settings, every device
            if p.settings:
                wanted = {k: w for k, (_, w) in p.settings.items()}
                applied.append(Applied(p.device, {k: n for k, (n, _) in p.settings.items()}))
                await _apply(sessions, p.device, wanted)
                note(f"{p.device}: applied {', '.join(wanted)}")
        for p in plans:                              # 2. management addresses, last
            want = target.device(p.device)
            if p.address:
                wanted = resolve_values({k: w for k, (_, w) in p.address.items()}, want.secrets)
                applied.append(Applied(p.device, {k: n for k, (n, _) in p.address.items()},
                                       moved_from=p.found_at if p.moves else None))
                try:
                    await sessions[p.device].call(lambda d, w=wanted: d.apply_config(w), 60.0, force=True)
                except DeviceError as exc:           # the link may drop as the address changes
                    note(f"{p.device}: link dropped while applying the address ({exc.reason})")
                note(f"{p.device}: address {p.found_at} -> {want.endpoint.host}")
            if p.moves or p.address:
                await sessions[p.device].replace_spec(want)
                # A unit takes a moment to come up on its new address.
                settle = float(want.endpoint.options.get("readdress_seconds", want.endpoint.boot_time))
                await wait_until_state(sessions[p.device], True, settle)
        for p in plans:                              # 3. verify by reading back
            want = target.device(p.device)
            problem = await _verify(sessions[p.device], want, want.desired)
            if problem:
                raise DeviceError(f"verification failed: {problem}", device=p.device)
            note(f"{p.device}: verified at {want.address()}")
    except DeviceError as exc:
        note(f"failed: {exc}; rolling back")
        found = {p.device: p.found_at for p in plans}
        rollback_errors = await _rollback(current, found, applied, sessions, note)
        return {"ok": False, "error": str(exc), "steps": steps, "rolled_back": True,
                "rollback_errors": rollback_errors}
    return {"ok": True, "steps": steps, "rolled_back": False}


async def _rollback(current: SiteSpec, found_at: Mapping[str, str | None], applied: list[Applied],
                    sessions: Mapping[str, Any], note: Callable[[str], None]) -> list[str]:
    """Put back what was applied, newest first; then every session talks to where its unit was
    found before the relocation began, and each unit must answer there as itself."""
    errors: list[str] = []
    for item in reversed(applied):
        old_values = {k: v for k, v in item.keys.items() if v is not None}
        try:
            await sessions[item.device].call(lambda d, w=old_values: d.apply_config(w), 60.0, force=True)
        except DeviceError as exc:
            if item.moved_from is None:
                errors.append(f"{item.device}: {exc.reason}: {exc.message}")
                note(f"{item.device}: rollback failed: {exc}")
                continue
            # the link may drop as the address changes back: whether it worked shows below
            note(f"{item.device}: link dropped while restoring the address ({exc.reason}: {exc.message})")
        if item.moved_from is not None:
            back = current.device(item.device).at(item.moved_from)
            await sessions[item.device].replace_spec(back)
            settle = float(back.endpoint.options.get("readdress_seconds", back.endpoint.boot_time))
            if await wait_until_state(sessions[item.device], True, settle) is None:
                errors.append(f"{item.device}: not back at {item.moved_from} within {settle:.0f}s")
                note(f"{item.device}: rollback failed: not back at {item.moved_from}")
                continue
        note(f"{item.device}: restored {', '.join(item.keys)}")
    for dev in current.devices:
        where = dev.at(found_at.get(dev.id) or dev.endpoint.host)
        if sessions[dev.id].spec.endpoint.host != where.endpoint.host:
            await sessions[dev.id].replace_spec(where)
    for dev in current.devices:
        problem = await _verify(sessions[dev.id], sessions[dev.id].spec, {})
        if problem:
            errors.append(problem)
    return errors


async def relocate_agent(agent: Any, args: Mapping[str, Any], *, dry_run: bool) -> dict[str, Any]:
    """The ``relocate`` command / CLI. The target is ``args["venue"]``: a venue *name*, looked up
    in the agent's venue directory only (``agent.venues``); what central sends is always a name.
    Local callers may give ``args["venue_file"]`` (the CLI's ``--venue path``) or ``args["target"]``
    (a SiteSpec, tests); the command path never carries them (``agent.command_args``)."""
    target = args.get("target")
    if target is None:
        if getattr(agent, "resolved", None) is None:
            return {"ok": False, "error": "relocation needs a venue and a site loaded from its profile"}
        from agent.profiles import load_venue
        from agent.site import from_resolved
        from agent.venues import VenueUnavailable, load_named_venue, refuse

        if args.get("venue_file"):
            venue = load_venue(str(args["venue_file"]), agent.resolved)
        else:
            try:
                venue = load_named_venue(args.get("venue"), agent.resolved)
            except VenueUnavailable as exc:
                return refuse(exc)
        target = from_resolved(venue.relocate(agent.resolved))
    factory = agent.driver_factory
    plans = await discover(agent.site, target, factory, scan=args.get("scan", ()))
    result: dict[str, Any] = {"plan": [p.as_dict() for p in plans], "dry_run": dry_run}
    if dry_run:
        return {**result, "ok": all(not p.problem and not p.strangers for p in plans)}
    outcome = await apply_plan(agent.site, target, plans, agent.sessions)
    result.update(outcome)
    if outcome["ok"]:
        agent.site = target
        report = await agent.selftest(trigger="relocation")
        result["selftest"] = {"run_id": report.run_id, "verdict": report.verdict}
        result["ok"] = report.verdict != "not_ready"
        if not result["ok"]:
            result["error"] = "relocated, but the self-test says not ready"
    return result
