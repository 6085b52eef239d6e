"""A year of RoomOps history, seeded through central's ingest path under a clock the test advances.

Simulated sites send what their agents would send (contracts messages: hello, selftest reports,
device events, call states, command results) into ``central.services.ingest``; the secretariat's
meetings go through the meeting service (create, start, stop), so commands are queued and
answered as in production. Everything seeded is also written to a ``Ledger`` in plain terms, from
which the test computes the expected report figures on its own.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from central.context import AppContext
from central.models import CommandRow, Meeting, MeetingSite
from central.services import accounts, commands, meetings
from central.services.ingest import ingest
from contracts.messages import (
    CallState,
    CheckResult,
    CommandResult,
    DeviceInfo,
    DeviceStatus,
    Event,
    Hello,
    SelftestReport,
    Status,
)

CST = ZoneInfo("Asia/Shanghai")
YEAR = 2025
BRIDGE = "sip:meet@bridge.roomops.test"
PASSWORD = "correct horse battery"
ROLES = ("viewer", "secretariat", "engineer", "admin")


def cst(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=CST).astimezone(UTC)


@dataclass(frozen=True)
class SiteDef:
    id: str
    name_zh: str
    timezone: str
    created: datetime
    uplink_up: float  # typical upload, Mbps
    sd: bool  # the line only carries SD calls


SITES: tuple[SiteDef, ...] = (
    SiteDef("shanghai", "上海", "Asia/Shanghai", cst(2024, 12, 20, 9), 20.0, False),
    SiteDef("urumqi", "乌鲁木齐", "Asia/Urumqi", cst(2024, 12, 20, 9), 6.0, False),
    SiteDef("lhasa", "拉萨", "Asia/Shanghai", cst(2024, 12, 20, 9), 1.6, True),
    SiteDef("guangzhou", "广州", "Asia/Shanghai", cst(2024, 12, 20, 9), 12.0, False),
    SiteDef("kunming", "昆明", "Asia/Shanghai", cst(2024, 12, 20, 9), 4.0, False),
    SiteDef("xining", "西宁", "Asia/Shanghai", cst(2025, 3, 15, 10), 1.9, True),
)
SITE = {s.id: s for s in SITES}
DEVICES = ("codec", "recorder", "pdu")


class Clock:
    """The clock central reads (installed with ``central.models.base.set_clock``); only moves forward."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def set(self, at: datetime) -> None:
        assert at >= self.now, f"the clock only moves forward ({at} < {self.now})"
        self.now = at


# -- the ledger: what was seeded, in plain terms ---------------------------------------------------
@dataclass
class MeetingFact:
    id: str
    sites: list[str]
    started: datetime
    stopped: datetime
    hd: dict[str, bool]
    ratings: dict[str, int]


@dataclass
class FaultFact:
    site: str
    device: str
    opened: datetime
    closed: datetime | None
    down: bool  # a device-down fault (else a failed check)
    commands: list[str] = field(default_factory=list)


@dataclass
class InspectionFact:
    site: str
    month: int
    started: datetime
    agent_late: bool
    run_id: str


@dataclass
class Ledger:
    meetings: list[MeetingFact] = field(default_factory=list)
    faults: list[FaultFact] = field(default_factory=list)
    inspections: list[InspectionFact] = field(default_factory=list)
    uplink: dict[str, list[float]] = field(default_factory=dict)  # site -> up_mbps values in YEAR
    recordings: dict[str, bytes] = field(default_factory=dict)  # recording file name -> content
    never_started: list[str] = field(default_factory=list)


# -- the seeder ------------------------------------------------------------------------------------
Action = tuple[datetime, int, Callable[[], None]]


class History:
    def __init__(self, ctx: AppContext, clock: Clock, recordings_dir: Path) -> None:
        self.ctx, self.clock, self.recordings_dir = ctx, clock, recordings_dir
        self.ledger = Ledger()
        self.rng = random.Random(2025)
        self.actions: list[Action] = []

    # plumbing
    def at(self, when: datetime, action: Callable[[], None]) -> None:
        self.actions.append((when, len(self.actions), action))

    def send(self, session: Session, site: str, msg: Any) -> None:
        ingest(session, site, msg, self.ctx.limits)

    def run(self) -> Ledger:
        for when, _, action in sorted(self.actions, key=lambda a: (a[0], a[1])):
            self.clock.set(when)
            action()
        return self.ledger

    # the organisation
    def setup(self) -> None:
        with self.ctx.unit() as session:
            for role in ROLES:
                accounts.create_user(session, role, PASSWORD, [role])
        for site in SITES:
            self.at(site.created, lambda s=site: self._create_site(s))

    def _create_site(self, site: SiteDef) -> None:
        with self.ctx.unit() as session:
            accounts.create_site(
                session, site.id, name=site.id.title(), name_zh=site.name_zh, timezone=site.timezone
            )
            devices = [
                DeviceInfo(
                    id=f"{site.id}.{d}",
                    model=f"sim-{d}",
                    roles=[d if d != "pdu" else "power"],
                    identity={"serial": f"SN-{site.id}-{d}", "firmware": "1.0"},
                )
                for d in DEVICES
            ]
            self.send(
                session,
                site.id,
                Hello(site=site.id, agent_version="sim-1", devices=devices, sent_at=self.clock.now),
            )
            # the agent's first poll: every device up (availability counts from observed time)
            self.send(session, site.id, Status(site=site.id, sent_at=self.clock.now, devices=[
                DeviceStatus(id=d.id, up=True, verdict="ok", since=self.clock.now) for d in devices]))

    # inspections --------------------------------------------------------------------------------
    def inspection(
        self,
        site: str,
        month: int,
        local: datetime,
        *,
        agent_late: bool = False,
        verdict: str = "ready",
        drift: list[dict[str, Any]] | None = None,
    ) -> None:
        started = local.replace(tzinfo=ZoneInfo(SITE[site].timezone)).astimezone(UTC)

        def go() -> None:
            up = round(SITE[site].uplink_up * self.rng.uniform(0.8, 1.2), 2)
            report = SelftestReport(
                site=site,
                trigger="inspection",
                started_at=started,
                finished_at=started + timedelta(minutes=4),
                verdict=verdict,
                late=agent_late,
                sent_at=started + timedelta(minutes=4),
                checks=[
                    CheckResult(device=f"{site}.{d}", name=f"{d}.reachable", status="pass") for d in DEVICES
                ],
                inventory=[
                    DeviceInfo(
                        id=f"{site}.{d}",
                        model=f"sim-{d}",
                        identity={"serial": f"SN-{site}-{d}", "firmware": "1.0"},
                    )
                    for d in DEVICES
                ],
                drift=drift or [],
                uplink={"up_mbps": up, "down_mbps": up * 4, "rtt_ms": 40.0, "loss": 0.001},
            )
            with self.ctx.unit() as session:
                self.send(session, site, report)
            self.ledger.inspections.append(InspectionFact(site, month, started, agent_late, report.run_id))
            if started.astimezone(CST).year == YEAR:
                self.ledger.uplink.setdefault(site, []).append(up)

        self.at(started, go)

    def uplink_event(self, site: str, when: datetime, up: float) -> None:
        def go() -> None:
            with self.ctx.unit() as session:
                self.send(
                    session,
                    site,
                    Event(
                        site=site,
                        kind="uplink",
                        at=when,
                        sent_at=when,
                        data={"up_mbps": up, "down_mbps": up * 3, "rtt_ms": 55.0},
                    ),
                )
            if when.astimezone(CST).year == YEAR:
                self.ledger.uplink.setdefault(site, []).append(up)

        self.at(when, go)

    # faults -------------------------------------------------------------------------------------
    def outage(
        self,
        site: str,
        device: str,
        down: datetime,
        up: datetime | None,
        commands_at: list[tuple[timedelta, str, bool]] | None = None,
    ) -> None:
        """``device`` goes down at ``down`` and comes back at ``up``; engineers run commands meanwhile."""
        fact = FaultFact(site, f"{site}.{device}", down, up, down=True)
        self.ledger.faults.append(fact)

        def went_down() -> None:
            with self.ctx.unit() as session:
                self.send(
                    session,
                    site,
                    Event(
                        site=site,
                        kind="device_down",
                        device=fact.device,
                        at=down,
                        sent_at=down,
                        data={"reason": "no reply to health poll"},
                    ),
                )

        def came_up() -> None:
            with self.ctx.unit() as session:
                self.send(
                    session, site, Event(site=site, kind="device_up", device=fact.device, at=up, sent_at=up)
                )

        self.at(down, went_down)
        for offset, kind, ok in commands_at or []:
            self.at(down + offset, lambda k=kind, o=ok: self._device_command(site, fact, k, o))
        if up is not None:
            self.at(up, came_up)

    def _device_command(self, site: str, fact: FaultFact, kind: str, ok: bool) -> None:
        with self.ctx.unit() as session:
            row = commands.enqueue(
                session,
                site_id=site,
                kind=kind,
                device_id=fact.device,
                requested_by="engineer",
                deadline=commands.deadline_in(300),
            )
            command_id = row.id
        fact.commands.append(kind)
        with self.ctx.unit() as session:
            self.send(
                session,
                site,
                CommandResult(
                    site=site,
                    command_id=command_id,
                    state="succeeded" if ok else "failed",
                    error=None if ok else "device did not answer",
                    finished_at=self.clock.now,
                    sent_at=self.clock.now,
                ),
            )

    def failed_check(self, site: str, fails_at: datetime, passes_at: datetime) -> None:
        """A pre-meeting self-test fails ``codec.registered``; a later one passes (closing the fault)."""
        self.ledger.faults.append(FaultFact(site, f"{site}.codec", fails_at, passes_at, down=False))
        for when, status in ((fails_at, "fail"), (passes_at, "pass")):

            def go(w: datetime = when, st: str = status) -> None:
                report = SelftestReport(
                    site=site,
                    trigger="pre_meeting",
                    started_at=w - timedelta(minutes=1),
                    finished_at=w,
                    verdict="ready" if st == "pass" else "not_ready",
                    sent_at=w,
                    checks=[
                        CheckResult(
                            device=f"{site}.codec",
                            name="codec.registered",
                            status=st,
                            reason="" if st == "pass" else "SIP registration refused (403)",
                        )
                    ],
                )
                with self.ctx.unit() as session:
                    self.send(session, site, report)

            self.at(when, go)

    # meetings -----------------------------------------------------------------------------------
    def meeting(
        self,
        title: str,
        start: datetime,
        minutes: int,
        sites: list[str],
        *,
        ratings: dict[str, int] | None = None,
        started: bool = True,
    ) -> MeetingFact:
        host = sites[0]
        fact = MeetingFact(
            id="",
            sites=list(sites),
            started=start + timedelta(minutes=2),
            stopped=start + timedelta(minutes=minutes + 5),
            hd={s: not SITE[s].sd for s in sites},
            ratings=dict(ratings or {}),
        )

        def create() -> None:
            with self.ctx.unit() as session:
                row = meetings.create(
                    session,
                    meetings.MeetingRequest(
                        title=title,
                        start=start,
                        end=start + timedelta(minutes=minutes),
                        host_site=host,
                        sites=sites,
                        mode="bridge",
                        bridge_uri=BRIDGE,
                    ),
                    "secretariat",
                    4,
                )
                fact.id = row.id
            if not started:
                self.ledger.never_started.append(fact.id)

        def begin() -> None:
            with self.ctx.unit() as session:
                meetings.start(session, session.get(Meeting, fact.id), "secretariat", 300)
            self._answer_commands(fact)

        def end() -> None:
            with self.ctx.unit() as session:
                meetings.stop(session, session.get(Meeting, fact.id), "secretariat", 300)
                for site, rating in fact.ratings.items():
                    session.get(MeetingSite, (fact.id, site)).satisfaction = rating
            self._answer_commands(fact)

        self.at(start - timedelta(days=2), create)
        if started:
            self.at(fact.started, begin)
            self.at(fact.stopped, end)
            self.ledger.meetings.append(fact)
        return fact

    def _answer_commands(self, fact: MeetingFact) -> None:
        """Each site's agent executes its queued commands for the meeting, until none is left."""
        while True:
            with self.ctx.unit() as session:
                queued = [
                    (c.id, c.site_id, c.kind)
                    for c in session.scalars(
                        select(CommandRow)
                        .where(CommandRow.meeting_id == fact.id, CommandRow.state == "queued")
                        .order_by(CommandRow.created_at, CommandRow.id)
                    )
                ]
            if not queued:
                return
            for command_id, site, kind in queued:
                with self.ctx.unit() as session:
                    for msg in self._agent_reply(fact, site, kind, command_id):
                        self.send(session, site, msg)

    def _agent_reply(self, fact: MeetingFact, site: str, kind: str, command_id: str) -> list[Any]:
        now = self.clock.now
        result: dict[str, Any] = {}
        before: list[Any] = []
        if kind == "connect":
            hd = fact.hd[site]
            before.append(
                Event(
                    site=site,
                    kind="call_state",
                    device=f"{site}.codec",
                    at=now,
                    sent_at=now,
                    data={
                        "call_id": "1",
                        "state": "connected",
                        "remote_uri": BRIDGE,
                        "hd": hd,
                        "meeting_id": fact.id,
                        "rate_kbps": 4096 if hd else 768,
                        "resolution": "1920x1080" if hd else "640x360",
                    },
                )
            )
            result = {"call_state": "connected"}
        elif kind == "disconnect":
            # the call report that follows a hang-up says idle (no quality): the report must not rely on it

            before.append(
                Status(
                    site=site,
                    sent_at=now,
                    calls=[CallState(device=f"{site}.codec", call_id="1", state="idle", meeting_id=fact.id)],
                )
            )
        elif kind == "record_stop":
            content = f"recording of {fact.id} at {site}".encode() * 64
            name = f"{fact.id}.mp4"
            folder = self.recordings_dir / site
            folder.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(content)
            self.ledger.recordings[name] = content
            result = {
                "file": f"/var/lib/roomops/recordings/{name}",
                "size": len(content),
                "duration": (fact.stopped - fact.started).total_seconds(),
                "sha256": hashlib.sha256(content).hexdigest(),
            }
        return [
            *before,
            CommandResult(
                site=site,
                command_id=command_id,
                state="succeeded",
                result=result,
                finished_at=now,
                sent_at=now,
            ),
        ]


# -- the scripted year -----------------------------------------------------------------------------
#: (site, month) -> how that month's inspection went; unlisted months ran on time on day 1.
INSPECTION_SCRIPT: dict[tuple[str, int], str] = {
    ("lhasa", 4): "agent_late",  # the agent was down at the due time and ran it on the 3rd
    ("kunming", 7): "after_grace",  # ran on the 12th: after the 7-day grace
    ("guangzhou", 9): "missing",
    ("urumqi", 11): "missing",
    ("shanghai", 6): "rerun",  # a degraded run, then a rerun the next day
    ("kunming", 5): "drift",
}


def seed_year(ctx: AppContext, clock: Clock, recordings_dir: Path) -> Ledger:
    h = History(ctx, clock, recordings_dir)
    h.setup()
    rng = h.rng
    # inspections: every month of YEAR for every site that exists by the due date
    for site in SITES:
        for month in range(1, 13):
            due = datetime(YEAR, month, 1, 3, 0)
            if due.replace(tzinfo=ZoneInfo(site.timezone)) < site.created:
                if site.id == "xining" and month == 3:
                    h.inspection(site.id, month, datetime(YEAR, 3, 20, 3, 0))  # first one after install
                continue
            how = INSPECTION_SCRIPT.get((site.id, month), "on_time")
            if how == "missing":
                continue
            if how == "agent_late":
                h.inspection(site.id, month, datetime(YEAR, month, 3, 10, 0), agent_late=True)
            elif how == "after_grace":
                h.inspection(site.id, month, datetime(YEAR, month, 12, 10, 0))
            elif how == "rerun":
                h.inspection(site.id, month, due, verdict="degraded")
                h.inspection(site.id, month, datetime(YEAR, month, 2, 9, 0))
            elif how == "drift":
                h.inspection(
                    site.id,
                    month,
                    due,
                    verdict="degraded",
                    drift=[
                        {
                            "device": "kunming.codec",
                            "path": "SIP.Proxy",
                            "expected": "10.1.0.5",
                            "actual": "10.9.0.5",
                        }
                    ],
                )
            else:
                h.inspection(site.id, month, due + timedelta(minutes=rng.randrange(0, 30)))
        # a quarterly uplink test besides the inspections
        for month in (2, 5, 8, 11):
            if cst(YEAR, month, 15, 11) > site.created:
                h.uplink_event(site.id, cst(YEAR, month, 15, 11), round(site.uplink_up * 0.9, 2))

    # meetings: every ten days, host Shanghai, two to five branches
    facts = []
    for k in range(34):
        start = cst(YEAR, 1, 6, 9 if k % 2 == 0 else 14) + timedelta(days=10 * k)
        existing = [s.id for s in SITES[1:] if s.created < start - timedelta(days=2)]
        sites = ["shanghai", *rng.sample(existing, rng.randint(2, min(5, len(existing))))]
        ratings = {s: rng.choice((5, 5, 4, 4, 4, 3, 2)) for s in sites if rng.random() < 0.8}
        facts.append(
            h.meeting(
                f"联络处例会 {k + 1}", start, rng.choice((60, 90, 120, 150, 180)), sites, ratings=ratings
            )
        )
    h.meeting("取消的会议", cst(YEAR, 7, 7, 10), 60, ["shanghai", "lhasa"], started=False)
    # a meeting started on New Year's Eve of the year before does not count
    h.meeting("跨年前会议", cst(YEAR - 1, 12, 30, 15), 60, ["shanghai", "urumqi"], ratings={"urumqi": 1})

    # outages during meetings: a branch codec drops 20 minutes in and is back 75 minutes later
    for k in (3, 11, 20):
        fact = facts[k]
        branch = fact.sites[1]
        h.outage(
            branch,
            "codec",
            fact.started + timedelta(minutes=20),
            fact.started + timedelta(minutes=95),
            commands_at=[
                (timedelta(minutes=10), "reboot", False),
                (timedelta(minutes=40), "power_cycle", True),
            ],
        )
    # outages outside meetings, overlapping ones, across the year's start, one never repaired
    h.outage("shanghai", "codec", cst(YEAR - 1, 12, 31, 20), cst(YEAR, 1, 1, 4))
    h.outage("guangzhou", "pdu", cst(YEAR, 5, 4, 2), cst(YEAR, 5, 5, 8))
    h.outage("kunming", "recorder", cst(YEAR, 8, 19, 22), cst(YEAR, 8, 20, 1, 30))
    h.outage("kunming", "codec", cst(YEAR, 8, 19, 23), cst(YEAR, 8, 20, 0, 30))
    h.outage(
        "urumqi",
        "codec",
        cst(YEAR, 10, 1, 0),
        cst(YEAR, 10, 3, 0),
        commands_at=[(timedelta(hours=1), "reboot", False)],
    )
    h.outage("xining", "recorder", cst(YEAR, 12, 28, 10), None)
    h.failed_check("lhasa", cst(YEAR, 6, 16, 8, 30), cst(YEAR, 6, 16, 9, 10))
    # after the year: a fault the test closes by hand
    h.outage("guangzhou", "codec", cst(YEAR + 1, 1, 5, 9), None)
    h.run()
    return h.ledger
