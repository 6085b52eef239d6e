"""Property tests (hypothesis) of the router drivers' text parsers, both dialects: a shown
configuration of any text becomes blocks and structured data without an exception, ping output
gives figures or a ``DeviceError``, and well-formed output is read back exactly. The parsers are
called on drivers built without I/O (constructors never connect)."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from drivers.errors import DeviceError
from drivers.roles import Endpoint
from drivers.routers import CiscoIosRouterDriver, HuaweiVrpRouterDriver, NetmikoRouterDriver

SETTINGS = settings(max_examples=200, derandomize=True, database=None, deadline=None)
DIALECTS = [CiscoIosRouterDriver, HuaweiVrpRouterDriver]

#: config-like text: keywords the parsers look for, mixed with anything
WORDS = st.sampled_from(["interface", "GigabitEthernet0/0/1", "ip", "address", "route", "route-static",
                         "name-server", "dns", "server", "ntp", "ntp-service", "unicast-server",
                         "hostname", "sysname", "description", "shutdown", "10.1.2.3", "255.255.255.0",
                         "0.0.0.0", "!", "#", "return", "quit", ""])
LINE = st.one_of(st.lists(WORDS, max_size=6).map(" ".join),
                 st.lists(WORDS, max_size=6).map(lambda w: " " + " ".join(w)),
                 st.text(max_size=30))
CONFIG = st.lists(LINE, max_size=30).map("\n".join)


def driver(cls: type[NetmikoRouterDriver]) -> NetmikoRouterDriver:
    endpoint = Endpoint(transport="ssh", host="127.0.0.1", port=22, username="u", password="p")
    return cls(endpoint, name="router")


@pytest.mark.parametrize("cls", DIALECTS)
@SETTINGS
@given(text=CONFIG)
def test_any_shown_configuration_parses(cls: type[NetmikoRouterDriver], text: str) -> None:
    drv = driver(cls)
    blocks = drv.blocks(text)
    assert "" in blocks and all(isinstance(lines, list) for lines in blocks.values())
    data = drv.structured(blocks)
    assert set(data) >= {"hostname", "interfaces", "routes", "dns", "ntp"}
    for iface in data["interfaces"].values():
        assert iface["address"] is None or "/" in iface["address"]


@pytest.mark.parametrize("cls", DIALECTS)
@SETTINGS
@given(text=st.text(max_size=300))
def test_any_ping_output_gives_figures_or_a_device_error(cls: type[NetmikoRouterDriver], text: str) -> None:
    try:
        result = driver(cls).parse_ping("10.0.0.1", 5, text)
    except DeviceError:
        return
    assert result["sent"] >= 0 and result["received"] >= 0


def ios_ping(sent: int, received: int, rtt: tuple[int, int, int] | None) -> str:
    figures = f", round-trip min/avg/max = {rtt[0]}/{rtt[1]}/{rtt[2]} ms" if rtt else ""
    return (f"Type escape sequence to abort.\nSending {sent}, 100-byte ICMP Echos to 10.0.0.1:\n"
            f"{'!' * received}{'.' * (sent - received)}\n"
            f"Success rate is {100 * received // sent} percent ({received}/{sent}){figures}\n")


def vrp_ping(sent: int, received: int, rtt: tuple[int, int, int] | None) -> str:
    lost = 100 * (sent - received) // sent
    figures = f"\n    round-trip min/avg/max = {rtt[0]}/{rtt[1]}/{rtt[2]} ms" if rtt else ""
    return (f"  PING 10.0.0.1: 56  data bytes, press CTRL_C to break\n"
            f"  --- 10.0.0.1 ping statistics ---\n    {sent} packet(s) transmitted\n"
            f"    {received} packet(s) received\n    {lost}.00% packet loss{figures}\n")


COUNTS = st.integers(1, 1000).flatmap(lambda sent: st.tuples(st.just(sent), st.integers(0, sent)))
RTT = st.none() | st.tuples(st.integers(0, 5000), st.integers(0, 5000), st.integers(0, 5000))


@pytest.mark.parametrize(("cls", "render"),
                         [(CiscoIosRouterDriver, ios_ping), (HuaweiVrpRouterDriver, vrp_ping)])
@SETTINGS
@given(counts=COUNTS, rtt=RTT)
def test_well_formed_ping_output_reads_back(cls: type[NetmikoRouterDriver], render, counts, rtt) -> None:
    sent, received = counts
    result = driver(cls).parse_ping("10.0.0.1", sent, render(sent, received, rtt))
    assert (result["sent"], result["received"]) == (sent, received)
    assert 0 <= result["loss"] <= 1
    if rtt and received:
        assert (result["rtt_min_ms"], result["rtt_ms"], result["rtt_max_ms"]) == rtt


@pytest.mark.parametrize("cls", DIALECTS)
@SETTINGS
@given(text=st.text(max_size=200))
@example(text="Success rate is 100 percent (7/5)\n5 packet(s) transmitted\n7 packet(s) received\n")
def test_loss_of_any_ping_output_is_a_share(cls: type[NetmikoRouterDriver], text: str) -> None:
    try:
        result = driver(cls).parse_ping("10.0.0.1", 5, text)
    except DeviceError:
        return
    assert 0 <= result["loss"] <= 1 and result["received"] <= result["sent"]
