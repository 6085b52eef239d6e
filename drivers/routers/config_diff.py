"""Router configuration as data: blocks of a shown configuration, the lines that reach a
desired state, what is missing after applying them, and the lines that undo a change."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

Blocks = dict[str, list[str]]      # block header ("" = global) -> its lines, in order


def cidr(address: str, mask: str, *, network: bool = False) -> str | None:
    try:
        iface = ipaddress.IPv4Interface(f"{address}/{mask}")
    except ValueError:
        return None
    return str(iface.network) if network else str(iface)


def net_mask(prefix: str) -> str:
    net = ipaddress.IPv4Network(prefix, strict=False)
    return f"{net.network_address} {net.netmask}"


def matches(want: Any, got: Any) -> bool:
    """Whether the device has what we asked for: a mapping names only what it cares about
    (some interfaces, some of their fields); lists are exact sets; the rest compares equal."""
    if isinstance(want, Mapping):
        return isinstance(got, Mapping) and all(matches(v, got.get(k)) for k, v in want.items())
    return normalised(want) == normalised(got)


def normalised(value: Any) -> Any:
    """Order-insensitive comparison of lists of routes/servers."""
    if isinstance(value, list):
        return sorted(repr(normalised(v)) for v in value)
    if isinstance(value, dict):
        return {k: normalised(v) for k, v in value.items()}
    return value


def dialect_lines(desired: Mapping[str, Any], current: dict[str, Any], *, hostname: str, negate: str,
                   leave: str, route: Any, dns: str, ntp: str, no_address: str,
                   no_shutdown: str) -> list[str]:
    lines: list[str] = []
    if desired.get("hostname") and desired["hostname"] != current.get("hostname"):
        lines.append(f"{hostname} {desired['hostname']}")
    for name, want in dict(desired.get("interfaces") or {}).items():
        have = current.get("interfaces", {}).get(name, {})
        body: list[str] = []
        if "address" in want and want["address"] != have.get("address"):
            if want["address"]:
                iface = ipaddress.IPv4Interface(want["address"])
                body.append(f"ip address {iface.ip} {iface.netmask}")
            else:
                body.append(no_address)
        if "description" in want and want["description"] != have.get("description", ""):
            body.append(f"description {want['description']}" if want["description"]
                        else f"{negate} description")
        if "enabled" in want and bool(want["enabled"]) != have.get("enabled", True):
            body.append(no_shutdown if want["enabled"] else "shutdown")
        if body:
            lines += [f"interface {name}", *body, leave]
    if "routes" in desired:
        want_routes = {route(r) for r in desired["routes"]}
        have_routes = {route(r) for r in current.get("routes", [])}
        lines += [f"{negate} {x}" for x in sorted(have_routes - want_routes)]
        lines += sorted(want_routes - have_routes)
    for key, verb in (("dns", dns), ("ntp", ntp)):
        if key in desired:
            want, have = set(desired[key]), set(current.get(key, []))
            lines += [f"{negate} {verb} {x}" for x in sorted(have - want)]
            lines += [f"{verb} {x}" for x in sorted(want - have)]
    lines += [str(x) for x in desired.get("lines") or [] if str(x) not in current.get("lines", [])]
    return lines


def structured_config(blocks: Blocks, *, hostname: str, route: str, dns: str, ntp: str) -> dict[str, Any]:
    """The running configuration as data; the keywords are the dialect's (IOS or VRP), the
    interface and address syntax is the same in both."""
    glob = blocks.get("", [])
    interfaces: dict[str, Any] = {}
    for header, lines in blocks.items():
        if not header:
            continue
        addr = next((x.split() for x in lines if x.startswith("ip address ")), None)
        interfaces[header.split(None, 1)[1]] = {
            "address": cidr(addr[2], addr[3]) if addr and len(addr) >= 4 else None,
            "description": next((x[len("description "):] for x in lines if x.startswith("description ")), ""),
            "enabled": "shutdown" not in lines,
        }
    routes = []
    for x in glob:
        w = x.split()
        if x.startswith(route) and len(w) >= 5:
            routes.append({"prefix": cidr(w[2], w[3], network=True), "next_hop": w[4]})
    return {"hostname": next((x.split(None, 1)[1] for x in glob if x.startswith(hostname)), ""),
            "interfaces": interfaces, "routes": routes,
            "dns": [x.split()[2] for x in glob if x.startswith(dns)],
            "ntp": [x.split()[2] for x in glob if x.startswith(ntp)],
            "lines": glob}
