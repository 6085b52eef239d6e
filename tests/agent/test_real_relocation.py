"""Relocation end to end: the urumqi room moves to its convention-centre venue, with the real
simulators and the venue profile. Units whose address can be set over their protocol (the codec,
the Extron switcher) are moved by the agent; the others (PJLink displays, VISCA-over-IP camera,
router and PDU: their drivers have no address setting) are re-addressed by the venue's installer,
and the agent finds them by identity at their new addresses."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from agent.profiles import load_venue
from tests.agent.real_sites import SiteCopy, agent_for, make_test_site, served

pytestmark = pytest.mark.timeout(120)

SITE = "urumqi"
#: devices the agent can re-address itself (network.* keys of the codec and the Extron switcher);
#: the rest are moved by hand
AGENT_MOVES = {f"{SITE}.codec", f"{SITE}.switcher"}


def relocate(ts: SiteCopy, state: Path, *, dry_run: bool) -> tuple[dict[str, Any], dict[str, str]]:
    """Run the relocation; also return where the agent's sessions point afterwards."""
    async def go() -> tuple[dict[str, Any], dict[str, str]]:
        agent = agent_for(ts.load(), state)
        try:
            result = await agent.relocate({"venue": ts.venue_file.stem}, dry_run=dry_run)
            return result, {i: s.spec.endpoint.host for i, s in agent.sessions.items()}
        finally:
            await agent.stop()

    return asyncio.run(go())


def venue_addresses(ts: SiteCopy) -> dict[str, str]:
    return dict(load_venue(ts.venue_file, ts.load()).addresses)


def with_switcher_network(ts: SiteCopy) -> SiteCopy:
    """Give the switcher a ``network`` block in the site profile, so the venue's netmask and
    gateway go along with its address (without one only the address moves)."""
    text = ts.site_file.read_text(encoding="utf-8")
    head = text.index("\n  - id: switcher\n")
    desired = text.index("\n    desired:\n", head) + len("\n    desired:\n")
    block = f"      network: {{netmask: 255.255.255.0, gateway: {ts.site_prefix}1}}\n"
    ts.site_file.write_text(text[:desired] + block + text[desired:], encoding="utf-8")
    return ts


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
    switcher = plans[f"{SITE}.switcher"]             # the shipped profile: the address alone
    assert switcher["problem"] == "" and switcher["found_at"] == ts.site_prefix + "13"
    assert switcher["address"] == {"network.ipv4.address": {"now": ts.site_prefix + "13",
                                                            "wanted": ts.venue_prefix + "13"}}
    assert after == before


def test_relocation_moves_the_room_verifies_and_self_tests(tmp_path: Path) -> None:
    ts = with_switcher_network(make_test_site(tmp_path))
    addresses = venue_addresses(ts)
    with served(ts.load()) as sim:
        move_by_hand(sim, addresses)
        switcher_sim = sim.simulators[f"{SITE}.switcher"]
        assert switcher_sim.host == ts.site_prefix + "13"      # still where the old room had it
        plan, _ = relocate(ts, tmp_path / "state", dry_run=True)
        assert plan["ok"], plan
        result, sessions = relocate(ts, tmp_path / "state", dry_run=False)
        hosts = {i: s.host for i, s in sim.simulators.items()}
        codec_settings = dict(sim.simulators[f"{SITE}.codec"].settings)
        video = dict(switcher_sim.video)
        switcher_net = (switcher_sim.ip_address, switcher_sim.subnet, switcher_sim.gateway)
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
    # the switcher took the venue's address, mask and gateway from the agent, and answers there
    assert switcher_net == (ts.venue_prefix + "13", "255.255.255.0", ts.venue_prefix + "1")
    assert f"{SITE}.switcher: address {ts.site_prefix}13 -> {ts.venue_prefix}13" in result["steps"]
    assert f"{SITE}.switcher: verified at telnet://{ts.venue_prefix}13:2323" in result["steps"]
    # the venue's wiring: output 4 (codec content) takes the wall plate, input 3
    assert {out: video[out] for out in (1, 2, 4)} == {1: 1, 2: 1, 4: 3}
    assert f"{SITE}.switcher: applied routes" in result["steps"]
    sip_password = ts.load().device("codec").resolved_desired()["sip"]["password"]
    assert sip_password and sip_password not in str(result) + str(plan)


def test_a_verification_failure_midway_is_rolled_back(tmp_path: Path) -> None:
    """The codec takes its new address but keeps its DNS server (provisioning owns it): its
    read-back at the venue differs, so everything applied (switcher ties, the codec's and the
    switcher's addresses) is put back and the room answers on its old addresses again."""
    ts = make_test_site(tmp_path)
    addresses = venue_addresses(ts)
    codec_id = f"{SITE}.codec"
    with served(ts.load(), faults={codec_id: ["config-lock=network.dns"]}) as sim:
        codec = sim.simulators[codec_id]
        switcher = sim.simulators[f"{SITE}.switcher"]
        move_by_hand(sim, addresses)
        routes_before = dict(switcher.video)
        result, sessions = relocate(ts, tmp_path / "state", dry_run=False)
        codec_host, switcher_host = codec.host, switcher.host
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
    assert f"{SITE}.switcher: address {ts.site_prefix}13 -> {ts.venue_prefix}13" in steps
    assert f"{SITE}.switcher: restored network.ipv4.address" in steps
    assert switcher_host == ts.site_prefix + "13"         # the switcher too
    assert sessions[f"{SITE}.switcher"] == ts.site_prefix + "13"
    assert routes_after == routes_before
