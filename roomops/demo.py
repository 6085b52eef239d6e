"""``roomops demo``: the whole system on one machine, from one command.

    roomops demo [--password P] [--faults] [--port N] [--profiles DIR] [--data-dir DIR]

0. refuses, before touching anything, when another demo holds the data folder or an address it
   needs is in use (``roomops.demo_guard``), naming what is busy;
1. central's database (SQLite in the data dir, started afresh each run): one user per role named
   after it (admin, engineer, secretariat, viewer), the six sites of ``PROFILES/sites`` and a
   token per site (written 0600 to ``DATA/tokens/<site>.token`` for its agent);
2. ``roomops central serve``, ``roomops sim --all`` (every device of every site in one process,
   on the profiles' addresses) and one ``roomops agent run`` per site, as child processes with
   their logs in ``DATA/logs``;
3. a six-site bridge meeting a few minutes ahead (through the API, as ``secretariat``) and one
   monthly inspection per site (``roomops.demo_inspect``), so the inspection report has records;
4. prints the dashboard URL and waits. Ctrl-C (or SIGTERM) stops every child and exits 0.

``--faults`` starts a few simulators with faults on, so the fault pages have something to show.
Without ``--password`` a random password is printed once and written to ``DATA/demo-password``
(mode 0600).
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from agent.profiles import ProfileError, ResolvedSite, load_site
from roomops.demo_guard import Busy, addresses, check_free, take_lock
from roomops.demo_inspect import request_inspections
from roomops.demo_procs import Child, ChildProcesses, read_line, roomops_argv

ROLES = ("admin", "engineer", "secretariat", "viewer")
HOST_SITE = "shanghai-hq"
#: a camera that does not answer (device down -> fault), a projector lamp error (degraded
#: display), a codec whose SIP registration fails (pre-meeting self-test not ready)
DEMO_FAULTS = ("lhasa.camera1=silent", "xining.display1=lamp-error", "guangzhou.codec=unregistered")
STARTUP_SECONDS = 60.0
AGENTS_SECONDS = 90.0


class DemoError(Exception):
    """The demo could not come up; the message says which part and why."""


@dataclass
class DemoPlan:
    profiles: Path
    data_dir: Path
    host: str
    port: int
    password: str
    faults: list[str]
    meeting_in: float              # minutes from now
    lead: float                    # pre-meeting self-test lead, minutes
    poll_interval: float
    log_format: str | None = None
    sites: list[ResolvedSite] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo", help="central, six simulated sites and their agents on this machine",
        description="Start central on SQLite, the six simulated sites and their agents; Ctrl-C stops all.")
    parser.add_argument("--password", help="password of the four demo users (default: random, printed once)")
    parser.add_argument("--faults", action="store_true", help="start a few devices with faults on")
    parser.add_argument("--port", type=int, default=8000, help="central's port (default 8000)")
    parser.add_argument("--host", default="127.0.0.1", help="central's address (default 127.0.0.1)")
    parser.add_argument("--profiles", default="profiles", help="profiles folder (default ./profiles)")
    parser.add_argument("--data-dir", default=".roomops/demo",
                        help="central database, agent state, tokens and logs; wiped at start "
                             "(default .roomops/demo)")
    parser.add_argument("--meeting-in", type=float, default=5.0, help="minutes until the demo meeting")
    parser.add_argument("--lead", type=float, default=4.0, help="pre-meeting self-test lead, minutes")
    parser.add_argument("--poll-interval", type=float, default=10.0, help="agents' health poll, seconds")
    parser.add_argument("--log-format", choices=("text", "json"), default=None,
                        help="log files in DATA/logs as text (default) or JSON lines")
    parser.set_defaults(func=run)


# -- steps ---------------------------------------------------------------------------------------------
def load_sites(profiles: Path) -> list[ResolvedSite]:
    files = sorted((profiles / "sites").glob("*.yaml"))
    if not files:
        raise DemoError(f"no site profiles in {profiles / 'sites'}")
    return [load_site(f) for f in files]


def fresh_data_dir(data_dir: Path) -> None:
    """The demo starts from a clean slate: its own database, agent state and logs only."""
    for name in ("central.db", "central.db-wal", "central.db-shm", "agents", "tokens", "logs",
                 "demo-password"):
        path = data_dir / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    data_dir.mkdir(parents=True, exist_ok=True)


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to a file only this user can read (created 0600, never widened)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.unlink()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text + "\n")


def site_codec(site: ResolvedSite) -> tuple[str | None, int | None]:
    """The codec's SIP URI and its multisite capacity, as central needs them for host mode."""
    codecs = site.devices_with_role("codec")
    if not codecs:
        return None, None
    codec = codecs[0]
    uri = (codec.desired.get("sip") or {}).get("uri")
    capacity = codec.model.capabilities.get("multisite")
    return (str(uri) if uri else None), (int(capacity) if capacity else None)


def seed_central(plan: DemoPlan) -> dict[str, Path]:
    """Users, sites and agent tokens straight into a fresh database; returns the token files."""
    from central import migrate
    from central.db import make_engine, make_session_factory, transaction
    from central.services import accounts, audit
    from central.settings import Settings

    settings = Settings.from_env(data_dir=plan.data_dir, database_url="")
    engine = make_engine(settings.resolved_database_url())
    token_files: dict[str, Path] = {}
    try:
        migrate.upgrade(engine)
        settings.resolved_secret_key()
        with transaction(make_session_factory(engine)) as session:
            for role in ROLES:
                accounts.create_user(session, role, plan.password, [role])
                audit.record(session, actor="demo", action="user.add", target=role, outcome="succeeded",
                             detail={"roles": [role]})
            for site in plan.sites:
                uri, capacity = site_codec(site)
                accounts.create_site(session, site.id, name=site.name_en, name_zh=site.name_zh,
                                     timezone=site.timezone, codec_uri=uri, multisite_capacity=capacity)
                row, token = accounts.issue_site_token(session, site.id, "demo")
                audit.record(session, actor="demo", action="token.issue", target=site.id,
                             outcome="succeeded", detail={"token_id": row.id})
                token_files[site.id] = plan.data_dir / "tokens" / f"{site.id}.token"
                write_private(token_files[site.id], token)
    except accounts.AccountError as exc:
        raise DemoError(f"seeding central: {exc}") from exc
    finally:
        engine.dispose()
    return token_files


def wait_for_http(url: str, child: Child, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last = "no answer"
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if child.proc.poll() is not None:
                raise DemoError(f"central exited with {child.proc.returncode}:\n{child.tail()}")
            try:
                if client.get(url).status_code == 200:
                    return
            except httpx.HTTPError as exc:
                last = str(exc)
            time.sleep(0.2)    # a server starting up, not a device: nothing to read until it listens
    raise DemoError(f"central did not answer {url} within {timeout:g} s ({last}):\n{child.tail()}")


def login(client: httpx.Client, username: str, password: str) -> dict[str, str]:
    reply = client.post("/api/v1/auth/token", data={"username": username, "password": password})
    if reply.status_code != 200:
        raise DemoError(f"sign-in as {username} failed: HTTP {reply.status_code} {reply.text[:200]}")
    return {"Authorization": f"Bearer {reply.json()['access_token']}"}


def schedule_meeting(plan: DemoPlan) -> str:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=plan.meeting_in)
    bridge = next((s.bridge_uri for s in plan.sites if s.bridge_uri), None)
    body = {"title": "RoomOps demo: six-site liaison meeting", "start": start.isoformat(),
            "end": (start + timedelta(hours=1)).isoformat(), "host_site": HOST_SITE,
            "sites": [s.id for s in plan.sites], "mode": "bridge" if bridge else "host",
            "bridge_uri": bridge}
    if HOST_SITE not in body["sites"]:
        body["host_site"] = plan.sites[0].id
    with httpx.Client(base_url=plan.url, timeout=10.0) as client:
        headers = login(client, "secretariat", plan.password)
        reply = client.post("/api/v1/meetings", json=body, headers=headers)
        if reply.status_code != 201:
            raise DemoError(f"scheduling the demo meeting failed: HTTP {reply.status_code} "
                            f"{reply.text[:300]}")
        return str(reply.json()["id"])


def connected_sites(plan: DemoPlan) -> set[str]:
    with httpx.Client(base_url=plan.url, timeout=10.0) as client:
        reply = client.get("/api/v1/sites", headers=login(client, "viewer", plan.password))
        reply.raise_for_status()
        return {s["id"] for s in reply.json() if s["agent_connected"]}


def wait_for_agents(plan: DemoPlan, children: ChildProcesses, stop: threading.Event) -> set[str]:
    """Sites whose agent is connected once all are, or when the deadline passes."""
    wanted = {s.id for s in plan.sites}
    deadline = time.monotonic() + AGENTS_SECONDS
    connected: set[str] = set()
    while not stop.is_set() and time.monotonic() < deadline:
        dead = children.exited()
        if dead:
            raise DemoError(f"{dead[0].name} exited with {dead[0].proc.returncode}:\n{dead[0].tail()}")
        connected = connected_sites(plan)
        if connected >= wanted:
            break
        stop.wait(0.5)
    return connected


# -- the run -------------------------------------------------------------------------------------------
def plan_from(args: argparse.Namespace) -> tuple[DemoPlan, bool]:
    generated = not args.password
    password = args.password or secrets.token_urlsafe(12)
    if len(password) < 8:
        raise DemoError("--password: at least 8 characters")
    plan = DemoPlan(profiles=Path(args.profiles).resolve(), data_dir=Path(args.data_dir).resolve(),
                    host=args.host, port=args.port, password=password,
                    faults=list(DEMO_FAULTS) if args.faults else [], meeting_in=args.meeting_in,
                    lead=args.lead, poll_interval=args.poll_interval, log_format=args.log_format)
    return plan, generated


def start_children(plan: DemoPlan, children: ChildProcesses, token_files: dict[str, Path]) -> None:
    central = children.start("central", roomops_argv(
        "central", "--data-dir", str(plan.data_dir), "--database-url", "",
        "serve", "--host", plan.host, "--port", str(plan.port), "--log-level", "info",
        *(["--log-format", plan.log_format] if plan.log_format else [])))
    log_args = ["--log-format", plan.log_format] if plan.log_format else []
    sim_args = ["sim", "--all", "--profiles", str(plan.profiles), "--json", *log_args]
    for fault in plan.faults:
        sim_args += ["--fault", fault]
    sim = children.start("simulators", roomops_argv(*sim_args), capture_stdout=True)
    line = read_line(sim, STARTUP_SECONDS)
    if not line:
        sim.proc.wait(timeout=5)
        raise DemoError(f"roomops sim exited with {sim.proc.returncode}:\n{sim.tail()}")
    wait_for_http(f"{plan.url}/healthz", central, STARTUP_SECONDS)
    for site in plan.sites:
        children.start(f"agent-{site.id}", roomops_argv(
            "agent", "run", "--site", site.file, "--central", plan.url,
            "--token-file", str(token_files[site.id]),
            "--state-dir", str(plan.data_dir / "agents" / site.id),
            "--poll-interval", f"{plan.poll_interval:g}", "--lead", f"{plan.lead:g}", *log_args))


def announce(plan: DemoPlan, generated: bool, connected: set[str], meeting_id: str,
             inspections: dict[str, str]) -> None:
    say = print
    say("")
    say(f"RoomOps demo is running: dashboard at {plan.url}/")
    say(f"  users: {', '.join(ROLES)} (one per role, named after it)")
    if generated:
        path = plan.data_dir / "demo-password"
        write_private(path, plan.password)
        say(f"  password: {plan.password}   (shown once; also in {path}, readable only by you)")
    else:
        say("  password: the one given with --password")
    missing = sorted({s.id for s in plan.sites} - connected)
    say(f"  sites: {len(connected)}/{len(plan.sites)} agents connected"
        + (f" (not yet: {', '.join(missing)})" if missing else ""))
    say(f"  meeting {meeting_id} starts in {plan.meeting_in:g} min; "
        f"pre-meeting self-tests run {plan.lead:g} min before")
    if inspections:
        say(f"  monthly inspection running at {len(inspections)} sites: records under Reports")
    if plan.faults:
        say(f"  faults on: {', '.join(plan.faults)}")
    say(f"  logs: {plan.data_dir / 'logs'}")
    say("Press Ctrl-C to stop.", flush=True)


def run(args: argparse.Namespace) -> int:
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    children: ChildProcesses | None = None
    lock = None
    status = 0
    try:
        plan, generated = plan_from(args)
        plan.sites = load_sites(plan.profiles)
        lock = take_lock(plan.data_dir)      # before anything of a running demo could be touched
        check_free(addresses(plan.sites, plan.host, plan.port))
        fresh_data_dir(plan.data_dir)
        token_files = seed_central(plan)
        children = ChildProcesses(plan.data_dir / "logs", cwd=plan.profiles.parent)
        print(f"starting central on {plan.url}, the simulators of {len(plan.sites)} sites "
              "and their agents...", flush=True)
        start_children(plan, children, token_files)
        connected = wait_for_agents(plan, children, stop)
        meeting_id = schedule_meeting(plan)
        inspections = request_inspections(plan.data_dir, sorted(connected))
        if not stop.is_set():
            announce(plan, generated, connected, meeting_id, inspections)
            auto = os.environ.get("ROOMOPS_AUTO_START_MEETINGS", "").strip().lower() in ("1", "true", "on")
            print("  " + ("the meeting starts by itself at its start time (ROOMOPS_AUTO_START_MEETINGS)"
                          if auto else "the meeting does not start by itself: press Start on its page "
                          "(ROOMOPS_AUTO_START_MEETINGS=1 starts meetings at their start time)"), flush=True)
        while not stop.wait(1.0):
            dead = children.exited()
            if dead:
                raise DemoError(f"{dead[0].name} exited with {dead[0].proc.returncode}:\n{dead[0].tail()}")
    except ProfileError as exc:
        print("roomops demo: the site profiles have problems:", file=sys.stderr)
        for issue in exc.issues:
            print(f"  {issue}", file=sys.stderr)
        status = 1
    except (DemoError, Busy, TimeoutError, OSError, httpx.HTTPError) as exc:
        print(f"roomops demo: {exc}", file=sys.stderr)
        status = 1
    finally:
        if children is not None:
            print("stopping the demo...", file=sys.stderr, flush=True)
            for problem in children.stop_all():
                print(f"roomops demo: {problem}", file=sys.stderr)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if lock is not None:
            lock.close()
    if status == 0:
        print("demo stopped", file=sys.stderr)
    return status
