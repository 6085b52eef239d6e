"""What remote commands do to the room: reboot (with the PDU fallback), power-cycle, prepare,
connect, disconnect, standby, recording, configuration. Each handler is
``async (agent, command) -> result dict`` and raises ``CommandFailed`` when the goal was not met.

``agent`` is the running ``agent.runtime.Agent`` (sessions, site, self-test, relocation).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from agent.commands import CommandFailed, Handler
from agent.recordings import RecordingUnavailable, checksum, file_name, recordings_folder, upload
from agent.session import DeviceSession
from agent.site import reboot_plan
from contracts.messages import CallState, Command
from drivers.errors import DeviceError, DeviceTimeout, Disconnected
from drivers.roles import Driver, PowerOutlet


def _probe_interval(session: DeviceSession) -> float:
    ep = session.spec.endpoint
    return float(ep.options.get("probe_interval", min(1.0, ep.boot_time / 10)))


async def _answers(session: DeviceSession) -> bool:
    try:
        await session.call(lambda d: d.identify(), max(1.0, session.spec.endpoint.timeout * 2),
                           retry=False, force=True)
    except DeviceError:
        return False
    return True


async def wait_until_state(session: DeviceSession, up: bool, within: float) -> float | None:
    """Seconds until the device answers (``up``) or stops answering; None if not within time."""
    started = time.monotonic()
    interval = max(0.05, _probe_interval(session))
    while True:
        if await _answers(session) == up:
            return time.monotonic() - started
        if time.monotonic() - started >= within:
            return None
        await asyncio.sleep(interval)


async def observe(agent: Any, device: str) -> None:
    """Poll the device now, so central hears at once that it went down or came back."""
    coordinator = getattr(agent, "coordinators", {}).get(device)
    if coordinator is not None:
        await coordinator.poll()


# -- power -------------------------------------------------------------------------------------------
async def power_cycle(agent: Any, device: str, why: str = "requested") -> dict[str, Any]:
    session = agent.session(device)
    ref = session.spec.outlet
    if ref is None:
        raise CommandFailed(f"{device}: no PDU outlet feeds it ({why})")
    pdu = agent.session(ref.pdu)
    off = float(session.spec.endpoint.options.get("power_off_seconds", 5.0))
    try:
        await pdu.call_role(PowerOutlet, lambda d: d.outlet_cycle(ref.outlet, off),
                            pdu.spec.endpoint.timeout * 4 + off, force=True)
    except DeviceError as exc:
        raise CommandFailed(f"{device}: PDU {ref.pdu} outlet {ref.outlet} cycle failed: {exc.reason}: {exc}",
                            {"outlet": ref.outlet, "pdu": ref.pdu}) from exc
    await observe(agent, device)
    boot = session.spec.endpoint.boot_time
    back = await wait_until_state(session, True, boot + off)
    await observe(agent, device)
    result = {"method": "power_cycle", "pdu": ref.pdu, "outlet": ref.outlet, "reason": why}
    if back is None:
        raise CommandFailed(f"{device}: not back {boot + off:.0f}s after the outlet cycle", result)
    return {**result, "back_after_s": round(back, 2)}


async def reboot(agent: Any, device: str) -> dict[str, Any]:
    """Restart through the device's own command; if it ignores it or does not come back, and a
    PDU outlet feeds it, cycle the outlet."""
    session: DeviceSession = agent.session(device)
    plan = reboot_plan(session.spec)
    if "command" not in plan:
        # the model has no restart command (its profile says so): a power cut is the reboot
        if not plan:
            raise CommandFailed(f"{device}: cannot be restarted remotely (no restart command, no PDU outlet)",
                                {"method": "none"})
        result = await power_cycle(agent, device, "the model has no restart command")
        return {**result, "fallback": False}
    ep = session.spec.endpoint
    ack_window = float(ep.options.get("reboot_ack_seconds", min(10.0, ep.boot_time)))
    refused = ""
    try:
        await session.call(lambda d: d.reboot(wait=False), ep.timeout * 4, retry=False, force=True)
    except (Disconnected, DeviceTimeout):
        pass  # it went away while answering: that is a reboot under way
    except DeviceError as exc:
        refused = f"reboot command failed: {exc.reason}: {exc}"
    if not refused:
        went_down = await wait_until_state(session, False, ack_window)
        if went_down is None:
            refused = f"ignored the reboot (still answering after {ack_window:.0f}s)"
        else:
            await observe(agent, device)
            back = await wait_until_state(session, True, ep.boot_time)
            await observe(agent, device)
            if back is not None:
                return {"method": "reboot", "down_after_s": round(went_down, 2),
                        "back_after_s": round(back, 2)}
            refused = f"did not come back within {ep.boot_time:.0f}s of the reboot"
    if session.spec.outlet is None:
        raise CommandFailed(f"{device}: {refused}; no PDU outlet feeds it", {"method": "reboot"})
    result = await power_cycle(agent, device, refused)
    return {**result, "fallback": True}


# -- room state --------------------------------------------------------------------------------------
Step = tuple[str, str, Callable[[Driver], Any]]   # (device id, description, operation)


async def run_steps(agent: Any, steps: list[Step], timeout: float = 10.0) -> list[dict[str, Any]]:
    """Run steps: per device in order, devices in parallel; a failed step is recorded, not raised."""
    by_device: dict[str, list[Step]] = {}
    for step in steps:
        by_device.setdefault(step[0], []).append(step)

    async def device_steps(items: list[Step]) -> list[dict[str, Any]]:
        out = []
        for device, what, op in items:
            try:
                await agent.session(device).call(op, timeout, force=True)
            except DeviceError as exc:
                out.append({"device": device, "step": what, "ok": False,
                            "error": f"{exc.reason}: {exc.message}"})
            else:
                out.append({"device": device, "step": what, "ok": True})
        return out

    results = await asyncio.gather(*(device_steps(items) for items in by_device.values()))
    return [r for group in results for r in group]


def _require(steps_result: list[dict[str, Any]], what: str) -> dict[str, Any]:
    failed = [s for s in steps_result if not s["ok"]]
    if failed:
        raise CommandFailed(f"{what}: {len(failed)} of {len(steps_result)} steps failed: "
                            + "; ".join(f"{s['device']} {s['step']}: {s['error']}" for s in failed),
                            {"steps": steps_result})
    return {"steps": steps_result}


def prepare_steps(agent: Any) -> list[Step]:
    site = agent.site
    room = site.room
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


def _one(agent: Any, cmd: Command, role: str) -> str:
    if cmd.device:
        return agent.site.device(cmd.device).id
    found = agent.site.with_role(role)
    if not found:
        raise CommandFailed(f"site {agent.site.id} has no {role}")
    return found[0].id


# -- handlers ----------------------------------------------------------------------------------------
async def h_reboot(agent: Any, cmd: Command) -> dict[str, Any]:
    if not cmd.device:
        raise CommandFailed("reboot needs a device")
    return await reboot(agent, agent.site.device(cmd.device).id)


async def h_power_cycle(agent: Any, cmd: Command) -> dict[str, Any]:
    if not cmd.device:
        raise CommandFailed("power_cycle needs a device")
    return await power_cycle(agent, agent.site.device(cmd.device).id)


async def h_selftest(agent: Any, cmd: Command) -> dict[str, Any]:
    trigger = str(cmd.args.get("trigger", "on_demand"))
    run_id = str(cmd.args["run_id"]) if cmd.args.get("run_id") else None
    if trigger == "inspection":      # an inspection on demand is the whole inspection, drift included
        report = await agent.inspection(command_id=cmd.command_id, run_id=run_id)
    else:
        report = await agent.selftest(trigger=trigger, command_id=cmd.command_id, run_id=run_id)
    return {"run_id": report.run_id, "verdict": report.verdict}


def _serve_meeting(agent: Any, cmd: Command) -> None:
    """Calls from now on belong to the command's meeting (reported with its id)."""
    meeting_id = cmd.args.get("meeting_id")
    if meeting_id:
        agent.call_meeting = str(meeting_id)


async def h_prepare(agent: Any, cmd: Command) -> dict[str, Any]:
    _serve_meeting(agent, cmd)
    warmups = [warmup_seconds(d) for d in agent.site.with_role("display")]
    timeout = max([10.0] + [w + 5.0 for w in warmups])
    return _require(await run_steps(agent, prepare_steps(agent), timeout), "prepare")


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


async def h_connect(agent: Any, cmd: Command) -> dict[str, Any]:
    codec = _one(agent, cmd, "codec")
    _serve_meeting(agent, cmd)
    uris = dial_targets(agent, cmd)
    rate = int(cmd.args.get("rate", 1920))
    protocol = str(cmd.args.get("protocol", "sip"))
    session = agent.session(codec)
    dialed = []
    for uri in uris:
        call_id = await session.call(lambda d, u=uri: d.dial(u, protocol, rate), 15.0, force=True)
        dialed.append((uri, str(call_id)))
    wait = float(cmd.args.get("wait", session.spec.endpoint.options.get("connect_wait", 10.0)))
    states = await await_calls(agent, codec, [cid for _, cid in dialed], wait)
    calls = [{"uri": uri, "call_id": cid, "state": states[cid].state if states[cid] else "ended"}
             for uri, cid in dialed]
    result: dict[str, Any] = {"codec": codec, "calls": calls}
    ended = [c for c in calls if c["state"] == "ended"]
    if len(ended) == len(calls):
        raise CommandFailed(f"{codec}: every call ended before connecting "
                            f"({', '.join(c['uri'] for c in ended)})", result)
    live = [c["state"] for c in calls if c["state"] != "ended"]
    result["call_state"] = "connected" if all(s == "connected" for s in live) else live[0]
    return result


async def h_disconnect(agent: Any, cmd: Command) -> dict[str, Any]:
    codec = _one(agent, cmd, "codec")
    await agent.session(codec).call(lambda d: d.hangup(None), 10.0, force=True)
    left = await agent.coordinators[codec].poll_calls()   # reports the hang-up at once
    if cmd.args.get("meeting_id") in (None, agent.call_meeting):
        agent.call_meeting = None
    return {"codec": codec, "calls_left": len(left)}


async def h_standby(agent: Any, cmd: Command) -> dict[str, Any]:
    on = bool(cmd.args.get("on", True))
    steps: list[Step] = [(c.id, "standby" if on else "wake", lambda d: d.standby(on))
                         for c in agent.site.with_role("codec")]
    if cmd.args.get("displays", True):
        steps += [(x.id, "display off" if on else "display on", lambda d: d.power(not on))
                  for x in agent.site.with_role("display")]
    return _require(await run_steps(agent, steps), "standby")


async def h_record_start(agent: Any, cmd: Command) -> dict[str, Any]:
    rec = _one(agent, cmd, "recorder")
    await agent.session(rec).call(lambda d: d.record_start(), 10.0, force=True)
    status = await agent.session(rec).call(lambda d: d.record_status(), 10.0, force=True)
    return {"recorder": rec, "status": status}


async def h_record_stop(agent: Any, cmd: Command) -> dict[str, Any]:
    """Stop, then archive: the file's name, size, duration and SHA-256, uploaded to central when
    the command names a meeting and the agent has a central."""
    rec = _one(agent, cmd, "recorder")
    session = agent.session(rec)
    before = await session.call(lambda d: d.record_status(), 10.0, force=True)
    await session.call(lambda d: d.record_stop(), 10.0, force=True)
    status = await session.call(lambda d: d.record_status(), 10.0, force=True)
    result: dict[str, Any] = {"recorder": rec, "status": status}
    reported = str(status.get("last_file") or before.get("file") or "")
    folder = recordings_folder(session.spec.endpoint.options, agent.resolved)
    try:
        name = file_name(reported)
        if folder is None:
            raise RecordingUnavailable(f"{rec}: no recordings_dir option says where its files are")
        recorded = await asyncio.to_thread(checksum, folder / name)
        result.update(file=name, size=recorded.size, duration=float(before.get("elapsed") or 0),
                      sha256=recorded.sha256)
        meeting_id = cmd.args.get("meeting_id")
        if meeting_id and agent.config.central:
            left = (cmd.deadline - datetime.now(UTC)).total_seconds()
            result["archived"] = await upload(agent.config.central, agent.config.token, str(meeting_id),
                                              recorded, within=max(1.0, left - 1.0))
    except RecordingUnavailable as exc:
        raise CommandFailed(str(exc), result) from exc
    return result


async def h_apply_config(agent: Any, cmd: Command) -> dict[str, Any]:
    if not cmd.device:
        raise CommandFailed("apply_config needs a device")
    device = agent.site.device(cmd.device).id
    config = dict(cmd.args.get("config") or {})
    report = await agent.session(device).call(lambda d: d.apply_config(config), 30.0, force=True)
    result = {"changes": [{"key": c.key, "old": c.old, "new": c.new} for c in report.changes],
              "verified": report.verified, "rolled_back": report.rolled_back,
              "mismatches": {k: list(v) for k, v in report.mismatches.items()}}
    if not report.verified:
        raise CommandFailed(f"{device}: read-back differs for {', '.join(report.mismatches)}", result)
    return result


async def h_uplink_test(agent: Any, cmd: Command) -> dict[str, Any]:
    if agent.uplink_probe is None:
        raise CommandFailed("no uplink measurement available on this agent")
    return dict(await agent.uplink_probe())


async def h_relocate_plan(agent: Any, cmd: Command) -> dict[str, Any]:
    return await agent.relocate(cmd.args, dry_run=True)


async def h_relocate_apply(agent: Any, cmd: Command) -> dict[str, Any]:
    result = await agent.relocate(cmd.args, dry_run=False)
    if not result.get("ok"):
        raise CommandFailed(result.get("error") or "relocation failed", result)
    return result


HANDLERS: dict[str, Handler] = {
    "reboot": h_reboot, "power_cycle": h_power_cycle, "selftest": h_selftest, "prepare": h_prepare,
    "connect": h_connect, "disconnect": h_disconnect, "standby": h_standby,
    "record_start": h_record_start, "record_stop": h_record_stop, "apply_config": h_apply_config,
    "uplink_test": h_uplink_test, "relocate_plan": h_relocate_plan, "relocate_apply": h_relocate_apply,
}

__all__ = ["HANDLERS", "power_cycle", "reboot", "run_steps", "wait_until_state", "Awaitable"]
