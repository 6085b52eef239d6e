"""A simulated room for agent tests: six line-protocol devices, each on its own loopback address."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest

from agent.session import DeviceSession
from agent.site import OutletRef, RoomState, SiteSpec
from tests.agent.fakes import LineSimulator, device_spec

SITE = "testsite"


@dataclass
class SimSite:
    spec: SiteSpec
    sims: dict[str, LineSimulator]
    sessions: dict[str, DeviceSession] = field(default_factory=dict)

    def sim(self, name: str) -> LineSimulator:
        return self.sims[name]

    def open_sessions(self) -> dict[str, DeviceSession]:
        self.sessions = {d.id: DeviceSession(d) for d in self.spec.devices}
        return self.sessions

    def close_sessions(self) -> None:
        for s in self.sessions.values():
            s.close()
        self.sessions = {}


def build_site(loopback_factory: Callable[[], str], stack: contextlib.ExitStack) -> SimSite:
    sims = {
        "pdu": LineSimulator(name="pdu", serial="PDU-1", host=loopback_factory()),
        "codec": LineSimulator(name="codec", serial="COD-1", host=loopback_factory(), password="s3cret-pw"),
        "camera": LineSimulator(name="camera", serial="CAM-1", host=loopback_factory()),
        "switcher": LineSimulator(name="switcher", serial="SW-1", host=loopback_factory()),
        "display": LineSimulator(name="display", serial="DSP-1", host=loopback_factory()),
        "recorder": LineSimulator(name="recorder", serial="REC-1", host=loopback_factory()),
    }
    for sim in sims.values():
        stack.enter_context(sim)
    for n, name in enumerate(("codec", "camera", "switcher", "display", "recorder"), start=1):
        sims["pdu"].wire(n, sims[name])
    devices = (
        device_spec(SITE, "codec", sims["codec"], {"codec"}, password="s3cret-pw",
                    outlet=OutletRef(f"{SITE}.pdu", 1), expect={"registered": True}),
        device_spec(SITE, "camera", sims["camera"], {"camera"}, via=f"{SITE}.codec",
                    outlet=OutletRef(f"{SITE}.pdu", 2), expect={"preset": 1}),
        device_spec(SITE, "switcher", sims["switcher"], {"switcher"}, outlet=OutletRef(f"{SITE}.pdu", 3)),
        device_spec(SITE, "display", sims["display"], {"display"}, outlet=OutletRef(f"{SITE}.pdu", 4)),
        device_spec(SITE, "recorder", sims["recorder"], {"recorder"}, outlet=OutletRef(f"{SITE}.pdu", 5)),
        device_spec(SITE, "pdu", sims["pdu"], {"power"}),
    )
    spec = SiteSpec(id=SITE, devices=devices,
                    room=RoomState(routes={1: 2, 2: 1}, camera_preset=1, display_input="31",
                                   codec_main_source=1, volume=50),
                    bridge_uri="meet@bridge.example")
    return SimSite(spec, sims)


@pytest.fixture
def sim_site(loopback_factory) -> Iterator[SimSite]:
    with contextlib.ExitStack() as stack:
        site = build_site(loopback_factory, stack)
        try:
            yield site
        finally:
            site.close_sessions()
