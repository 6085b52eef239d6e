"""The lock files match pyproject.toml: every dependency (and what its extras pull in) is pinned
at a version its specifier allows, with hashes, as a plain ``name==version`` list that scripts
and the offline bundle can install from. The runtime lock holds the ``all`` extra (agent and
central), the test lock adds ``test``. After changing a dependency run ``scripts/lock``."""

from __future__ import annotations

import importlib.metadata
import re
import tomllib
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\;]+)")


def project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def wanted(*extras: str) -> list[str]:
    """The base dependencies and those of the extras, with ``roomops[x,y]`` (an extra naming
    other extras of ours) expanded, as pip does."""
    meta = project()
    out = list(meta["dependencies"])
    todo, seen = list(extras), set()
    while todo:
        extra = todo.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for text in meta["optional-dependencies"][extra]:
            req = Requirement(text)
            if canonicalize_name(req.name) == "roomops":
                todo.extend(req.extras)
            else:
                out.append(text)
    return out


def names(requirements: list[str]) -> set[str]:
    return {canonicalize_name(Requirement(r).name) for r in requirements}


def pins(lock: str) -> dict[str, Version]:
    """name -> pinned version; every entry carries at least one sha256 hash."""
    text = (ROOT / lock).read_text()
    found: dict[str, Version] = {}
    entries = re.split(r"\n(?=[A-Za-z0-9])", text)
    for entry in entries:
        match = PIN.match(entry)
        if match is None:
            assert entry.startswith("#") or not entry.strip(), f"{lock}: not a pinned entry: {entry[:80]!r}"
            continue
        name = canonicalize_name(match.group(1))
        assert "--hash=sha256:" in entry, f"{lock}: {name} has no hash"
        assert name not in found, f"{lock}: {name} pinned twice"
        found[name] = Version(match.group(2))
    assert found, f"{lock}: no pins"
    return found


def required(requirements: list[str]) -> list[Requirement]:
    """The requirements and, for each requested extra, what that extra pulls in (from the
    installed distribution's metadata), for this platform."""
    out: list[Requirement] = []
    env = default_environment()
    for text in requirements:
        req = Requirement(text)
        if req.marker is not None and not req.marker.evaluate(env):
            continue
        out.append(req)
        for extra in req.extras:
            for dep in importlib.metadata.requires(req.name) or []:
                sub = Requirement(dep)
                if sub.marker is not None and sub.marker.evaluate({**env, "extra": extra}) \
                        and not sub.marker.evaluate({**env, "extra": ""}):
                    out.append(sub)
    return out


@pytest.mark.parametrize(("lock", "extras"),
                         [("requirements.lock", ("all",)), ("requirements-test.lock", ("test",))])
def test_the_lock_pins_every_dependency_within_its_specifier(lock: str, extras: tuple[str, ...]) -> None:
    locked = pins(lock)
    assert "roomops" not in locked, f"{lock} pins RoomOps itself: scripts/lock drops that entry"
    problems = []
    for req in required(wanted(*extras)):
        name = canonicalize_name(req.name)
        if name not in locked:
            problems.append(f"{req} is not in {lock}")
        elif not req.specifier.contains(locked[name], prereleases=True):
            problems.append(f"{lock} pins {name}=={locked[name]}, outside {req.specifier}")
    assert problems == [], "run scripts/lock:\n" + "\n".join(problems)


def test_each_side_installs_only_its_own_libraries() -> None:
    """A site agent gets no web server, database or PDF stack; central gets no device drivers."""
    agent, central = names(wanted("agent")), names(wanted("central"))
    assert not agent & {"fastapi", "uvicorn", "alembic", "sqlalchemy", "reportlab", "psycopg",
                        "argon2-cffi", "jinja2", "prometheus-client", "python-multipart"}
    assert not central & {"netmiko", "pyserial", "paramiko", "apscheduler"}
    assert names(wanted("all")) == agent | central
    assert names(wanted("test")) >= names(wanted("all")), "the tests run both sides"


def test_runtime_and_test_locks_agree() -> None:
    runtime, test = pins("requirements.lock"), pins("requirements-test.lock")
    assert runtime.keys() <= test.keys()
    assert {n: v for n, v in runtime.items() if test[n] != v} == {}


def test_the_locks_name_no_index_or_local_path() -> None:
    for lock in ("requirements.lock", "requirements-test.lock"):
        text = (ROOT / lock).read_text()
        for forbidden in ("--index-url", "--extra-index-url", "--find-links", "file:", "-e ", "/work/"):
            assert forbidden not in text, f"{lock} mentions {forbidden!r}"


def test_the_floors_are_what_the_code_needs() -> None:
    """Minimum versions the code relies on (a floor below them installs a broken RoomOps)."""
    floors = {canonicalize_name(Requirement(r).name): Requirement(r).specifier for r in wanted("test")}
    assert not floors["websockets"].contains("12.0")          # websockets.asyncio.client: 13
    assert not floors["pytest-asyncio"].contains("0.23.8")    # asyncio_default_fixture_loop_scope
    assert not floors["schemathesis"].contains("3.39")        # the 4.x Python API
