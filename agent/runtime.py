"""The site agent: composition of sessions, coordinators, runner, scheduler, commands and link.

One asyncio loop; every device has a ``DeviceSession`` (own worker thread) and a
``Coordinator``; everything reported goes through the ``Outbox``; the ``CentralLink`` drains it.
The agent keeps running without central: self-tests, schedules and commands queue their
reports on disk until central acknowledges them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.actions import HANDLERS
from agent.commands import CommandRunner, CommandStore
from agent.coordinator import Coordinator
from agent.disk import DiskWriter
from agent.driver_config import comparable
from agent.link import CentralLink
from agent.outbox import Outbox
from agent.relocation import differs
from agent.scheduler import AgentScheduler
from agent.selftest import Progress, SelftestRunner
from agent.session import DeviceSession, DriverFactory, default_driver_factory
from agent.site import DeviceSpec, SiteSpec, reboot_plan
from agent.site_checks import UplinkProbe, default_site_checks
from agent.supervise import TaskHealth, supervise
from contracts.messages import Command, DeviceInfo, Event, Hello, Schedule, SelftestReport, Status
from drivers.errors import DeviceError

log = logging.getLogger(__name__)
AGENT_VERSION = "0.1.0"


@dataclass
class AgentConfig:
    state_dir: Path
    central: str = ""                 # central's base URL; "" runs without a link
    token: str = ""
    poll_interval: float = 30.0       # seconds between health polls; 0 disables polling
    flush_interval: float = 5.0       # seconds between outbox wake-ups
    premeeting_lead: float = 1800.0   # seconds before a meeting's start
    late_after: float = 60.0          # a job this many seconds past its time is reported late
    heartbeat_interval: float = 15.0
    inspection_day: int = 1           # day of month, site local time
    inspection_hour: int = 3
    inspection_grace: float = 7 * 86400.0
    link_backoff_initial: float = 1.0
    link_backoff_cap: float = 60.0

    def __repr__(self) -> str:  # the token never appears in logs
        return f"AgentConfig(state_dir={str(self.state_dir)!r}, central={self.central!r})"


class Agent:
    def __init__(self, site: SiteSpec, config: AgentConfig, *,
                 driver_factory: DriverFactory = default_driver_factory,
                 uplink_probe: UplinkProbe | None = None) -> None:
        self.site = site
        self.config = config
        self.state_dir = Path(config.state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.uplink_probe = uplink_probe
        self.driver_factory = driver_factory
        self.resolved: Any = None         # the profile object the site came from, when loaded from YAML
        self.sessions: dict[str, DeviceSession] = {
            d.id: DeviceSession(d, driver_factory) for d in site.devices}
        #: every write to the state directory's databases goes through this one thread
        self.disk = DiskWriter()
        self.outbox = Outbox(self.state_dir / "outbox.sqlite", self.disk)
        #: the meeting the room's calls belong to (set by prepare/connect, cleared by disconnect)
        self.call_meeting: str | None = None
        self.coordinators = {i: Coordinator(s, site.id, self.emit, meeting=lambda: self.call_meeting)
                             for i, s in self.sessions.items()}
        store = CommandStore(self.state_dir / "commands.sqlite", self.disk)
        self.commands = CommandRunner(self, store, HANDLERS, self.emit)
        self.scheduler = AgentScheduler(self, self.state_dir, self.disk)
        self.link: CentralLink | None = None
        #: supervised long-running tasks (central link, health polling) and scheduled jobs
        self.tasks = TaskHealth()
        self._loops: list[asyncio.Task[None]] = []
        self.meetings: list[Any] = []
        self.last_selftest: SelftestReport | None = None

    # -- plumbing ------------------------------------------------------------------------------------
    def emit(self, message: Any) -> str:
        """Queue a report for central (on disk until acknowledged)."""
        return self.outbox.put(message)

    def session(self, device: str) -> DeviceSession:
        return self.sessions[self.site.device(device).id]

    def runner(self) -> SelftestRunner:
        offset = (lambda: self.link.clock_offset) if self.link is not None else None
        checks = default_site_checks(self.uplink_probe, offset)
        return SelftestRunner(self.site, self.sessions, site_checks=checks, in_call=self.in_call)

    async def in_call(self, device: str) -> str:
        """Why the codec ``device`` cannot run its idle-only checks now ("in a call"), else ""."""
        coordinator = self.coordinators.get(device)
        return await coordinator.in_call() if coordinator is not None else ""

    def hello(self) -> Hello:
        return Hello(site=self.site.id, agent_version=AGENT_VERSION, devices=[
            DeviceInfo(id=d.id, model=d.model, roles=sorted(d.roles), address=d.address(),
                       identity={k: str(v) for k, v in d.identity.items()}, capabilities=self.capabilities(d))
            for d in self.site.devices])

    def capabilities(self, device: DeviceSpec) -> dict[str, Any]:
        """What central plans with: how a reboot is done (the dashboard's button says it), a
        codec's call URI and how many far ends it can host."""
        caps: dict[str, Any] = {"reboot_methods": reboot_plan(device),
                                # needed to hold a meeting (central's availability of the site)
                                "critical": bool(device.roles & (self.site.critical_roles | {"router"}))}
        if "codec" not in device.roles:
            return caps
        uri = device.desired.get("sip.uri") or device.endpoint.options.get("uri")
        if uri:
            caps["uri"] = str(uri)
        capacity = device.endpoint.options.get("multisite_capacity")
        if capacity is None and self.resolved is not None:
            for resolved in getattr(self.resolved, "devices", ()):
                if resolved.id == device.id:
                    capacity = resolved.model.capabilities.get("multisite")
        if isinstance(capacity, int) and capacity > 0:
            caps["multisite_capacity"] = capacity
        return caps

    # -- lifecycle -----------------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        """``ok``, or ``degraded`` with the tasks failing now; restarts per task."""
        failing = self.tasks.degraded()
        return {"status": "degraded" if failing else "ok", "failing": failing,
                "restarts": self.tasks.restarts()}

    def report_failure(self, task: str, exc: BaseException, restarts: int) -> None:
        """Central hears of a failing task too (an event like any other report)."""
        error = f"{type(exc).__name__}: {exc}"[:500]
        self.emit(Event(site=self.site.id, kind="task_failed",
                        data={"task": task, "error": error, "restarts": restarts}))

    def _supervised(self, name: str, run: Any, initial: float = 0.5) -> None:
        self._loops.append(asyncio.create_task(
            supervise(name, run, self.tasks, initial=initial, on_failure=self.report_failure), name=name))

    async def _poll_forever(self) -> None:
        """The coordinators' health polls, every ``poll_interval``."""
        while True:
            await self.poll_all()
            self.tasks.ok("coordinators")
            await asyncio.sleep(self.config.poll_interval)   # a cadence; each poll has its own deadlines

    async def start(self) -> None:
        self.scheduler.start()
        if self.config.poll_interval > 0:
            self._supervised("coordinators", self._poll_forever)
        if self.config.central:
            self.link = CentralLink(
                self.config.central, self.config.token, self.site.id, self.outbox, hello=self.hello,
                on_command=self.on_command, on_schedule=self.on_schedule,
                on_unreadable_command=self.commands.refuse_unreadable,
                on_session=lambda: self.tasks.ok("central-link"),
                heartbeat_interval=self.config.heartbeat_interval)
            self.link.backoff.initial = self.config.link_backoff_initial
            self.link.backoff.cap = self.config.link_backoff_cap
            self._supervised("central-link", self.link.run, initial=self.config.link_backoff_initial)
        log.info("agent for site %s started with %d devices", self.site.id, len(self.sessions))

    async def stop(self) -> None:
        self.scheduler.shutdown()
        await self.commands.cancel_all()
        for task in self._loops:
            task.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        self._loops = []
        await asyncio.gather(*(s.aclose() for s in self.sessions.values()))
        self.commands.store.close()
        self.outbox.close()
        self.disk.close()

    async def run_forever(self) -> None:
        await self.start()
        try:
            await asyncio.Event().wait()
        finally:
            await self.stop()

    # -- from central ----------------------------------------------------------------------------------
    async def on_command(self, cmd: Command) -> None:
        await self.commands.submit(cmd)

    async def on_schedule(self, schedule: Schedule) -> None:
        self.meetings = list(schedule.meetings)
        jobs = self.scheduler.set_meetings(self.meetings)
        if self.scheduler.store is not None:
            await self.scheduler.store.flushed()    # on disk before central hears "received"
        log.info("schedule from central: %d meetings, %d pre-meeting tests", len(self.meetings), len(jobs))

    # -- work ------------------------------------------------------------------------------------------
    async def poll_all(self) -> Status:
        statuses = await asyncio.gather(*(c.poll() for c in self.coordinators.values()))
        calls = [call for c in self.coordinators.values() for call in c.calls()]
        status = Status(site=self.site.id, devices=list(statuses), calls=calls)
        self.emit(status)
        return status

    async def selftest(self, *, trigger: str = "on_demand", meeting_id: str | None = None,
                       command_id: str | None = None, late: bool = False,
                       progress: Progress | None = None, run_id: str | None = None) -> SelftestReport:
        report = await self.runner().run(trigger=trigger, meeting_id=meeting_id, command_id=command_id,
                                         late=late, progress=progress)
        if run_id:   # central named the run when it asked for it
            report = report.model_copy(update={"run_id": run_id})
        self.last_selftest = report
        self.emit(report)
        log.info("self-test (%s) %s: %s", trigger, report.run_id, report.verdict)
        return report

    async def drift(self) -> list[dict[str, Any]]:
        """Device settings that differ from the profile's desired values."""
        out: list[dict[str, Any]] = []
        for dev in self.site.devices:
            if not dev.desired:
                continue
            try:
                actual: Mapping[str, Any] = await self.sessions[dev.id].call(lambda d: d.read_config(), 30.0,
                                                                             force=True)
            except DeviceError as exc:
                out.append({"device": dev.id, "error": f"{exc.reason}: {exc.message}"})
                continue
            for key, want in comparable(dev.desired).items():
                have = actual.get(key)
                if differs(have, want):
                    out.append({"device": dev.id, "key": key, "desired": want, "actual": have})
        return out

    async def inspection(self, *, late: bool = False, command_id: str | None = None,
                         run_id: str | None = None) -> SelftestReport:
        """The monthly inspection: the self-test plus configuration drift; scheduled, or asked for
        by central as a ``selftest`` command with the ``inspection`` trigger."""
        report = await self.runner().run(trigger="inspection", late=late, command_id=command_id)
        update: dict[str, Any] = {"drift": await self.drift()}
        if run_id:   # central named the run when it asked for it
            update["run_id"] = run_id
        report = report.model_copy(update=update)
        self.last_selftest = report
        self.emit(report)
        return report

    async def relocate(self, args: Mapping[str, Any], *, dry_run: bool) -> dict[str, Any]:
        from agent.relocation import relocate_agent

        return await relocate_agent(self, args, dry_run=dry_run)
