"""A shipped demo site moved onto a private test address range, served by the real simulators.

``make_test_site(root, "urumqi")`` writes ``root/profiles/...`` with the shipped models, the site
profile and its venue, every address rewritten from the demo plan (``127.0.20.*`` for the site,
``127.1.20.*`` for the venue) to two ranges under ``127.251`` / ``127.252`` that no demo and no
``loopback`` fixture uses, and the serial line, secrets, known_hosts and simulator host keys
under ``root/.roomops``. The test gets real profile files through the real loader, so the
agent, ``roomops sim`` and the simulators all see exactly what a shipped site gives them.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.profiles import ResolvedSite, load_site
from agent.runtime import Agent, AgentConfig
from agent.site import SiteSpec, from_resolved
from roomops.sim_cli import bridge_uris, to_sim_specs
from simulators.site import SiteSimulation

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "profiles"
_counter = itertools.count()

#: the demo address plans of each shipped site and its venue (see the profiles' headers)
DEMO_PLANS = {"urumqi": ("127.0.20.", "127.1.20.")}


@dataclass
class SiteCopy:
    root: Path
    site_file: Path
    venue_file: Path
    site_prefix: str            # "127.251.N." where the site's devices live
    venue_prefix: str           # "127.252.N." where the venue puts them

    def load(self) -> ResolvedSite:
        return load_site(self.site_file)


def _ranges() -> tuple[str, str]:
    n = (os.getpid() + next(_counter)) % 250 + 1
    return f"127.251.{n}.", f"127.252.{n}."


def make_test_site(root: Path, site: str = "urumqi", venue: str = "urumqi-convention-center",
                   *, devices: Mapping[str, Sequence[str]] | None = None) -> SiteCopy:
    """Copy ``site`` (and ``venue``) under ``root`` on a test address range; ``devices`` adds
    profile lines to device entries, e.g. ``{"display2": ["timeout: 1"]}``."""
    profiles = root / "profiles"
    shutil.copytree(SHIPPED / "models", profiles / "models")
    (profiles / "sites").mkdir()
    (profiles / "venues").mkdir()
    site_old, venue_old = DEMO_PLANS[site]
    site_new, venue_new = _ranges()
    text = (SHIPPED / "sites" / f"{site}.yaml").read_text(encoding="utf-8")
    # the head office's addresses (ping target, DNS) stay: they are not this room's devices
    text = text.replace(site_old, site_new)
    for device, lines in (devices or {}).items():
        text = device_lines(text, device, lines)
    site_file = profiles / "sites" / f"{site}.yaml"
    site_file.write_text(text, encoding="utf-8")
    vtext = (SHIPPED / "venues" / f"{venue}.yaml").read_text(encoding="utf-8")
    venue_file = profiles / "venues" / f"{venue}.yaml"
    venue_file.write_text(vtext.replace(venue_old, venue_new), encoding="utf-8")
    return SiteCopy(root, site_file, venue_file, site_new, venue_new)


def device_lines(text: str, device: str, lines: Sequence[str]) -> str:
    """``text`` with ``lines`` (one YAML key each) added at the top of ``device``'s entry."""
    head = f"\n  - id: {device}\n"
    if head not in text:
        raise ValueError(f"no device {device!r}")
    return text.replace(head, head + "".join(f"    {line}\n" for line in lines), 1)


@contextlib.contextmanager
def served(site: ResolvedSite | Sequence[ResolvedSite], *, faults: Mapping[str, list[str]] | None = None
           ) -> Iterator[SiteSimulation]:
    """Every device of the site(s) served by its simulator, the bridges on the call fabric."""
    sites = [site] if isinstance(site, ResolvedSite) else list(site)
    specs = [spec for s in sites for spec in to_sim_specs(s)]
    with SiteSimulation(specs, faults=faults, bridges=bridge_uris(sites)) as sim:
        yield sim


def agent_for(resolved: ResolvedSite, state_dir: Path, **config: Any) -> Agent:
    config.setdefault("poll_interval", 0)
    agent = Agent(from_resolved(resolved), AgentConfig(state_dir=state_dir, **config))
    agent.resolved = resolved
    return agent


def spec_of(resolved: ResolvedSite) -> SiteSpec:
    return from_resolved(resolved)
