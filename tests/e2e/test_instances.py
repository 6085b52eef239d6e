"""Issue 15: two ``roomops central serve`` processes on one PostgreSQL database behind HAProxy
(deploy/haproxy-roomops.cfg as shipped), ``roomops sim`` for the six demo sites and their real
agents dialling the balancer.

A meeting is scheduled through instance A and started through instance B: every site's agent
gets its schedule (it runs the pre-meeting self-test for that meeting) and connects to the
bridge. Then the instance holding most links is killed with SIGKILL mid-meeting: its agents
reconnect through the balancer to the survivor, the meeting goes on with the same calls, every
report is ingested once, and no codec was asked to dial twice.
"""

from __future__ import annotations

import os
import shutil
import signal
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy import Engine, func, select

from agent.profiles import ResolvedSite, load_site
from roomops.demo_procs import Child, ChildProcesses, read_line, roomops_argv
from tests.e2e.stack import (
    PASSWORD,
    REPO,
    ROLES,
    Stack,
    StackError,
    _answers,
    free_port,
    private_profiles,
    release_stack,
)

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.timeout(300)]

PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
HAPROXY_CONFIG = REPO / "deploy" / "haproxy-roomops.cfg"
STARTUP_SECONDS = 90.0
HOST = "shanghai-hq"
SECRET = "e2e-shared-secret-for-both-instances-0123456789"


def _haproxy() -> str | None:
    return shutil.which("haproxy") or next((p for p in ("/usr/sbin/haproxy",) if Path(p).exists()), None)


def _postgres_problem() -> str | None:
    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return None
    except psycopg.OperationalError as exc:
        return f"PostgreSQL at 127.0.0.1:5432 unreachable: {str(exc).strip().splitlines()[0]}"


@dataclass
class Pair:
    stack: Stack            # its url is the balancer's
    engine: Engine
    centrals: dict[str, Child]
    urls: dict[str, str]

    def central_url(self, name: str) -> str:
        return self.urls[name]


def _seed(url: str, sites: list[ResolvedSite], tokens_dir: Path) -> tuple[Engine, dict[str, Path]]:
    from central import migrate
    from central.db import make_engine, make_session_factory, transaction
    from central.services import accounts

    engine = make_engine(url)
    migrate.upgrade(engine)
    files: dict[str, Path] = {}
    tokens_dir.mkdir(parents=True)
    with transaction(make_session_factory(engine)) as session:
        for role in ROLES:
            accounts.create_user(session, role, PASSWORD, [role])
        for site in sites:
            accounts.create_site(session, site.id, name=site.name_en, name_zh=site.name_zh,
                                 timezone=site.timezone)
            _, secret = accounts.issue_site_token(session, site.id, "e2e")
            path = tokens_dir / f"{site.id}.token"
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secret + "\n")
            files[site.id] = path
    return engine, files


@pytest.fixture
def pair(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Pair]:
    # the shared e2e stack serves the same demo addresses: stop it first (it starts again for the
    # next test that needs it)
    release_stack(request.config)
    haproxy = _haproxy()
    if haproxy is None:
        pytest.skip("haproxy is not installed (scripts/test installs Debian's haproxy)")
    problem = _postgres_problem()
    if problem:
        pytest.skip(problem)
    name = f"roomops_e2e_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    engine: Engine | None = None
    children: ChildProcesses | None = None
    try:
        profiles = private_profiles(tmp_path)
        sites = [load_site(f) for f in sorted((profiles / "sites").glob("*.yaml"))]
        engine, tokens = _seed(url, sites, tmp_path / "tokens")
        ports = {"a": free_port(), "b": free_port()}
        lb_port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("ROOMOPS_")}
        env.update(ROOMOPS_SECRET_KEY=SECRET, ROOMOPS_COMMAND_DEADLINE_SECONDS="60",
                   ROOMOPS_LB_BIND=f"127.0.0.1:{lb_port}", ROOMOPS_CENTRAL1=f"127.0.0.1:{ports['a']}",
                   ROOMOPS_CENTRAL2=f"127.0.0.1:{ports['b']}")
        children = ChildProcesses(tmp_path / "logs", env=env, cwd=tmp_path)
        centrals = {n: children.start(f"central-{n}", roomops_argv(
            "central", "--data-dir", str(tmp_path / f"central-{n}"), "--database-url", url, "serve",
            "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"))
            for n, port in ports.items()}
        children.start("haproxy", [haproxy, "-db", "-f", str(HAPROXY_CONFIG)])
        sim = children.start("simulators", roomops_argv(
            "sim", "--all", "--profiles", str(profiles), "--json"), capture_stdout=True)
        if not read_line(sim, STARTUP_SECONDS):
            raise StackError(f"roomops sim exited:\n{sim.tail(30)}")
        lb = f"http://127.0.0.1:{lb_port}"
        stack = Stack(root=tmp_path, url=lb, data=tmp_path / "central-a", sites=sites, children=children,
                      central=centrals["a"], simulators=sim)
        for n, port in ports.items():
            stack.wait_for(lambda port=port: _answers(f"http://127.0.0.1:{port}"), STARTUP_SECONDS,
                           f"central {n} answering /healthz")
        stack.wait_for(lambda: _answers(lb), 30, "the balancer answering /healthz")
        for site in sites:
            stack.agents[site.id] = children.start(f"agent-{site.id}", roomops_argv(
                "agent", "run", "--site", site.file, "--central", lb, "--token-file", str(tokens[site.id]),
                "--state-dir", str(tmp_path / "agents" / site.id), "--poll-interval", "1.5", "--lead", "1"))
        yield Pair(stack, engine, centrals, {n: f"http://127.0.0.1:{p}" for n, p in ports.items()})
    finally:
        if children is not None:
            problems = children.stop_all()
            if problems:
                print("\n".join(problems))
        if engine is not None:
            engine.dispose()
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _rows(engine: Engine, statement: Any) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(statement))


def _owners(engine: Engine) -> dict[str, str | None]:
    from central.models import Site
    return {site: instance for site, instance, connected in _rows(
        engine, select(Site.id, Site.link_instance, Site.agent_connected)) if connected}


def _post(url: str, path: str, role: str, body: Any = None) -> httpx.Response:
    with httpx.Client(base_url=url, timeout=15) as client:
        token = client.post("/api/v1/auth/token", data={"username": role, "password": PASSWORD}).json()
        return client.post(path, headers={"Authorization": f"Bearer {token['access_token']}"}, json=body)


def _sites(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["site_id"]: s for s in body["sites"]}


def test_two_instances_behind_haproxy_survive_losing_one_mid_meeting(pair: Pair) -> None:
    from central.models import CommandRow, EventRow, IngestedMessage, SelftestRow

    stack, engine = pair.stack, pair.engine
    wanted = set(stack.site_ids)
    stack.wait_for(lambda: set(_owners(engine)) >= wanted, STARTUP_SECONDS, "six agents linked")
    owners = _owners(engine)
    assert None not in owners.values()

    # scheduled through A, a minute ahead: every agent's pre-meeting self-test (lead 1 min) shows
    # that its schedule reached it, whichever instance it is linked to
    bridge = stack.sites[0].bridge_uri
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=75)
    created = _post(pair.central_url("a"), "/api/v1/meetings", "secretariat", {
        "title": "e2e: two instances", "start": start.isoformat(),
        "end": (start + timedelta(hours=1)).isoformat(), "host_site": HOST, "sites": stack.site_ids,
        "mode": "bridge", "bridge_uri": bridge})
    assert created.status_code == 201, created.text
    meeting = created.json()["id"]

    def tested() -> set[str]:
        done = {site for (site,) in _rows(engine, select(SelftestRow.site_id).where(
            SelftestRow.meeting_id == meeting, SelftestRow.state == "done"))}
        return done if done >= wanted else set()

    stack.wait_for(tested, 60, "every site's pre-meeting self-test for the meeting")

    started = _post(pair.central_url("b"), f"/api/v1/meetings/{meeting}/start", "secretariat")
    assert started.status_code == 202, started.text

    def connected() -> dict[str, dict[str, Any]] | None:
        sites = _sites(stack.get(f"/api/v1/meetings/{meeting}"))
        ok = set(sites) == wanted and all(s["call_state"] == "connected"
                                          and s["call"].get("state") == "connected" for s in sites.values())
        return sites if ok else None

    before = stack.wait_for(connected, 60, "six sites connected to the bridge")
    calls_before = {site: link["call"].get("call_id") for site, link in before.items()}
    assert all(calls_before.values()), calls_before

    # kill -9 the instance holding most links (the other survives)
    owners = _owners(engine)
    ids = {name: _instance_id(pair, name) for name in pair.centrals}
    held = {name: sum(1 for owner in owners.values() if owner == iid) for name, iid in ids.items()}
    victim = max(held, key=lambda name: held[name])
    survivor = next(name for name in pair.centrals if name != victim)
    assert held[victim] >= 1, held
    pair.centrals[victim].proc.send_signal(signal.SIGKILL)
    pair.centrals[victim].proc.wait(timeout=10)
    stack.children.children.remove(pair.centrals[victim])   # its death is the test, not a failure

    stack.wait_for(lambda: set(o for o in _owners(engine).values()) == {ids[survivor]}
                   and set(_owners(engine)) >= wanted, 60, "every agent relinked to the survivor")
    after = stack.wait_for(connected, 30, "the meeting still connected everywhere")
    assert {site: link["call"].get("call_id") for site, link in after.items()} == calls_before

    # every site got exactly one connect for this meeting: no codec was asked to dial twice
    connects = _rows(engine, select(CommandRow.site_id, func.count()).where(
        CommandRow.meeting_id == meeting, CommandRow.kind == "connect").group_by(CommandRow.site_id))
    assert dict(connects) == {site: 1 for site in wanted}
    # reports were ingested once each: events carry their message id, and none appears twice
    duplicated = _rows(engine, select(EventRow.msg_id).where(EventRow.msg_id.is_not(None))
                       .group_by(EventRow.msg_id).having(func.count() > 1))
    assert duplicated == []
    assert _rows(engine, select(func.count()).select_from(IngestedMessage))[0][0] > 0
    stack.check_alive()


def _instance_id(pair: Pair, name: str) -> str:
    """The id an instance stores on the sites it links (its /healthz names it)."""
    with httpx.Client(base_url=pair.central_url(name), timeout=10) as client:
        return str(client.get("/healthz").headers["x-roomops-instance"])
