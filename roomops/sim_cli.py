"""``roomops sim``: serve every device of one or more sites with the simulators that exist.

    roomops sim --site profiles/sites/urumqi.yaml [--site ...] [--all]
                [--fault urumqi.camera1=silent ...] [--json]

Each device listens on the address, port or serial line its profile gives (a serial device
gets the profile's stable path as a symlink to its pty). Once everything listens it prints one
line per device (id, model, client URL, the simulator's credentials), or with ``--json`` one
line of JSON: a list of {id, model, url, username, password}. Then it stays in the foreground
until interrupted (Ctrl-C or SIGTERM) and stops everything.

Credentials: a demo site's are simulator credentials (its generated demo secrets file), so the
agent finds the same ones. For a real site the simulators get fresh random passwords: a real
secret is never read here, let alone printed.

Bridges: every distinct ``bridge_uri`` and ``expect.test_uri`` of the loaded sites is served by
an MCU on the call fabric (``bridge_uris(sites)``), so test calls and bridge meetings connect.

This module is the composition root between profiles and simulators: ``to_sim_specs(site)``
turns a resolved site into ``SimSpec`` objects (agent/ cannot import simulators/).
"""

from __future__ import annotations

import argparse
import json
import logging
import secrets
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from agent.logsetup import FORMATS, configure
from agent.profiles import ProfileError, ResolvedSite, load_site
from agent.profiles.secrets import SecretError
from agent.profiles.simoptions import sim_identity, sim_options
from simulators.site import SiteSimulation
from simulators.spec import SimSpec

log = logging.getLogger("roomops.sim")


def to_sim_specs(site: ResolvedSite) -> list[SimSpec]:
    """One ``SimSpec`` per device, on the profile's address/port/serial path. Passwords: the
    demo site's resolved ones, else random simulator passwords."""
    specs = []
    for device in site.devices:
        if site.demo:
            password = device.password()
        else:
            password = secrets.token_urlsafe(9) if device.password_ref else ""
        specs.append(SimSpec(
            device_id=device.id, driver=device.driver, model=device.model.id, transport=device.transport,
            host=device.host or "127.0.0.1", port=device.port, serial_link=device.serial_device,
            baudrate=device.baudrate, username=device.username, password=password,
            boot_time=device.boot_time, identity=sim_identity(device), options=sim_options(device, site)))
    return specs


def bridge_uris(sites: list[ResolvedSite]) -> list[str]:
    """The MCU URIs the sites dial: each site's ``bridge_uri`` and self-test ``test_uri``, once."""
    uris = [uri for site in sites
            for uri in (site.bridge_uri, str(site.expectations.get("test_uri") or "")) if uri]
    return list(dict.fromkeys(uris))


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "sim", help="serve a site's devices with simulators",
        description="Serve every device of the given sites with protocol simulators.")
    parser.add_argument("--site", action="append", default=[], metavar="FILE",
                        help="site profile (repeat for several sites in one process)")
    parser.add_argument("--all", action="store_true", help="every site in PROFILES/sites/")
    parser.add_argument("--profiles", default="profiles", metavar="DIR",
                        help="profiles folder for --all (default: ./profiles)")
    parser.add_argument("--fault", action="append", default=[], metavar="DEVICE=KNOB",
                        help="start DEVICE with a fault knob on, e.g. urumqi.camera1=silent or "
                             "urumqi.codec=slow=2")
    parser.add_argument("--json", action="store_true", help="print one line of JSON once listening")
    parser.add_argument("--log-format", choices=FORMATS, default=None,
                        help="log lines on stderr: text (default) or json ($ROOMOPS_LOG_FORMAT)")
    parser.set_defaults(func=run)


def parse_faults(texts: list[str]) -> dict[str, list[str]]:
    faults: dict[str, list[str]] = {}
    for text in texts:
        device, sep, knob = text.partition("=")
        if not sep or not device or not knob:
            raise ValueError(f"--fault {text!r}: expected DEVICE=KNOB, e.g. urumqi.camera1=silent")
        faults.setdefault(device.strip(), []).append(knob.strip())
    return faults


def site_files(args: argparse.Namespace) -> list[Path]:
    files = [Path(p) for p in args.site]
    if args.all:
        files += sorted((Path(args.profiles) / "sites").glob("*.yaml"))
    return files


def run(args: argparse.Namespace) -> int:
    configure(None, args.log_format)
    files = site_files(args)
    if not files:
        print("roomops sim: give --site FILE (repeatable) or --all", file=sys.stderr)
        return 2
    try:
        faults = parse_faults(args.fault)
        sites = [load_site(file) for file in files]
        specs = [spec for site in sites for spec in to_sim_specs(site)]
        sim = SiteSimulation(specs, faults=faults, notify=log.warning, bridges=bridge_uris(sites))
    except ProfileError as exc:
        for issue in exc.issues:
            print(issue, file=sys.stderr)
        return 1
    except (SecretError, ValueError) as exc:
        print(f"roomops sim: {exc}", file=sys.stderr)
        return 1
    stop = threading.Event()
    _on_signals(stop)
    try:
        with sim:
            _announce(sim, as_json=args.json)
            log.info("serving %d devices of %d site(s): %s", len(sim.entries()), len(sites),
                     ", ".join(site.id for site in sites))
            for device, knobs in sorted(faults.items()):
                log.info("fault on %s: %s", device, ", ".join(knobs))
            while not stop.wait(0.5):
                pass
            log.info("stopping the simulators")
    except KeyboardInterrupt:
        pass
    except OSError as exc:   # an address or port the profile names cannot be served
        print(f"roomops sim: cannot serve: {exc}", file=sys.stderr)
        return 1
    return 0


def _announce(sim: SiteSimulation, *, as_json: bool) -> None:
    entries = sim.entries()
    if as_json:
        print(json.dumps(entries, ensure_ascii=False), flush=True)
        return
    width_id = max((len(e["id"]) for e in entries), default=0)
    width_model = max((len(e["model"]) for e in entries), default=0)
    for e in entries:
        creds = " ".join(f"{k}={e[k]}" for k in ("username", "password") if e[k])
        print(f"{e['id']:<{width_id}}  {e['model']:<{width_model}}  {e['url']}  {creds}".rstrip(), flush=True)
    if not entries:
        print("no device of these sites has a simulator yet", file=sys.stderr, flush=True)


def _on_signals(stop: threading.Event) -> None:
    if threading.current_thread() is not threading.main_thread():
        return
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
