"""What meeting commands do to the room: prepare, connect (and redial), disconnect (and drop), mute.

Prepare never holds the call for a non-critical device: the call part (wake the codec, unmute,
main source, volume; the router's uplink) runs first and the command answers as soon as it is
done, so central can dial; the room part (displays, switcher routes, camera presets) goes on
beside the call in a supervised task and reports every step as a ``prepare_step`` event
("waiting for the display: lamp error").

Calls belong to meetings (``Coordinator.call_tracker``): a dial is claimed for its meeting, a
hang-up for meeting A hangs up A's calls only, so a site that is also in meeting B stays in it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from agent.commands import CommandFailed
from contracts.messages import CallState, Command, Event
from drivers.errors import DeviceError, DeviceTimeout
from drivers.roles import Driver

log = logging.getLogger(__name__)

Step = tuple[str, str, Callable[[Driver], Any]]   # (device id, description, operation)
#: roles whose devices the call needs; every other preparation runs beside the call
CALL_ROLES = frozenset({"codec", "router"})
#: the role a step is reported under (what the dashboard names: "the display")
_ROLE_ORDER = ("display", "switcher", "camera", "codec", "router", "recorder")


# -- holding devices while a command uses them -------------------------------------------------------
def _coordinator(agent: Any, device: str) -> Any:
    return getattr(agent, "coordinators", {}).get(device)


async def call_device(agent: Any, device: str, what: str, op: Callable[[Driver], Any], timeout: float) -> Any:
    """``op`` on the device's thread while the device is held for ``what`` (no health poll
    queues behind it and marks it down)."""
    coordinator = _coordinator(agent, device)
    if coordinator is None:
        return await agent.session(device).call(op, timeout, force=True)
    with coordinator.hold(what):
        return await agent.session(device).call(op, timeout, force=True)


def step_error(exc: DeviceError) -> str:
    return f"{exc.reason}: {exc.message}"


async def run_steps(agent: Any, steps: list[Step], timeout: float = 10.0, *, what: str = "command",
                    report: Callable[[str, str, str, str, str], None] | None = None) -> list[dict[str, Any]]:
    """Run steps: per device in order, devices in parallel; a failed step is recorded, not raised.
    ``report(device, step, state, reason, evidence)`` hears each step start and end."""
    by_device: dict[str, list[Step]] = {}
    for step in steps:
        by_device.setdefault(step[0], []).append(step)

    async def device_steps(items: list[Step]) -> list[dict[str, Any]]:
        out = []
        problem = ""
        for device, step, op in items:
            if report is not None:
                report(device, step, "waiting" if problem else "running", problem, "")
            try:
                await call_device(agent, device, what, op, timeout)
            except DeviceError as exc:
                problem = await explain(agent, device) or problem or exc.reason
                out.append({"device": device, "step": step, "ok": False, "error": step_error(exc)})
                if report is not None:
                    report(device, step, "failed", problem, step_error(exc))
            else:
                out.append({"device": device, "step": step, "ok": True})
                if report is not None:
                    report(device, step, "done", "", "")
        return out

    results = await asyncio.gather(*(device_steps(items) for items in by_device.values()))
    return [r for group in results for r in group]


async def explain(agent: Any, device: str) -> str:
    """A display's own error report ("lamp error, fan warning"), "" when it has none or none is
    readable: said instead of the raw refusal (PJLink ERR3/ERR4)."""
    spec = agent.session(device).spec
    if "display" not in spec.roles:
        return ""
    try:
        errors = await agent.session(device).call(lambda d: d.errors(), max(2.0, spec.endpoint.timeout * 2),  # type: ignore[attr-defined]
                                                  retry=False, force=True)
    except (DeviceError, AttributeError):
        return ""
    bad = [f"{part} {level}" for part, level in dict(errors).items() if level not in ("ok", "")]
    return ", ".join(bad)


def failed_steps(steps_result: list[dict[str, Any]], what: str) -> None:
    failed = [s for s in steps_result if not s["ok"]]
    if failed:
        raise CommandFailed(f"{what}: {len(failed)} of {len(steps_result)} steps failed: "
                            + "; ".join(f"{s['device']} {s['step']}: {s['error']}" for s in failed),
                            {"steps": steps_result})


# -- prepare --------------------------------------------------------------------------------------------
def warmup_seconds(display: Any) -> float:
    """How long a display may take to warm up (the driver's ``warmup_timeout`` option)."""
    return float(display.endpoint.options.get("warmup_timeout", 90.0))


def _warmed_up(driver: Driver, within: float) -> None:
    wait = getattr(driver, "wait_power", None)
    if wait is None:
        return      # a display without warm-up states takes input changes at once
    state = wait("on", within)
    if state != "on":
        raise DeviceTimeout(f"still {state} {within:.0f} s after power on", device=driver.name)


def _uplink_up(driver: Driver) -> None:
    row = driver.uplink()  # type: ignore[attr-defined]
    status = str(row.get("status", "up")).lower()
    if status not in ("up", "connected"):
        raise DeviceTimeout(f"uplink {row.get('interface', '')} is {status}", device=driver.name)


def call_steps(agent: Any) -> list[Step]:
    """What the call needs before the codec dials: the codec awake and unmuted, the network up."""
    site, room = agent.site, agent.site.room
    steps: list[Step] = []
    for codec in site.with_role("codec"):
        steps.append((codec.id, "wake", lambda d: d.standby(False)))
        steps.append((codec.id, "microphones unmuted", lambda d: d.mute(False)))
        if room.codec_main_source is not None:
            src = int(room.codec_main_source)
            steps.append((codec.id, f"main source {src}", lambda d, s=src: d.set_main_source(s)))
        if room.volume is not None:
            vol = int(room.volume)
            steps.append((codec.id, f"volume {vol}", lambda d, v=vol: d.set_volume(v)))
    for router in site.with_role("router"):
        steps.append((router.id, "uplink up", _uplink_up))
    return steps


def room_steps(agent: Any) -> list[Step]:
    """What runs beside the call: displays on the right input, switcher routes, camera presets."""
    site, room = agent.site, agent.site.room
    steps: list[Step] = []
    for display in site.with_role("display"):
        steps.append((display.id, "power on", lambda d: d.power(True)))
        # a projector refuses input changes while its lamp warms up (PJLink ERR3)
        within = warmup_seconds(display)
        steps.append((display.id, "warmed up", lambda d, w=within: _warmed_up(d, w)))
        if room.display_input:
            src = str(room.display_input)
            steps.append((display.id, f"input {src}", lambda d, s=src: d.select_input(s)))
    for switcher in site.with_role("switcher"):
        for output, inp in sorted(room.routes.items()):
            steps.append((switcher.id, f"route {inp}->{output}", lambda d, i=inp, o=output: d.route(i, o)))
    if room.camera_preset is not None:
        preset = int(room.camera_preset)
        cameras = site.with_role("camera")
        if cameras:
            for cam in cameras:
                steps.append((cam.id, f"preset {preset}", lambda d, p=preset: d.preset_recall(p)))
        else:
            for codec in site.with_role("codec"):
                steps.append((codec.id, f"camera preset {preset}", lambda d, p=preset: d.preset_activate(p)))
    return steps


def prepare_steps(agent: Any) -> list[Step]:
    """Every preparation step, the call's first."""
    return call_steps(agent) + room_steps(agent)


def role_of(agent: Any, device: str) -> str:
    roles = agent.session(device).spec.roles
    return next((r for r in _ROLE_ORDER if r in roles), next(iter(sorted(roles)), ""))


def serve_meeting(agent: Any, cmd: Command) -> str | None:
    """Calls answered from now on belong to the command's meeting (reported with its id)."""
    meeting_id = cmd.args.get("meeting_id")
    if meeting_id:
        agent.call_meeting = str(meeting_id)
    return str(meeting_id) if meeting_id else None


def preparations(agent: Any) -> dict[str, asyncio.Task[None]]:
    """The room preparations running beside calls, by meeting (kept on the agent)."""
    tasks: dict[str, asyncio.Task[None]] | None = getattr(agent, "preparations", None)
    if tasks is None:
        tasks = {}
        agent.preparations = tasks
    return tasks


async def _prepare_room(agent: Any, meeting_id: str, steps: list[Step], timeout: float) -> None:
    def report(device: str, step: str, state: str, reason: str, evidence: str) -> None:
        agent.emit(Event(site=agent.site.id, kind="prepare_step", device=device, data={
            "meeting_id": meeting_id, "step": step, "role": role_of(agent, device), "state": state,
            "reason": reason, "evidence": evidence}))

    try:
        done = await run_steps(agent, steps, timeout, what="prepare", report=report)
    except Exception as exc:  # noqa: BLE001 - the room's preparation must report, never vanish
        log.exception("room preparation for meeting %s failed", meeting_id)
        for device, step, _ in steps:
            report(device, step, "failed", "internal error", repr(exc))
        return
    failed = [s for s in done if not s["ok"]]
    log.info("room preparation for meeting %s: %d of %d steps done", meeting_id, len(done) - len(failed),
             len(done))


async def h_prepare(agent: Any, cmd: Command) -> dict[str, Any]:
    meeting_id = serve_meeting(agent, cmd) or cmd.command_id
    beside = room_steps(agent)
    warmups = [warmup_seconds(d) for d in agent.site.with_role("display")]
    room_timeout = max([10.0] + [w + 5.0 for w in warmups])
    tasks = preparations(agent)
    previous = tasks.pop(meeting_id, None)
    if previous is not None:
        previous.cancel()
    if beside:
        task = asyncio.create_task(_prepare_room(agent, meeting_id, beside, room_timeout),
                                   name=f"prepare-room-{meeting_id}")
        tasks[meeting_id] = task
        task.add_done_callback(lambda t, m=meeting_id: tasks.pop(m, None) if tasks.get(m) is t else None)
    steps = await run_steps(agent, call_steps(agent), 10.0, what="prepare")
    listed = [{"device": d, "step": s, "role": role_of(agent, d)} for d, s, _ in beside]
    failed_steps(steps, "prepare")
    return {"steps": steps, "beside": listed}


# -- calls ----------------------------------------------------------------------------------------------
def _one(agent: Any, cmd: Command, role: str) -> str:
    if cmd.device:
        return agent.site.device(cmd.device).id
    found = agent.site.with_role(role)
    if not found:
        raise CommandFailed(f"site {agent.site.id} has no {role}")
    return found[0].id


def dial_targets(agent: Any, cmd: Command) -> list[str]:
    """The URIs to dial: ``uris``, host mode's ``participants`` [{site, uri}], ``uri``, the
    meeting's ``bridge_uri``, else the site's own bridge."""
    uris = [str(u) for u in cmd.args.get("uris") or []]
    uris += [str(p["uri"]) for p in cmd.args.get("participants") or []]
    if not uris:
        uri = cmd.args.get("uri") or cmd.args.get("bridge_uri") or agent.site.bridge_uri
        if not uri:
            raise CommandFailed("connect needs a uri, uris, participants, or the site's bridge")
        uris = [str(uri)]
    return uris


#: a call state that still may become connected
_PROGRESSING = frozenset({"dialing", "ringing", "connecting"})


async def await_calls(agent: Any, codec: str, call_ids: list[str],
                      within: float) -> dict[str, CallState | None]:
    """The codec's calls, read (and reported) until every one is connected, gone, or ``within``
    seconds have passed: call id -> its state, None for a call that ended."""
    coordinator = agent.coordinators[codec]
    interval = float(agent.session(codec).spec.endpoint.options.get("call_poll_interval", 0.2))
    deadline = time.monotonic() + within
    while True:
        calls = {c.call_id: c for c in await coordinator.poll_calls()}
        found = {cid: calls.get(cid) for cid in call_ids}
        settled = all(c is None or c.state not in _PROGRESSING for c in found.values())
        if settled or time.monotonic() >= deadline:
            return found
        await asyncio.sleep(interval)   # the codec's own call progress, read again shortly


async def meeting_calls(agent: Any, codec: str, meeting_id: str | None) -> list[CallState]:
    """The codec's calls that belong to ``meeting_id`` as read now. Calls of no known meeting
    count as this meeting's only when no other meeting has calls here or is being served."""
    coordinator = agent.coordinators[codec]
    calls = await coordinator.poll_calls()
    if meeting_id is None:
        return list(calls)
    mine = [c for c in calls if c.meeting_id == meeting_id]
    others = [c for c in calls if c.meeting_id and c.meeting_id != meeting_id]
    if not others and getattr(agent, "call_meeting", None) in (None, meeting_id):
        mine += [c for c in calls if not c.meeting_id]
    return mine


async def hang_up(agent: Any, codec: str, calls: list[CallState], what: str) -> None:
    """Hang up each call; one the codec no longer has (it ended on its own meanwhile) is not a
    failure, and never keeps the others up."""
    refused: list[CommandFailed] = []
    for call in calls:
        try:
            await call_device(agent, codec, what, lambda d, cid=call.call_id: d.hangup(cid), 10.0)
        except CommandFailed as exc:
            refused.append(exc)
    if refused:
        still = {c.call_id for c in await agent.coordinators[codec].poll_calls()}
        if any(c.call_id in still for c in calls):
            raise refused[0]


async def h_connect(agent: Any, cmd: Command) -> dict[str, Any]:
    codec = _one(agent, cmd, "codec")
    meeting_id = serve_meeting(agent, cmd)
    uris = dial_targets(agent, cmd)
    rate = int(cmd.args.get("rate", 1920))
    protocol = str(cmd.args.get("protocol", "sip"))
    session = agent.session(codec)
    tracker = agent.coordinators[codec].call_tracker
    result: dict[str, Any] = {"codec": codec}
    if cmd.args.get("redial"):
        # this meeting's old calls to these far ends go first; a bridge redial replaces them all
        stale = [c for c in await meeting_calls(agent, codec, meeting_id)
                 if cmd.args.get("mode") == "bridge" or c.remote_uri in uris]
        await hang_up(agent, codec, stale, "redial")
        result["hung_up"] = len(stale)
    dialed = []
    for uri in uris:
        call_id = str(await call_device(agent, codec, "connect",
                                        lambda d, u=uri: d.dial(u, protocol, rate), 15.0))
        if tracker is not None:
            tracker.claim(call_id, meeting_id)
        dialed.append((uri, call_id))
    wait = float(cmd.args.get("wait", session.spec.endpoint.options.get("connect_wait", 10.0)))
    states = await await_calls(agent, codec, [cid for _, cid in dialed], wait)
    calls = [{"uri": uri, "call_id": cid, "state": states[cid].state if states[cid] else "ended"}
             for uri, cid in dialed]
    result["calls"] = calls
    ended = [c for c in calls if c["state"] == "ended"]
    if len(ended) == len(calls):
        raise CommandFailed(f"{codec}: every call ended before connecting "
                            f"({', '.join(c['uri'] for c in ended)})", result)
    live = [c["state"] for c in calls if c["state"] != "ended"]
    result["call_state"] = "connected" if all(s == "connected" for s in live) else live[0]
    return result


async def h_disconnect(agent: Any, cmd: Command) -> dict[str, Any]:
    """Hang up the calls of the command's meeting (all calls when it names none)."""
    codec = _one(agent, cmd, "codec")
    meeting_id = cmd.args.get("meeting_id")
    meeting_id = str(meeting_id) if meeting_id else None
    if meeting_id is None:
        await call_device(agent, codec, "disconnect", lambda d: d.hangup(None), 10.0)
        hung = -1
    else:
        mine = await meeting_calls(agent, codec, meeting_id)
        await hang_up(agent, codec, mine, "disconnect")
        hung = len(mine)
    left = await agent.coordinators[codec].poll_calls()   # reports the hang-up at once
    if meeting_id in (None, agent.call_meeting) and not cmd.args.get("drop"):
        agent.call_meeting = None
    result: dict[str, Any] = {"codec": codec, "calls_left": len(left)}
    if hung >= 0:
        result["hung_up"] = hung
    return result


async def h_mute(agent: Any, cmd: Command) -> dict[str, Any]:
    """Mute or unmute the microphones of the site's codec(s)."""
    on = bool(cmd.args.get("on", True))
    codecs = ([agent.site.device(cmd.device).id] if cmd.device
              else [c.id for c in agent.site.with_role("codec")])
    if not codecs:
        raise CommandFailed(f"site {agent.site.id} has no codec")
    steps = await run_steps(agent, [(c, "mute" if on else "unmute", lambda d: d.mute(on)) for c in codecs],
                            what="mute")
    failed_steps(steps, "mute" if on else "unmute")
    return {"muted": on, "steps": steps}
