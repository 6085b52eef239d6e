"""What remote commands do to the room: reboot (with the PDU fallback), power-cycle, standby,
recording, configuration; the meeting commands (prepare, connect, disconnect, mute) are in
meeting_actions.py. Each handler is ``async (agent, command) -> result dict`` and raises
``CommandFailed`` when the goal was not met.

``agent`` is the running ``agent.runtime.Agent`` (sessions, site, self-test, relocation).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import Any

from agent.commands import CommandFailed, Handler
from agent.meeting_actions import (
    Step,
    _one,
    failed_steps,
    h_connect,
    h_disconnect,
    h_mute,
    h_prepare,
    prepare_steps,
    run_steps,
    warmup_seconds,
)
from agent.recordings import RecordingUnavailable, checksum, file_name, recordings_folder, upload
from agent.session import DeviceSession
from agent.site import reboot_plan
from contracts.messages import Command
from drivers.errors import DeviceError, DeviceTimeout, Disconnected
from drivers.roles import PowerOutlet


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


async def h_standby(agent: Any, cmd: Command) -> dict[str, Any]:
    on = bool(cmd.args.get("on", True))
    steps: list[Step] = [(c.id, "standby" if on else "wake", lambda d: d.standby(on))
                         for c in agent.site.with_role("codec")]
    if cmd.args.get("displays", True):
        steps += [(x.id, "display off" if on else "display on", lambda d: d.power(not on))
                  for x in agent.site.with_role("display")]
    steps_result = await run_steps(agent, steps, what="standby")
    failed_steps(steps_result, "standby")
    return {"steps": steps_result}


def _recording_meetings(agent: Any) -> dict[str, str]:
    """recorder id -> the meeting it records for (kept on the agent)."""
    owners: dict[str, str] | None = getattr(agent, "recording_meetings", None)
    if owners is None:
        owners = {}
        agent.recording_meetings = owners
    return owners


async def h_record_start(agent: Any, cmd: Command) -> dict[str, Any]:
    rec = _one(agent, cmd, "recorder")
    meeting_id = str(cmd.args.get("meeting_id") or "")
    owner = _recording_meetings(agent).get(rec)
    if meeting_id and owner and owner != meeting_id:
        raise CommandFailed(f"{rec} is recording meeting {owner}; not started for {meeting_id}",
                            {"recorder": rec, "recording_for": owner})
    await agent.session(rec).call(lambda d: d.record_start(), 10.0, force=True)
    status = await agent.session(rec).call(lambda d: d.record_status(), 10.0, force=True)
    if meeting_id:
        _recording_meetings(agent)[rec] = meeting_id
    return {"recorder": rec, "status": status}


async def h_record_stop(agent: Any, cmd: Command) -> dict[str, Any]:
    """Stop, then archive: the file's name, size, duration and SHA-256, uploaded to central when
    the command names a meeting and the agent has a central."""
    rec = _one(agent, cmd, "recorder")
    meeting_id = str(cmd.args.get("meeting_id") or "")
    owner = _recording_meetings(agent).get(rec)
    if meeting_id and owner and owner != meeting_id:     # another meeting's recording goes on
        raise CommandFailed(f"{rec} records meeting {owner}, not {meeting_id}: left running",
                            {"recorder": rec, "recording_for": owner})
    _recording_meetings(agent).pop(rec, None)
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
    "mute": h_mute,
}

__all__ = ["HANDLERS", "Awaitable", "Step", "power_cycle", "prepare_steps", "reboot", "run_steps",
           "wait_until_state", "warmup_seconds"]
