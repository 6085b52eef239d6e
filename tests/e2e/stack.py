"""The whole system as real processes: central under uvicorn, ``roomops sim`` for the six demo
sites, and one ``roomops agent run`` per site, on a private copy of the shipped profiles.

Addresses: the shipped sites live on ``127.0.<site>.<n>``; the copy moves every one to
``127.24N.<site>.<n>`` (N from the pid), a range no demo, benchmark (127.250.1xx), agent test
(127.251/252) or ``loopback`` fixture (127.200+worker) uses, so the stack never fights a running
demo. Ports stay as profiled (the address is what keeps devices apart).

Seeding: users and sites go straight into central's fresh SQLite database (no codec URI or
multisite capacity: central must learn those from the agents' ``hello``); each site's token
comes from a real ``roomops central token issue`` process.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent.profiles import ResolvedSite, load_site
from roomops.demo_procs import Child, ChildProcesses, read_line, roomops_argv

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "e2e-password-1"
ROLES = ("admin", "engineer", "secretariat", "viewer")
STARTUP_SECONDS = 90.0
#: agents' health poll: short, so device state reaches central quickly
POLL_SECONDS = 1.5


class StackError(AssertionError):
    """A part of the stack did not come up; the message carries its log tail."""


def private_profiles(root: Path) -> Path:
    """The shipped profiles under ``root/profiles``, every 127.0.x.y moved to 127.24N.x.y."""
    profiles = root / "profiles"
    shutil.copytree(REPO / "profiles", profiles)
    second = 240 + os.getpid() % 10
    for folder in ("sites", "venues"):
        for file in (profiles / folder).glob("*.yaml"):
            text = file.read_text(encoding="utf-8")
            file.write_text(text.replace("127.0.", f"127.{second}."), encoding="utf-8")
    return profiles


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def seed(data: Path, sites: list[ResolvedSite]) -> None:
    """A fresh database: one user per role (named after it) and the sites, without codec facts."""
    from central import migrate
    from central.db import make_engine, make_session_factory, transaction
    from central.services import accounts
    from central.settings import Settings

    settings = Settings.from_env({}, data_dir=data)
    engine = make_engine(settings.resolved_database_url())
    try:
        migrate.upgrade(engine)
        settings.resolved_secret_key()
        with transaction(make_session_factory(engine)) as session:
            for role in ROLES:
                accounts.create_user(session, role, PASSWORD, [role])
            for site in sites:
                accounts.create_site(session, site.id, name=site.name_en, name_zh=site.name_zh,
                                     timezone=site.timezone)
    finally:
        engine.dispose()


def issue_tokens(data: Path, sites: list[ResolvedSite], tokens: Path) -> dict[str, Path]:
    """``roomops central token issue`` per site (in parallel); each token written 0600."""
    procs = {site.id: subprocess.Popen(
        roomops_argv("central", "--data-dir", str(data), "--database-url", "", "token", "issue",
                     "--site", site.id),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True, env=_env())
        for site in sites}
    files: dict[str, Path] = {}
    tokens.mkdir(parents=True, exist_ok=True)
    for site_id, proc in procs.items():
        out, err = proc.communicate(timeout=60)
        if proc.returncode != 0 or not out.strip():
            raise StackError(f"token issue for {site_id} failed ({proc.returncode}): {err}")
        path = tokens / f"{site_id}.token"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(out.strip() + "\n")
        files[site_id] = path
    return files


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROOMOPS_")}
    env.update(extra)
    return env


@dataclass
class Stack:
    root: Path
    url: str
    data: Path
    sites: list[ResolvedSite]
    children: ChildProcesses
    central: Child
    simulators: Child
    agents: dict[str, Child] = field(default_factory=dict)
    _headers: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def site_ids(self) -> list[str]:
        return [s.id for s in self.sites]

    @property
    def recordings_dir(self) -> Path:
        return self.data / "recordings"

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=15.0)

    def headers(self, role: str) -> dict[str, str]:
        """A bearer header for the user named after ``role`` (signed in once per stack)."""
        if role not in self._headers:
            with self.client() as client:
                reply = client.post("/api/v1/auth/token", data={"username": role, "password": PASSWORD})
            if reply.status_code != 200:
                raise StackError(f"sign-in as {role}: HTTP {reply.status_code} {reply.text[:200]}")
            self._headers[role] = {"Authorization": f"Bearer {reply.json()['access_token']}"}
        return self._headers[role]

    def get(self, path: str, role: str = "viewer", **params: Any) -> Any:
        with self.client() as client:
            reply = client.get(path, headers=self.headers(role), params=params)
        if reply.status_code != 200:
            raise StackError(f"GET {path}: HTTP {reply.status_code} {reply.text[:300]}")
        return reply.json()

    def post(self, path: str, role: str, body: Any = None) -> httpx.Response:
        with self.client() as client:
            return client.post(path, headers=self.headers(role), json=body)

    def check_alive(self) -> None:
        for child in self.children.children:
            if child.proc.poll() is not None:
                raise StackError(f"{child.name} exited with {child.proc.returncode}:\n{child.tail(30)}")

    def logs(self, lines: int = 20) -> str:
        return "\n".join(f"--- {c.name}\n{c.tail(lines)}" for c in self.children.children)

    def wait_for(self, probe: Any, timeout: float, what: str, interval: float = 0.25) -> Any:
        """Call ``probe()`` until it returns something truthy; fails with the last value and the
        processes' log tails. Polls an HTTP API, not a device: nothing to read in between."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            self.check_alive()
            last = probe()
            if last:
                return last
            time.sleep(interval)
        raise StackError(f"{what}: not within {timeout:g} s; last seen: {last!r}\n{self.logs()}")


@contextmanager
def running_stack(root: Path) -> Iterator[Stack]:
    profiles = private_profiles(root)
    sites = [load_site(f) for f in sorted((profiles / "sites").glob("*.yaml"))]
    data = root / "central"
    seed(data, sites)
    tokens = issue_tokens(data, sites, root / "tokens")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    children = ChildProcesses(root / "logs", env=_env(ROOMOPS_COMMAND_DEADLINE_SECONDS="60"), cwd=root)
    try:
        central = children.start("central", roomops_argv(
            "central", "--data-dir", str(data), "--database-url", "", "serve", "--host", "127.0.0.1",
            "--port", str(port), "--log-level", "warning"))
        sim = children.start("simulators", roomops_argv(
            "sim", "--all", "--profiles", str(profiles), "--json"), capture_stdout=True)
        if not read_line(sim, STARTUP_SECONDS):
            sim.proc.wait(timeout=10)
            raise StackError(f"roomops sim exited with {sim.proc.returncode}:\n{sim.tail(30)}")
        stack = Stack(root=root, url=url, data=data, sites=sites, children=children, central=central,
                      simulators=sim)
        stack.wait_for(lambda: _answers(url), STARTUP_SECONDS, "central answering /healthz")
        for site in sites:
            stack.agents[site.id] = children.start(f"agent-{site.id}", roomops_argv(
                "agent", "run", "--site", site.file, "--central", url, "--token-file", str(tokens[site.id]),
                "--state-dir", str(root / "agents" / site.id), "--poll-interval", f"{POLL_SECONDS:g}",
                "--lead", "30"))
        wanted = set(stack.site_ids)

        def all_connected() -> bool:
            sites_now = stack.get("/api/v1/sites")
            return {s["id"] for s in sites_now if s["agent_connected"]} >= wanted

        stack.wait_for(all_connected, STARTUP_SECONDS, "six agents connected")
        yield stack
    finally:
        problems = children.stop_all()
        if problems:
            print("\n".join(problems), file=sys.stderr)


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False



@dataclass
class _Shared:
    """The session's running stack (at most one), or why it could not start."""

    stack: Stack | None = None
    error: Exception | None = None
    closer: ExitStack | None = None


_SHARED = pytest.StashKey[_Shared]()
#: the fixture name that marks a test as needing the stack
FIXTURE = "stack"


def acquire_stack(config: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> Stack:
    """The running stack, started on first use. tests/e2e and the dashboard's browser tests both
    use it: starting it is most of their run time. A stack that failed to start is not retried:
    later callers get the same failure at once instead of waiting for it again."""
    shared = config.stash.setdefault(_SHARED, _Shared())
    if shared.error is not None:
        raise StackError(f"the stack did not start: {shared.error!r}") from shared.error
    if shared.stack is None:
        closer = ExitStack()
        try:
            shared.stack = closer.enter_context(running_stack(tmp_path_factory.mktemp("e2e")))
        except Exception as exc:
            shared.error = exc
            raise
        shared.closer = closer
        config.add_cleanup(lambda: release_stack(config))    # an interrupted session stops it too
    return shared.stack


def release_stack(config: pytest.Config) -> None:
    """Stop the running stack, if any."""
    shared = config.stash.get(_SHARED, None)
    if shared is None or shared.closer is None:
        return
    closer, shared.closer, shared.stack = shared.closer, None, None
    closer.close()


#: Test folders whose tests may run while the stack idles between two tests that use it (they are
#: short); anything else runs only after it stopped.
NEIGHBOURS = (REPO / "tests" / "e2e", REPO / "tests" / "dashboard")
_LAST_USER = pytest.StashKey[int]()


def _last_user(session: pytest.Session) -> int:
    """Index in the session's run order of the last test that uses the stack (-1: none)."""
    if _LAST_USER not in session.config.stash:
        users = [i for i, item in enumerate(session.items) if FIXTURE in getattr(item, "fixturenames", ())]
        session.config.stash[_LAST_USER] = users[-1] if users else -1
    return session.config.stash[_LAST_USER]


def release_unless_needed_next(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """For ``pytest_runtest_teardown``: stop the stack unless the next test uses it, or the next
    test is a short one of tests/e2e or tests/dashboard with a user of the stack after it. So
    ``pytest tests/dashboard tests/e2e`` starts it once, and in a whole run its processes never
    load the machine under unrelated tests (it starts again where needed)."""
    if nextitem is not None:
        if FIXTURE in getattr(nextitem, "fixturenames", ()):
            return
        nearby = any(nextitem.path.is_relative_to(folder) for folder in NEIGHBOURS)
        if nearby and item.session.items.index(nextitem) < _last_user(item.session):
            return
    release_stack(item.config)
