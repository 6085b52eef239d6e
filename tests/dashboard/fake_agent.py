"""Test-side site agents speaking the real wire protocol over the real ``/agent/v1/link`` WebSocket.

They stand in for ``roomops agent run`` in the dashboard tests: hello with a room's devices,
status, pre-meeting self-tests for the schedule they receive, and command handling with the
device behaviour the pages show (a reboot takes the device down and brings it back, a connect
brings the call up at HD rate). A shared call fabric lets the host site's codec "ring" the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import threading
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from contracts.messages import (
    Ack,
    CallState,
    CheckResult,
    Command,
    CommandResult,
    DeviceInfo,
    DeviceStatus,
    Event,
    Heartbeat,
    Hello,
    Schedule,
    SelftestReport,
    Status,
    dump_message,
    parse_message,
    utcnow,
)

#: well inside central's silence allowance in the tests (heartbeat 1 s x 3 misses)
HEARTBEAT_SECONDS = 0.4

ROOM = (
    ("codec", "cisco-roomkit", ["codec"], "Cisco", "Room Kit", "ce11.5.2"),
    ("camera1", "sony-evi-d70", ["camera"], "Sony", "EVI-D70", "2.10"),
    ("switcher", "extron-dxp88", ["switcher"], "Extron", "DXP 88 HD 4K", "1.07"),
    ("display1", "pjlink-display", ["display"], "NEC", "P555", "R1.2"),
    ("recorder", "extron-smp351", ["recorder"], "Extron", "SMP 351", "2.05"),
    ("router", "cisco-isr4321", ["router"], "Cisco", "ISR4321", "16.9.4"),
    ("pdu", "apc-ap7900", ["power"], "APC", "AP7900", "3.7.4"),
)


@dataclass
class AgentBehaviour:
    """Knobs a test turns to shape what the pages show."""

    #: pre-meeting verdict; "degraded" or "not_ready" add a failing check with evidence
    readiness: str = "ready"
    #: seconds a rebooting device stays down (device time, emulated)
    reboot_seconds: float = 1.5
    #: seconds between dialing and connected
    dial_seconds: float = 0.6
    #: device names (e.g. "display1") reported down from the start
    down: tuple[str, ...] = ()
    #: this many connects fail (the call ends before connecting) before one succeeds
    fail_connects: int = 0


@dataclass
class FakeAgent:
    site: str
    url: str
    token: str
    fabric: dict[str, FakeAgent]
    behaviour: AgentBehaviour = field(default_factory=AgentBehaviour)
    ws: ClientConnection | None = None
    up: dict[str, bool] = field(default_factory=dict)
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    seen_commands: set[str] = field(default_factory=set)
    tested_meetings: set[str] = field(default_factory=set)
    hello_id: str = ""

    def device_ids(self) -> list[str]:
        return [f"{self.site}.{name}" for name, *_ in ROOM]

    async def send(self, msg: Any) -> None:
        assert self.ws is not None
        await self.ws.send(dump_message(msg))

    async def run(self) -> None:
        """Stay connected (reconnecting like a real agent) until cancelled."""
        while True:
            try:
                async with connect(self.url, additional_headers={"Authorization": f"Bearer {self.token}"},
                                   open_timeout=5) as ws:
                    self.ws = ws
                    await self._session(ws)
            except (OSError, ConnectionClosed):
                # central restarting or closing the link: try again shortly, as the real agent does
                self.connected.clear()
                await asyncio.sleep(0.2)

    async def _session(self, ws: ClientConnection) -> None:
        down = {f"{self.site}.{name}" for name in self.behaviour.down}
        self.up = {d: self.up.get(d, d not in down) for d in self.device_ids()}
        devices = [
            DeviceInfo(id=f"{self.site}.{name}", model=model, roles=roles, address=f"127.0.0.{i + 10}",
                       identity={"vendor": vendor, "model": product, "firmware": firmware,
                                 "serial": f"{self.site[:3].upper()}{i:04d}"},
                       capabilities={"uri": f"{self.site}@roomops.example", "multisite_capacity": 8}
                       if name == "codec" else {})
            for i, (name, model, roles, vendor, product, firmware) in enumerate(ROOM)
        ]
        hello = Hello(site=self.site, agent_version="fake-1", devices=devices)
        self.hello_id = hello.msg_id
        await self.send(hello)
        await self.send_status()
        heart = asyncio.create_task(self._heartbeats())
        try:
            async for raw in ws:
                await self._handle(parse_message(raw))
        finally:
            heart.cancel()
            self.connected.clear()

    async def _heartbeats(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            await self.send(Heartbeat(site=self.site))

    async def send_status(self, calls: list[CallState] | None = None) -> None:
        now = utcnow()
        await self.send(Status(site=self.site, calls=calls or [], devices=[
            DeviceStatus(id=d, up=up, verdict="ok" if up else "down", since=now,
                         reasons=[] if up else ["no reply"])
            for d, up in self.up.items()
        ]))

    async def _handle(self, msg: Any) -> None:
        if isinstance(msg, Ack) and self.hello_id in msg.ack_ids:
            self.connected.set()            # central has stored the room's devices
        elif isinstance(msg, Schedule):
            for meeting in msg.meetings:
                if meeting.id not in self.tested_meetings:
                    self.tested_meetings.add(meeting.id)
                    await self._pre_meeting_selftest(meeting.id)
        elif isinstance(msg, Command):
            await self.send(Ack(site=self.site, ack_ids=[msg.msg_id]))
            if msg.command_id in self.seen_commands:
                return      # at most once per id
            self.seen_commands.add(msg.command_id)
            asyncio.get_running_loop().create_task(self._execute(msg))

    async def _pre_meeting_selftest(self, meeting_id: str) -> None:
        started = utcnow()
        checks = [CheckResult(device=f"{self.site}.codec", name="codec.registered", status="pass",
                              measured={"registrar": "sip.roomops.example"}),
                  CheckResult(device=f"{self.site}.display1", name="display.power", status="pass")]
        verdict = self.behaviour.readiness
        if verdict != "ready":
            checks.append(CheckResult(
                device=f"{self.site}.codec", name="codec.call_rate",
                status="fail" if verdict == "not_ready" else "warn",
                reason="test call reached 768 kbps, below the 1920 kbps expected",
                measured={"rate_kbps": 768, "expected_kbps": 1920},
                evidence=["> xCommand Dial Number: loopback@roomops.example",
                          "< *s Call 1 TransmitCallRate: 768", "< ** end"]))
        await self.send(SelftestReport(site=self.site, trigger="pre_meeting", meeting_id=meeting_id,
                                       started_at=started, finished_at=utcnow(), verdict=verdict,
                                       checks=checks))

    async def _execute(self, cmd: Command) -> None:
        result: dict[str, Any] = {}
        meeting_id = cmd.args.get("meeting_id")
        if cmd.kind in ("reboot", "power_cycle") and cmd.device:
            await self._bounce(cmd.device)
        elif cmd.kind == "selftest":
            now = utcnow()
            await self.send(SelftestReport(
                site=self.site, trigger="on_demand", command_id=cmd.command_id, started_at=now,
                finished_at=now + timedelta(milliseconds=40), verdict="ready",
                checks=[CheckResult(device=d, name="device.reachable", status="pass")
                        for d in self.device_ids()]))
        elif cmd.kind == "connect" and self.behaviour.fail_connects > 0:
            self.behaviour.fail_connects -= 1
            await self._call(meeting_id, "dialing", 0)
            await self._call(meeting_id, "idle", 0)
            await self.send(CommandResult(site=self.site, command_id=cmd.command_id, state="failed",
                                          error=f"{self.site}.codec: every call ended before connecting",
                                          finished_at=utcnow()))
            return
        elif cmd.kind == "connect":
            result = {"call_state": "connected"}
            await self._call(meeting_id, "dialing", 0)
            for participant in cmd.args.get("participants", []):
                far = self.fabric.get(participant["site"])
                if far is not None:
                    asyncio.get_running_loop().create_task(far._answer(meeting_id))
            await asyncio.sleep(self.behaviour.dial_seconds)
            await self._call(meeting_id, "connected", 1920)
        elif cmd.kind == "disconnect":
            await self._call(meeting_id, "idle", 0)
        elif cmd.kind == "record_stop":
            result = {"file": f"{meeting_id}.mp4", "size": 1024, "duration": 12.5,
                      "sha256": hashlib.sha256(b"recording").hexdigest()}
        await self.send(CommandResult(site=self.site, command_id=cmd.command_id, state="succeeded",
                                      result=result, finished_at=utcnow()))

    async def _answer(self, meeting_id: str | None) -> None:
        await self._call(meeting_id, "connecting", 0)
        await asyncio.sleep(self.behaviour.dial_seconds)
        await self._call(meeting_id, "connected", 1920)

    async def _call(self, meeting_id: str | None, state: str, rate: int) -> None:
        call = CallState(device=f"{self.site}.codec", call_id="1", state=state, rate_kbps=rate,
                         resolution="1920x1080" if rate >= 1920 else "", hd=rate >= 1920,
                         meeting_id=meeting_id,
                         remote_uri="bridge@mcu.roomops.example")
        await self.send_status(calls=[call])

    async def _bounce(self, device: str) -> None:
        self.up[device] = False
        await self.send(Event(site=self.site, kind="device_down", device=device,
                              data={"reason": "rebooting"}))
        await self.send_status()
        await asyncio.sleep(self.behaviour.reboot_seconds)
        self.up[device] = True
        await self.send(Event(site=self.site, kind="device_up", device=device))
        await self.send_status()


class FakeFleet:
    """Every site's fake agent on one event loop in a background thread; a context manager."""

    def __init__(self, central_url: str, tokens: dict[str, str],
                 behaviours: dict[str, AgentBehaviour] | None = None) -> None:
        ws_url = central_url.replace("http://", "ws://").rstrip("/") + "/agent/v1/link"
        self.fabric: dict[str, FakeAgent] = {}
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fake-agents", daemon=True)
        self._tasks: list[asyncio.Future[None]] = []
        for site, token in tokens.items():
            behaviour = (behaviours or {}).get(site, AgentBehaviour())
            self.fabric[site] = FakeAgent(site, ws_url, token, self.fabric, behaviour)

    def __enter__(self) -> FakeFleet:
        self._thread.start()
        for agent in self.fabric.values():
            self._tasks.append(asyncio.run_coroutine_threadsafe(agent.run(), self._loop))
        return self

    def wait_connected(self, timeout: float = 10.0) -> None:
        async def all_connected() -> None:
            await asyncio.gather(*(a.connected.wait() for a in self.fabric.values()))
        waiting = asyncio.run_coroutine_threadsafe(asyncio.wait_for(all_connected(), timeout), self._loop)
        waiting.result(timeout + 1)

    def disconnect(self, site: str) -> None:
        """Take one site's agent off the link for good (as when its room loses power)."""
        index = list(self.fabric).index(site)
        self._tasks[index].cancel()

    def __exit__(self, *exc: object) -> None:
        for task in self._tasks:
            task.cancel()

        async def settle() -> None:
            current = asyncio.current_task()
            pending = [t for t in asyncio.all_tasks() if t is not current]
            for t in pending:
                t.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(*pending, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(settle(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
