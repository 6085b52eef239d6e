"""``roomops devices probe HOST[:PORT]`` / ``--serial URL``: what answers, and a profile stanza.

The probing itself (read-only exchanges) is ``drivers.probe``; this prints what answered and
a device entry to paste into a site profile, with the model profile whose driver and name fit.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from drivers.probe import ProbeResult, probe_host, probe_serial


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("devices", help="work with devices directly",
                                   description="Work with devices directly (onboarding).")
    sub = parser.add_subparsers(dest="devices_command", metavar="ACTION")
    sub.required = True
    probe = sub.add_parser("probe", help="find out what answers at an address or on a serial line",
                           description="Try the known protocols with read-only queries and print what "
                                       "answers (protocol, model, serial, firmware) and a profile stanza.")
    probe.add_argument("target", nargs="?", metavar="HOST[:PORT]", help="address to probe")
    probe.add_argument("--serial", metavar="URL", help="serial line: /dev/ttyUSB0, a pty, socket://h:p")
    probe.add_argument("--baud", type=int, default=9600, help="serial rate (default 9600)")
    probe.add_argument("--timeout", type=float, default=2.0, help="seconds per attempt (default 2)")
    probe.add_argument("--profiles", default="profiles", metavar="DIR", help="profiles folder (model match)")
    probe.add_argument("--json", action="store_true", help="one JSON object per result")
    probe.set_defaults(func=run)


def run(args: Any) -> int:
    if bool(args.target) == bool(args.serial):
        print("roomops devices probe: give HOST[:PORT] or --serial URL (one of them)")
        return 2
    if args.serial:
        results = probe_serial(args.serial, args.baud, min(args.timeout, 2.0))
    else:
        host, _, port_text = str(args.target).rpartition(":") if ":" in args.target else (args.target, "", "")
        if port_text and not port_text.isdigit():
            print(f"roomops devices probe: {args.target!r}: the port must be a number")
            return 2
        results = probe_host(host, int(port_text) if port_text else None, args.timeout)
    models = _models(Path(args.profiles) / "models")
    for res in results:
        if args.json:
            print(json.dumps({k: v for k, v in res.__dict__.items() if k != "evidence"}))
        else:
            print(describe(res))
            if res.answered and res.protocol:
                print(stanza(res, models, args))
    return 0 if any(r.answered and r.protocol for r in results) else 1


def describe(res: ProbeResult) -> str:
    if not res.answered:
        return f"{res.where}: {res.note}"
    facts = [f"{k} {v}" for k, v in (("vendor", res.vendor), ("model", res.model), ("serial", res.serial),
                                     ("firmware", res.firmware)) if v]
    text = f"{res.where}: {res.protocol or 'something'}" + (f" ({', '.join(facts)})" if facts else "")
    return text + (f" - {res.note}" if res.note else "")


def stanza(res: ProbeResult, models: list[dict[str, Any]], args: Any) -> str:
    model = _match(res, models)
    model_line = f"    model: {model}" if model else f"    model: CHANGE-ME   # no profile for {res.driver}"
    lines = ["  # paste under devices: in the site profile", "  - id: CHANGE-ME", model_line]
    if res.transport == "serial":
        lines += ["    transport: serial", f"    serial_device: {args.serial}", f"    baudrate: {args.baud}"]
    else:
        host = str(args.target).rsplit(":", 1)[0] if ":" in args.target else args.target
        lines += [f"    transport: {res.transport}", f"    address: {host}", f"    port: {res.port}"]
    if res.serial:
        lines.append(f'    identity: {{serial: "{res.serial}"}}')
    return "\n".join(lines)


def _models(folder: Path) -> list[dict[str, Any]]:
    out = []
    for path in sorted(folder.glob("*.yaml")):
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError):
            continue
        if isinstance(doc, dict):
            out.append(doc)
    return out


def _match(res: ProbeResult, models: list[dict[str, Any]]) -> str:
    """The model profile with our driver whose name appears in what the unit reported."""
    same = [m for m in models if m.get("driver") == res.driver]
    said = res.model.lower().replace(" ", "")
    for m in same:
        name = str(m.get("name", "")).lower().replace(" ", "")
        if said and name and (name in said or said in name):
            return str(m.get("id", ""))
    return str(same[0].get("id", "")) if len(same) == 1 else ""
