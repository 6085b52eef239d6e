"""``roomops profiles ...``: check and inspect profiles.

    roomops profiles validate [PATH...]        every problem, one per line; exit 1 on any
    roomops profiles show SITE [--json]        the resolved site, secrets masked
    roomops profiles explain SITE DEVICE [KEY] where each resolved setting came from
    roomops profiles schema [model|site|venue] JSON Schema for editors

SITE is a path or a site id (looked up in ./profiles/sites/). Errors never print a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from agent.profiles.errors import ProfileError
from agent.profiles.loader import load_site, origin_of, validate_paths
from agent.profiles.schema import KINDS
from agent.profiles.secrets import SecretError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("profiles", help="validate and inspect device/site/venue profiles")
    sub = parser.add_subparsers(dest="profiles_command", metavar="ACTION")
    sub.required = True

    p = sub.add_parser("validate", help="check profiles; exit 1 with every problem found")
    p.add_argument("paths", nargs="*", default=["profiles"], metavar="PATH",
                   help="files or folders (default: profiles)")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("show", help="print a resolved site (secrets masked)")
    p.add_argument("site", metavar="SITE", help="site file or id")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("explain", help="say where a device's resolved settings came from")
    p.add_argument("site", metavar="SITE", help="site file or id")
    p.add_argument("device", metavar="DEVICE", help="device id (local or full)")
    p.add_argument("key", nargs="?", metavar="KEY", help="one setting, e.g. port or options.warmup")
    p.set_defaults(func=cmd_explain)

    p = sub.add_parser("schema", help="print JSON Schema of a profile kind (all kinds by default)")
    p.add_argument("kind", nargs="?", choices=sorted(KINDS), help="model, site or venue")
    p.set_defaults(func=cmd_schema)


def site_path(text: str) -> Path:
    path = Path(text)
    if path.suffix in (".yaml", ".yml") or path.exists():
        return path
    return Path("profiles") / "sites" / f"{text}.yaml"


def _fail(issues: list[Any]) -> int:
    for issue in issues:
        print(issue, file=sys.stderr)
    return 1


def cmd_validate(args: argparse.Namespace) -> int:
    missing = [p for p in args.paths if not Path(p).exists()]
    if missing:
        for p in missing:
            print(f"{p}: no such file or folder", file=sys.stderr)
        return 1
    issues = validate_paths(args.paths)
    if issues:
        return _fail(issues)
    print("all profiles valid")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    path = site_path(args.site)
    if not path.exists():
        print(f"{path}: no such site profile", file=sys.stderr)
        return 1
    try:
        site = load_site(path)
    except ProfileError as exc:
        return _fail(exc.issues)
    data = site.as_dict()
    checks = selftest_checks(site)
    for dev in data["devices"]:
        dev["checks"] = checks.get(dev["id"], [])
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return 0
    print(f"{site.id}  {site.name_zh} / {site.name_en}  ({site.timezone})")
    print(f"  central: {site.central_url}   token: {data['central_token'] or '-'}")
    print(f"  expect: {site.expectations}")
    print(f"  room: {data['room']}")
    for dev in data["devices"]:
        print(f"  {dev['id']}  {dev['model']} ({dev['driver']})  {dev['url']}"
              + (f"  password {dev['password']}" if dev["password"] else ""))
        print(f"      identity {dev['identity']}  outlet {dev['outlet']}  boot {dev['boot_time']}s")
        if dev["desired"]:
            print(f"      desired {dev['desired']}")
        if dev["options"]:
            print(f"      options {dev['options']}")
        print(f"      checks {', '.join(checks.get(dev['id'], [])) or '-'}")
    return 0


def selftest_checks(site: Any) -> dict[str, list[str]]:
    """Device id -> the self-test checks the agent will run on it: the driver's answer to the
    site's expectations (drivers do no I/O until connect, so asking costs nothing)."""
    from agent.session import resolve_driver_class
    from agent.site import from_resolved

    out: dict[str, list[str]] = {}
    for spec in from_resolved(site).devices:
        driver = resolve_driver_class(spec.driver)(spec.endpoint, name=spec.id)
        out[spec.id] = ["reachable", *(c.name for c in driver.selftest_checks(spec.expect))]
    return out


def cmd_explain(args: argparse.Namespace) -> int:
    path = site_path(args.site)
    if not path.exists():
        print(f"{path}: no such site profile", file=sys.stderr)
        return 1
    try:
        site = load_site(path, check_secrets=False)
        device = site.device(args.device)
        keys = [args.key] if args.key else list(device.choices)
        for key in keys:
            choice = origin_of(site, device.id, key)
            print(choice.explain(f"{device.id} {key}", mask=False))
    except ProfileError as exc:
        return _fail(exc.issues)
    except KeyError as exc:
        print(f"roomops profiles explain: {exc.args[0]}", file=sys.stderr)
        return 1
    except SecretError as exc:
        print(f"roomops profiles explain: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    kinds = [args.kind] if args.kind else sorted(KINDS)
    schemas = {k: KINDS[k].model_json_schema() for k in kinds}
    print(json.dumps(schemas[args.kind] if args.kind else schemas, ensure_ascii=False, indent=2))
    return 0
