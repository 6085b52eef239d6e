"""Relocation end to end: the urumqi room moves to its convention-centre venue, with the real
simulators and the venue profile. Units whose address can be set over their protocol (the codec)
are moved by the agent; the others (PJLink displays, VISCA-over-IP camera, Extron switcher, router
and PDU: their drivers have no address setting) are re-addressed by the venue's installer, and the
agent finds them by identity at their new addresses."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from agent.profiles import load_venue
from tests.agent.real_sites import SiteCopy, agent_for, make_test_site, served

pytestmark = pytest.mark.timeout(120)

SITE = "urumqi"
#: devices the agent can re-address itself (codec network.* keys); the rest are moved by hand
AGENT_MOVES = {f"{SITE}.codec"}


def relocate(ts: SiteCopy, state: Path, *, dry_run: bool) -> tuple[dict[str, Any], dict[str, str]]:
    """Run the relocation; also return where the agent's sessions point afterwards."""
    async def go() -> tuple[dict[str, Any], dict[str, str]]:
        agent = agent_for(ts.load(), state)
        try:
            result = await agent.relocate({"venue": str(ts.venue_file)}, dry_run=dry_run)
            return result, {i: s.spec.endpoint.host for i, s in agent.sessions.items()}
        finally:
            await agent.stop()

    return asyncio.run(go())


def venue_addresses(ts: SiteCopy) -> dict[str, str]:
    return dict(load_venue(ts.venue_file, ts.load()).addresses)


def move_by_hand(sim: Any, addresses: dict[str, str]) -> None:
    for device, host in addresses.items():
        if device not in AGENT_MOVES:
            sim.simulators[device].move_to(host)


def test_units_without_an_address_setting_are_reported_not_touched(tmp_path: Path) -> None:
    ts = make_test_site(tmp_path)
    with served(ts.load()) as sim:
        before = {i: s.host for i, s in sim.simulators.items()}
        result, _ = relocate(ts, tmp_path / "state", dry_run=True)
        after = {i: s.host for i, s in sim.simulators.items()}
    assert result["ok"] is False and result["dry_run"] is True
    plans = {p["device"]: p for p in result["plan"]}
    for device in venue_addresses(ts).keys() - AGENT_MOVES:
        assert "cannot be changed over its protocol" in plans[device]["problem"], plans[device]
    codec = plans[f"{SITE}.codec"]
    assert codec["problem"] == "" and codec["found_at"] == ts.site_prefix + "10"
    assert codec["address"]["network.ipv4.address"]["wanted"] == ts.venue_prefix + "10"
    assert codec["address"]["network.ipv4.gateway"]["wanted"] == ts.venue_prefix + "1"
    assert after == before


def test_relocation_moves_the_room_verifies_and_self_tests(tmp_path: Path) -> None:
    ts = make_test_site(tmp_path)
    addresses = venue_addresses(ts)
    with served(ts.load()) as sim:
        move_by_hand(sim, addresses)
        plan, _ = relocate(ts, tmp_path / "state", dry_run=True)
        assert plan["ok"], plan
        result, sessions = relocate(ts, tmp_path / "state", dry_run=False)
        hosts = {i: s.host for i, s in sim.simulators.items()}
        codec_settings = dict(sim.simulators[f"{SITE}.codec"].settings)
        video = dict(sim.simulators[f"{SITE}.switcher"].video)
    assert result["ok"], result
    assert result["rolled_back"] is False
    assert result["selftest"]["verdict"] == "ready", result
    for device, host in addresses.items():
        assert hosts[device] == host, device          # every simulator serves on the venue plan
        assert sessions[device] == host, device       # and the agent talks to it there
    assert codec_settings["network.ipv4.address"] == ts.venue_prefix + "10"
    assert codec_settings["network.ipv4.gateway"] == ts.venue_prefix + "1"
    assert codec_settings["network.dns"] == ts.venue_prefix + "53"
    assert codec_settings["sip.proxy"] == "sip.roomops.example"
    assert f"{SITE}.codec: verified at ssh://admin@{ts.venue_prefix}10:2222" in result["steps"]
    # the venue's wiring: output 4 (codec content) takes the wall plate, input 3
    assert {out: video[out] for out in (1, 2, 4)} == {1: 1, 2: 1, 4: 3}
    assert f"{SITE}.switcher: applied routes" in result["steps"]
    sip_password = ts.load().device("codec").resolved_desired()["sip"]["password"]
    assert sip_password and sip_password not in str(result) + str(plan)


def test_a_verification_failure_midway_is_rolled_back(tmp_path: Path) -> None:
    """The codec takes its new address but keeps its DNS server (provisioning owns it): its
    read-back at the venue differs, so everything applied (switcher ties, the codec's address)
    is put back and the room answers on its old addresses again."""
    ts = make_test_site(tmp_path)
    addresses = venue_addresses(ts)
    codec_id = f"{SITE}.codec"
    with served(ts.load(), faults={codec_id: ["config-lock=network.dns"]}) as sim:
        codec = sim.simulators[codec_id]
        switcher = sim.simulators[f"{SITE}.switcher"]
        move_by_hand(sim, addresses)
        routes_before = dict(switcher.video)
        result, sessions = relocate(ts, tmp_path / "state", dry_run=False)
        codec_host = codec.host
        routes_after = dict(switcher.video)
    assert result["ok"] is False and result["rolled_back"] is True, result
    assert "network.dns" in result["error"]
    assert result["rollback_errors"] == [], result
    steps = result["steps"]
    assert any("address" in s and codec_id in s for s in steps), steps
    assert f"{SITE}.switcher: restored routes" in steps
    assert f"{codec_id}: restored " in " ".join(steps)
    assert codec_host == ts.site_prefix + "10"            # moved back to where it was
    assert sessions[codec_id] == ts.site_prefix + "10"
    assert routes_after == routes_before
