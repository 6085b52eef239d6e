"""Availability from observed time, against timelines computed by hand.

The pure computation first (minutes added up on paper), then the same timeline driven through
central's ingest path, the maintenance service and the agent link record, read back from the site
page's API and from the annual report: one computation, one answer.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest

from central.models import MaintenanceWindow, utcnow
from central.services import availability
from central.services.availability import DeviceTimeline
from central.services.ingest import OrchestrationLimits, ingest
from contracts.messages import DeviceInfo, DeviceStatus, Event, Hello, Status
from tests.central.helpers import PASSWORD, RunningServer, Seeded

LIMITS = OrchestrationLimits(command_deadline_seconds=10.0, default_multisite_capacity=4)
MIN = 60.0


def hm(base: datetime, hours: int, minutes: int = 0) -> datetime:
    return base + timedelta(hours=hours, minutes=minutes)


def test_hand_computed_timeline() -> None:
    """A 10-hour window, minute by minute on paper:

    00:00-00:30 agent off-line; codec, router and camera first report at 01:00;
    codec: up, rebooted 03:00-03:20 (down 03:05-03:15 inside the window), down 05:00-06:00, up after;
    camera silent from its first report; agent off-line again 08:00-08:30.

    codec  : unknown 00-01 (60) + 08:00-08:30 (30) = 90; maintenance 20; down 60; up 430
    camera : unknown 90; down 420 + 90 = 510; up 0
    site   : codec and router critical, the camera is not: the same as the codec
    """
    t0 = datetime(2026, 3, 2, tzinfo=UTC)
    codec = DeviceTimeline(
        spans=[
            (hm(t0, 1), hm(t0, 3, 5), True),
            (hm(t0, 3, 5), hm(t0, 3, 15), False),
            (hm(t0, 3, 15), hm(t0, 5), True),
            (hm(t0, 5), hm(t0, 6), False),
            (hm(t0, 6), hm(t0, 10), True),
        ],
        maintenance=[(hm(t0, 3), hm(t0, 3, 20))],
    )
    router = DeviceTimeline(spans=[(hm(t0, 1), hm(t0, 10), True)])
    camera = DeviceTimeline(spans=[(hm(t0, 1), hm(t0, 10), False)])
    present = [(hm(t0, 0, 30), hm(t0, 8)), (hm(t0, 8, 30), hm(t0, 10))]
    devices, site = availability.shares(
        t0,
        hm(t0, 10),
        {"s.codec": codec, "s.router": router, "s.camera1": camera},
        {"s.codec", "s.router"},
        present,
    )
    c = devices["s.codec"]
    assert (c.up, c.down, c.maintenance, c.unknown) == (430 * MIN, 60 * MIN, 20 * MIN, 90 * MIN)
    assert c.availability == pytest.approx(430 / 490)
    cam = devices["s.camera1"]
    assert (cam.up, cam.down, cam.maintenance, cam.unknown) == (0, 510 * MIN, 0, 90 * MIN)
    assert cam.availability == 0.0
    r = devices["s.router"]
    assert (r.up, r.down, r.unknown) == (510 * MIN, 0, 90 * MIN)
    assert (site.up, site.down, site.maintenance, site.unknown) == (430 * MIN, 60 * MIN, 20 * MIN, 90 * MIN)
    assert site.availability == pytest.approx(430 / 490)  # one silent camera does not sink the site
    # nothing observed at all: no figure rather than 100 %
    assert availability.shares(t0, hm(t0, 1), {"s.codec": codec}, {"s.codec"}, None)[1].availability is None


@pytest.fixture
def http(server: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        yield client


def send(server: RunningServer, site: str, msg: object) -> None:
    with server.ctx.unit() as session:
        ingest(session, site, msg, LIMITS)


def test_site_strip_and_annual_report_agree_with_the_hand_computed_day(
    server: RunningServer, seeded: Seeded, http: httpx.Client
) -> None:
    site = "lhasa"
    tz = ZoneInfo("Asia/Shanghai")
    now = utcnow()
    today = now.astimezone(tz).replace(hour=0, minute=0, second=0, microsecond=0)
    y = today - timedelta(days=1)  # yesterday 00:00, site time
    if y.year != today.year:
        pytest.skip("the annual comparison needs yesterday in this year")
    with server.ctx.unit() as session:
        availability.record_link(session, site_id=site, connected=True, at=hm(y, 0, 30))
        availability.record_link(session, site_id=site, connected=False, at=hm(y, 8))
        availability.record_link(session, site_id=site, connected=True, at=hm(y, 8, 30))
        session.add(
            MaintenanceWindow(
                site_id=site,
                device_id=f"{site}.codec",
                kind="reboot",
                actor="engineer",
                why="frozen",
                started_at=hm(y, 3),
                ended_at=hm(y, 3, 20),
                outcome="succeeded",
            )
        )
    send(
        server,
        site,
        Hello(
            site=site,
            agent_version="t",
            devices=[
                DeviceInfo(id=f"{site}.codec", model="m", roles=["codec"]),
                DeviceInfo(id=f"{site}.router", model="m", roles=["router"]),
                DeviceInfo(id=f"{site}.camera1", model="m", roles=["camera"]),
            ],
        ),
    )
    send(
        server,
        site,
        Status(
            site=site,
            sent_at=hm(y, 1),
            devices=[
                DeviceStatus(id=f"{site}.codec", up=True, verdict="ok", since=hm(y, 1)),
                DeviceStatus(id=f"{site}.router", up=True, verdict="ok", since=hm(y, 1)),
                DeviceStatus(
                    id=f"{site}.camera1",
                    up=False,
                    verdict="down",
                    reasons=["timeout: no reply"],
                    since=hm(y, 1),
                ),
            ],
        ),
    )
    for at, kind in (
        (hm(y, 3, 5), "device_down"),
        (hm(y, 3, 15), "device_up"),
        (hm(y, 5), "device_down"),
        (hm(y, 6), "device_up"),
    ):
        send(server, site, Event(site=site, kind=kind, device=f"{site}.codec", at=at, sent_at=at))
    # the reboot's outage was planned work: the only codec fault is the unplanned 05:00-06:00 one
    auth = {
        "Authorization": "Bearer "
        + http.post("/api/v1/auth/token", data={"username": "viewer", "password": PASSWORD}).json()[
            "access_token"
        ]
    }
    faults = http.get("/api/v1/faults", params={"device": f"{site}.codec"}, headers=auth).json()
    assert [(f["opened_at"][:16], f["closed_at"][:16]) for f in faults] == [
        (hm(y, 5).astimezone(UTC).isoformat()[:16], hm(y, 6).astimezone(UTC).isoformat()[:16])
    ]

    body = http.get(f"/api/v1/sites/{site}/availability", params={"days": 3}, headers=auth).json()
    assert body["days"] == [
        (y - timedelta(days=1)).date().isoformat(),
        y.date().isoformat(),
        today.date().isoformat(),
    ]
    before, yesterday, _ = body["daily"]
    assert before["availability"] is None and before["unknown_s"] == 24 * 3600  # grey, never "up"
    # yesterday: the hand-computed 10 hours, then up until midnight (14 h)
    assert yesterday["up_s"] == pytest.approx((430 + 14 * 60) * MIN)
    assert (yesterday["down_s"], yesterday["maintenance_s"], yesterday["unknown_s"]) == (
        60 * MIN,
        20 * MIN,
        90 * MIN,
    )
    camera = next(d for d in body["devices"] if d["id"] == f"{site}.camera1")
    assert camera["critical"] is False and camera["availability"] == 0.0 and camera["name"] == "摄像机 1"
    assert camera["daily"][1]["down_s"] == pytest.approx((510 + 14 * 60) * MIN)
    # the annual report reads the same computation: nothing was observed before yesterday
    report = http.get(
        "/api/v1/reports/annual", params={"year": today.year, "sites": site}, headers=auth
    ).json()
    figure = report["sites"][0]
    assert figure["availability"] == pytest.approx(body["availability"], rel=1e-6)
    assert figure["downtime_hours"] == pytest.approx(1.0)
    assert [(m["kind"], m["device_id"]) for m in report["maintenance"]] == [("reboot", f"{site}.codec")]
    assert figure["faults"] == 2  # the codec's unplanned outage and the silent camera; not the reboot
    csv = http.get(
        "/api/v1/reports/annual",
        params={"year": today.year, "sites": site, "format": "csv", "lang": "en"},
        headers=auth,
    )
    assert csv.status_code == 200 and "Planned maintenance" in csv.text and "frozen" in csv.text


async def test_agent_link_spans_follow_the_real_link(server: RunningServer, seeded: Seeded) -> None:
    """Central records when the agent was on-line (outside it, device time is unknown)."""
    from sqlalchemy import select

    from central.models import AgentLinkSpan
    from tests.central.helpers import FakeAgent, wait_for

    def spans() -> list[tuple[bool, bool]]:
        with server.ctx.unit() as session:
            rows = session.scalars(
                select(AgentLinkSpan).where(AgentLinkSpan.site_id == "kunming").order_by(AgentLinkSpan.id)
            )
            return [(r.started_at is not None, r.ended_at is not None) for r in rows]

    agent = await FakeAgent(server.ws_url, "kunming", seeded.tokens["kunming"]).connect()

    async def opened() -> bool:
        return spans() == [(True, False)]

    await wait_for(opened, 10, "an open link span")
    await agent.close()

    async def closed() -> bool:
        return spans() == [(True, True)]

    await wait_for(closed, 10, "the link span closed")
