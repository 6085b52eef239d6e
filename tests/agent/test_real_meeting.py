"""Meeting commands against the shipped urumqi site served by the real simulators: calls belong to
their meeting, redial and mute, preparation beside the call with a broken projector, and a
self-test during a call."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from agent.runtime import Agent
from contracts.messages import Command, CommandResult, Event, parse_message
from tests.agent.real_sites import SiteCopy, agent_for, make_test_site, served

pytestmark = pytest.mark.timeout(180)
SITE = "urumqi"
CODEC = f"{SITE}.codec"


def command(kind: str, seconds: float = 60, **args: Any) -> Command:
    return Command(site=SITE, kind=kind, args=args, deadline=datetime.now(UTC) + timedelta(seconds=seconds))


def sent(agent: Agent) -> list[Any]:
    return [parse_message(p.body) for p in agent.outbox.pending(limit=10_000)]


async def run(agent: Agent, kind: str, **args: Any) -> CommandResult:
    cmd = command(kind, **args)
    await agent.on_command(cmd)
    await agent.commands.wait(cmd.command_id)
    return [m for m in sent(agent) if isinstance(m, CommandResult) and m.command_id == cmd.command_id][-1]


async def calls(agent: Agent) -> list[Any]:
    return [c for c in await agent.coordinators[CODEC].poll_calls() if c.state == "connected"]


def on_site(coro_factory: Any, site: SiteCopy, state: Path) -> Any:
    async def go() -> Any:
        agent = agent_for(site.load(), state)
        try:
            return await coro_factory(agent)
        finally:
            await agent.stop()

    return asyncio.run(go())


@pytest.fixture
def site_copy(tmp_path: Path) -> SiteCopy:
    # the projector gives up warming after 3 s (instead of 90) so the test does not wait long
    return make_test_site(tmp_path, devices={"display2": ["options: {warmup_timeout: 3}"]})


def test_a_hang_up_for_one_meeting_leaves_another_meetings_call(site_copy: SiteCopy, tmp_path: Path) -> None:
    async def scenario(agent: Agent) -> dict[str, Any]:
        out: dict[str, Any] = {}
        connected = await run(agent, "connect", meeting_id="meeting-b")
        assert connected.state == "succeeded", connected.error
        out["tagged"] = [c.meeting_id for c in await calls(agent)]
        other = await run(agent, "disconnect", meeting_id="meeting-a")
        out["after_a"] = (other.state, other.result.get("hung_up"), len(await calls(agent)))
        mine = await run(agent, "disconnect", meeting_id="meeting-b")
        out["after_b"] = (mine.state, mine.result.get("hung_up"), len(await calls(agent)))
        return out

    with served(site_copy.load()):
        out = on_site(scenario, site_copy, tmp_path / "state")
    assert out["tagged"] == ["meeting-b"]
    assert out["after_a"] == ("succeeded", 0, 1)         # meeting A's stop did not hang up B's call
    assert out["after_b"] == ("succeeded", 1, 0)


def test_redial_replaces_the_meetings_call_and_mute_reaches_the_codec(site_copy: SiteCopy,
                                                                      tmp_path: Path) -> None:
    async def scenario(agent: Agent) -> dict[str, Any]:
        first = await run(agent, "connect", meeting_id="m-1", mode="bridge")
        before = [c.call_id for c in await calls(agent)]
        again = await run(agent, "connect", meeting_id="m-1", mode="bridge", redial=True)
        after = [c.call_id for c in await calls(agent)]
        muted = await run(agent, "mute", meeting_id="m-1", on=True)
        unmuted = await run(agent, "mute", meeting_id="m-1", on=False)
        return {"first": first, "again": again, "before": before, "after": after, "muted": muted,
                "unmuted": unmuted}

    with served(site_copy.load()) as sim:
        codec = sim.simulators[CODEC]
        out = on_site(scenario, site_copy, tmp_path / "state")
        log = list(getattr(codec, "commands", []))
    assert out["first"].state == "succeeded" and out["again"].state == "succeeded", out["again"].error
    assert out["again"].result["hung_up"] == 1 and out["again"].result["call_state"] == "connected"
    assert len(out["before"]) == 1 and len(out["after"]) == 1 and out["before"] != out["after"]
    assert out["muted"].state == "succeeded" and out["muted"].result["muted"] is True
    assert out["unmuted"].state == "succeeded" and out["unmuted"].result["muted"] is False
    if log:
        assert any("Mute" in line for line in log), log


def test_prepare_does_not_wait_for_a_broken_projector(site_copy: SiteCopy, tmp_path: Path) -> None:
    """Power on refused (ERR4) with a lamp error: prepare answers once codec and router are ready,
    the projector's steps report "lamp error" beside the call, and the busy projector is not
    reported down by the health poll meanwhile."""
    async def scenario(agent: Agent) -> dict[str, Any]:
        await agent.poll_all()
        projector = agent.coordinators[f"{SITE}.display2"]
        up_before = projector.availability.state
        result = await run(agent, "prepare", meeting_id="m-1", mode="bridge", role="host")
        running = [t for t in agent.preparations.values() if not t.done()]
        held = projector.held_by
        await projector.poll()                    # the health poll while the command holds it
        up_during = projector.availability.state
        await asyncio.gather(*agent.preparations.values())
        return {"result": result, "running": len(running), "held": held, "up_before": up_before,
                "up_during": up_during, "events": [m for m in sent(agent) if isinstance(m, Event)]}

    faults = {f"{SITE}.display2": ["display-failure", "lamp-error"]}
    with served(site_copy.load(), faults=faults):
        out = on_site(scenario, site_copy, tmp_path / "state")
    result = out["result"]
    assert result.state == "succeeded", result.error
    assert {s["device"] for s in result.result["steps"]} == {CODEC, f"{SITE}.router"}
    assert out["running"] == 1 and out["held"] == "prepare"
    assert out["up_during"] == out["up_before"]
    downs = [e for e in out["events"] if e.kind == "device_down" and e.device == f"{SITE}.display2"]
    assert downs == []
    steps = [e for e in out["events"] if e.kind == "prepare_step" and e.device == f"{SITE}.display2"]
    power = [e.data for e in steps if e.data["step"] == "power on"]
    assert power[-1]["state"] == "failed" and "lamp error" in power[-1]["reason"], power
    assert "ERR4" in power[-1]["evidence"] or power[-1]["evidence"], power
    waiting = [e.data for e in steps if e.data["state"] == "waiting"]
    assert waiting and "lamp error" in waiting[0]["reason"] and waiting[0]["role"] == "display", steps
    others = [e.data for e in out["events"] if e.kind == "prepare_step" and e.device == f"{SITE}.display1"]
    assert others and others[-1]["state"] == "done"


def test_a_selftest_during_a_call_says_in_a_call(site_copy: SiteCopy, tmp_path: Path) -> None:
    async def scenario(agent: Agent) -> Any:
        connected = await run(agent, "connect", meeting_id="m-1")
        assert connected.state == "succeeded", connected.error
        return await agent.runner().run(trigger="on_demand")

    with served(site_copy.load()):
        report = on_site(scenario, site_copy, tmp_path / "state")
    codec = {c.name: c for c in report.checks if c.device == CODEC}
    for name in ("codec.idle", "codec.test_call"):
        assert codec[name].status == "skip", codec[name]
        assert codec[name].reason.startswith("in a call"), codec[name]
        assert "m-1" in codec[name].reason
    assert codec["codec.registered"].status == "pass"
    assert not [c for c in report.checks if c.device == CODEC and c.status == "fail"]
