"""Relocation end to end on a simulated room: discovery by identity, safe order, read-back, rollback."""

from __future__ import annotations

from dataclasses import replace

from agent.relocation import discover
from agent.runtime import Agent, AgentConfig
from agent.session import default_driver_factory
from agent.site import SiteSpec
from tests.agent.conftest import SITE, SimSite
from tests.agent.fakes import LineSimulator

MOVING = ("codec", "camera", "switcher", "display")


def venue_target(site: SimSite, loopback_factory) -> tuple[SiteSpec, dict[str, str]]:
    new_hosts = {name: loopback_factory() for name in MOVING}
    devices = []
    for dev in site.spec.devices:
        name = dev.id.split(".")[-1]
        for sim in site.sims.values():
            sim.settings.setdefault("gateway", "10.0.0.1")
        if name in new_hosts:
            moved = dev.at(new_hosts[name])
            devices.append(replace(moved, desired={"gateway": "10.9.0.1", "net.address": new_hosts[name]}))
        else:
            devices.append(replace(dev, desired={"gateway": "10.9.0.1"}))
    return replace(site.spec, devices=tuple(devices)), new_hosts


async def test_relocation_end_to_end(sim_site: SimSite, loopback_factory, tmp_path) -> None:
    target, new_hosts = venue_target(sim_site, loopback_factory)
    agent = Agent(sim_site.spec, AgentConfig(state_dir=tmp_path, poll_interval=0))
    await agent.start()
    try:
        plan = await agent.relocate({"target": target}, dry_run=True)
        assert plan["ok"] and plan["dry_run"]
        codec_plan = next(p for p in plan["plan"] if p["device"] == f"{SITE}.codec")
        assert codec_plan["moves"] and codec_plan["address"]["net.address"]["wanted"] == new_hosts["codec"]
        assert sim_site.sim("codec").host != new_hosts["codec"]          # dry run changed nothing
        result = await agent.relocate({"target": target}, dry_run=False)
        assert result["ok"], result
        for name, host in new_hosts.items():
            assert sim_site.sim(name).host == host
            assert sim_site.sim(name).settings["gateway"] == "10.9.0.1"
        assert sim_site.sim("pdu").settings["gateway"] == "10.9.0.1"
        assert result["selftest"]["verdict"] == "ready"
        assert agent.last_selftest.trigger == "relocation"
        steps = result["steps"]
        # every ordinary setting before any management address
        first_address = min(i for i, s in enumerate(steps) if " address " in s)
        assert all(i < first_address for i, s in enumerate(steps) if "applied gateway" in s)
        assert agent.session("codec").spec.endpoint.host == new_hosts["codec"]
    finally:
        await agent.stop()


async def test_verification_failure_midway_rolls_back(sim_site: SimSite, loopback_factory, tmp_path) -> None:
    target, new_hosts = venue_target(sim_site, loopback_factory)
    old_hosts = {name: sim_site.sim(name).host for name in MOVING}
    sim_site.sim("display").set_fault("stuck", "net.address")     # says OK, never moves
    agent = Agent(sim_site.spec, AgentConfig(state_dir=tmp_path, poll_interval=0))
    await agent.start()
    try:
        result = await agent.relocate({"target": target}, dry_run=False)
        assert not result["ok"] and result["rolled_back"]
        assert "display" in result["error"]
        assert result["rollback_errors"] == []
        for name in MOVING:
            assert sim_site.sim(name).host == old_hosts[name], name
            assert sim_site.sim(name).settings["gateway"] == "10.0.0.1", name
        assert agent.site is sim_site.spec
        report = await agent.selftest()
        assert report.verdict == "ready"
    finally:
        await agent.stop()


async def test_unknown_device_at_expected_address_is_reported(sim_site: SimSite, loopback_factory) -> None:
    target, new_hosts = venue_target(sim_site, loopback_factory)
    with LineSimulator(name="stranger", serial="SOMEONE-ELSE", host=new_hosts["switcher"],
                       port=sim_site.sim("switcher").port_bound):
        sim_site.sim("switcher").stop()                             # the real one is unplugged
        plans = {p.device: p for p in await discover(sim_site.spec, target, default_driver_factory)}
    sw = plans[f"{SITE}.switcher"]
    assert sw.found_at is None and sw.problem
    assert any("SOMEONE-ELSE" in s for s in sw.strangers)
    assert plans[f"{SITE}.codec"].found_at == sim_site.sim("codec").host
