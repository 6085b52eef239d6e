"""Remote commands against a simulated room: at-most-once, reboot with the PDU fallback, prepare."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from agent.runtime import Agent, AgentConfig
from contracts.messages import Command, CommandResult
from tests.agent.conftest import SITE, SimSite


def results(agent: Agent, command_id: str) -> list[CommandResult]:
    from contracts.messages import parse_message

    msgs = [parse_message(p.body) for p in agent.outbox.pending(limit=10_000)]
    return [m for m in msgs if isinstance(m, CommandResult) and m.command_id == command_id]


def command(kind: str, device: str | None = None, seconds: float = 20, **args) -> Command:
    return Command(site=SITE, kind=kind, device=device, args=args,
                   deadline=datetime.now(UTC) + timedelta(seconds=seconds))


def fast_reboots(site: SimSite) -> SimSite:
    """Short boot times and probe intervals so reboots finish in about a second."""
    devices = []
    for d in site.spec.devices:
        ep = replace(d.endpoint, boot_time=2.0, options={**d.endpoint.options, "reboot_ack_seconds": 0.6,
                                                          "probe_interval": 0.05, "power_off_seconds": 0.1})
        devices.append(replace(d, endpoint=ep))
    site.spec = replace(site.spec, devices=tuple(devices))
    return site


@pytest.fixture
async def agent(sim_site: SimSite, tmp_path):
    fast_reboots(sim_site)
    a = Agent(sim_site.spec, AgentConfig(state_dir=tmp_path, poll_interval=0))
    await a.start()
    yield a
    await a.stop()


async def test_reboot_comes_back(agent: Agent, sim_site: SimSite) -> None:
    cmd = command("reboot", "display")
    await agent.on_command(cmd)
    await agent.commands.wait(cmd.command_id)
    final = results(agent, cmd.command_id)[-1]
    assert final.state == "succeeded", final.error
    assert final.result["method"] == "reboot"
    assert sim_site.sim("display").boot_count == 1
    assert sim_site.sim("pdu").outlet_state[4] is True


async def test_ignored_reboot_falls_back_to_pdu_cycle(agent: Agent, sim_site: SimSite) -> None:
    sim_site.sim("switcher").set_fault("ignore-reboot")
    cmd = command("reboot", "switcher")
    await agent.on_command(cmd)
    await agent.commands.wait(cmd.command_id)
    final = results(agent, cmd.command_id)[-1]
    assert final.state == "succeeded", final.error
    assert final.result["fallback"] is True and final.result["method"] == "power_cycle"
    assert "ignored" in final.result["reason"]
    assert sim_site.sim("switcher").reboots_requested == 1
    assert sim_site.sim("switcher").boot_count == 1    # booted once: after the outlet came back


async def test_ignored_reboot_without_outlet_fails_with_reason(agent: Agent, sim_site: SimSite) -> None:
    sim_site.sim("pdu").set_fault("ignore-reboot")
    cmd = command("reboot", "pdu")
    await agent.on_command(cmd)
    await agent.commands.wait(cmd.command_id)
    final = results(agent, cmd.command_id)[-1]
    assert final.state == "failed" and "no PDU outlet" in (final.error or "")


async def test_command_runs_at_most_once(agent: Agent, sim_site: SimSite) -> None:
    cmd = command("reboot", "display")
    await agent.on_command(cmd)
    await agent.on_command(cmd)           # repeat while running: ignored
    await agent.commands.wait(cmd.command_id)
    await agent.on_command(cmd)           # repeat after: the earlier result again
    states = [r.state for r in results(agent, cmd.command_id)]
    assert states == ["running", "succeeded", "succeeded"]
    assert results(agent, cmd.command_id)[-1].result.get("repeat") is True
    assert sim_site.sim("display").reboots_requested == 1


async def test_command_record_survives_restart(sim_site: SimSite, tmp_path) -> None:
    cmd = command("standby")
    a = Agent(sim_site.spec, AgentConfig(state_dir=tmp_path, poll_interval=0))
    await a.start()
    await a.on_command(cmd)
    await a.commands.wait(cmd.command_id)
    await a.stop()
    b = Agent(sim_site.spec, AgentConfig(state_dir=tmp_path, poll_interval=0))
    await b.start()
    try:
        await b.on_command(cmd)
        assert results(b, cmd.command_id)[-1].result.get("repeat") is True
        assert not b.commands._tasks
    finally:
        await b.stop()


async def test_expired_and_unknown_commands(agent: Agent) -> None:
    late = command("standby", seconds=-1)
    await agent.on_command(late)
    assert results(agent, late.command_id)[-1].state == "expired"
    odd = command("make_coffee")
    await agent.on_command(odd)
    await agent.commands.wait(odd.command_id)
    assert results(agent, odd.command_id)[-1].state == "failed"


async def test_prepare_connect_record(agent: Agent, sim_site: SimSite) -> None:
    sim_site.sim("display").settings["power"] = "off"
    for kind in ("prepare", "connect", "record_start"):
        cmd = command(kind)
        await agent.on_command(cmd)
        await agent.commands.wait(cmd.command_id)
        final = results(agent, cmd.command_id)[-1]
        assert final.state == "succeeded", (kind, final.error)
    await asyncio.gather(*getattr(agent, "preparations", {}).values())   # the room's part, beside the call
    codec, display, switcher = sim_site.sim("codec"), sim_site.sim("display"), sim_site.sim("switcher")
    assert codec.settings["standby"] == "off" and codec.settings["mute"] == "off"
    assert codec.settings["call"] == "meet@bridge.example"
    assert display.settings["power"] == "on" and display.settings["input"] == "31"
    assert switcher.settings["route.1"] == "2" and switcher.settings["route.2"] == "1"
    assert sim_site.sim("camera").settings["preset"] == "1"
    assert sim_site.sim("recorder").settings["record"] == "on"


async def test_prepare_reports_the_failing_step(agent: Agent, sim_site: SimSite) -> None:
    """A silent display does not fail the prepare (the call does not wait for it); its steps are
    reported failed beside the call, the switcher's done."""
    sim_site.sim("display").set_fault("silent")
    cmd = command("prepare", meeting_id="m-1")
    await agent.on_command(cmd)
    await agent.commands.wait(cmd.command_id)
    final = results(agent, cmd.command_id)[-1]
    assert final.state == "succeeded", final.error
    assert {s["device"] for s in final.result["steps"]} == {f"{SITE}.codec"}
    assert any(s["device"] == f"{SITE}.display" for s in final.result["beside"])
    await asyncio.gather(*agent.preparations.values())
    from contracts.messages import Event, parse_message

    steps = [m for m in (parse_message(p.body) for p in agent.outbox.pending(limit=10_000))
             if isinstance(m, Event) and m.kind == "prepare_step"]
    last = {(e.device, e.data["step"]): e.data for e in steps}
    assert last[(f"{SITE}.display", "power on")]["state"] == "failed"
    assert last[(f"{SITE}.display", "power on")]["meeting_id"] == "m-1"
    assert last[(f"{SITE}.switcher", "route 2->1")]["state"] == "done"


async def test_reboot_of_a_model_without_restart_command_is_a_power_cycle_and_says_so(
        agent: Agent, sim_site: SimSite) -> None:
    # the camera's model profile says it has no restart command (as VISCA cameras): reboot = power cut
    from agent.site import reboot_plan

    camera = agent.site.device(f"{SITE}.camera")
    agent.site = agent.site.replace_device(replace(camera, reboot_methods=()))
    agent.sessions[camera.id].spec = agent.site.device(camera.id)
    assert reboot_plan(agent.site.device(camera.id)) == ["power_cycle"]
    assert agent.hello().devices[1].capabilities["reboot_methods"] == ["power_cycle"]
    assert agent.hello().devices[0].capabilities["reboot_methods"] == ["command", "power_cycle"]
    # what central counts for the room's availability: the codec is critical, the camera is not
    assert [d.capabilities["critical"] for d in agent.hello().devices[:2]] == [True, False]
    cmd = command("reboot", "camera")
    await agent.on_command(cmd)
    await agent.commands.wait(cmd.command_id)
    final = results(agent, cmd.command_id)[-1]
    assert final.state == "succeeded", final.error
    assert final.result["method"] == "power_cycle" and final.result["fallback"] is False
    assert final.result["reason"] == "the model has no restart command"
    assert sim_site.sim("camera").reboots_requested == 0
