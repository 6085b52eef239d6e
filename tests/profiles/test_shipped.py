"""Every shipped profile validates; the demo sites resolve the way the agent and the demo expect."""

from __future__ import annotations

import ipaddress
import stat
from pathlib import Path

import pytest

from agent.profiles import load_site, load_venue, origin_of, validate_paths
from agent.profiles.cli import register  # noqa: F401 - the CLI module imports cleanly
from roomops.cli import main
from tests.profiles.helpers import SHIPPED

SITES = ["shanghai-hq", "urumqi", "lhasa", "guangzhou", "kunming", "xining"]


def test_every_shipped_profile_validates() -> None:
    assert [str(i) for i in validate_paths([SHIPPED])] == []


@pytest.mark.parametrize("site_id", SITES)
def test_demo_site_shape(site_id: str) -> None:
    site = load_site(SHIPPED / "sites" / f"{site_id}.yaml")
    roles = {r for d in site.devices for r in d.roles}
    assert {"codec", "camera", "switcher", "display", "router", "power"} <= roles
    assert ("recorder" in roles) == (site_id == "shanghai-hq")
    # each site on its own 127.0.x.0/24, every network device its own address
    net = ipaddress.IPv4Network(f"127.0.{(SITES.index(site_id) + 1) * 10}.0/24")
    hosts = [d.host for d in site.devices if d.is_network]
    assert len(hosts) == len(set(hosts)) and all(ipaddress.IPv4Address(h) in net for h in hosts)
    # every device but the PDU is fed by one of the PDU's outlets
    pdu = site.devices_with_role("power")[0]
    assert all(d.outlet is not None and d.outlet.pdu == pdu.id for d in site.devices if d is not pdu)
    venues = list((SHIPPED / "venues").glob(f"{site_id}-*.yaml"))
    assert len(venues) == 1
    moved = load_venue(venues[0], site).relocate(site)
    new_net = ipaddress.IPv4Network(f"127.1.{net.network_address.packed[2]}.0/24")
    assert all(ipaddress.IPv4Address(d.host) in new_net for d in moved.devices if d.is_network)


def test_demo_credentials_are_generated_private_and_stable() -> None:
    first = load_site(SHIPPED / "sites" / "urumqi.yaml").device("codec").endpoint()
    again = load_site(SHIPPED / "sites" / "urumqi.yaml").device("codec").endpoint()
    assert first.password and first.password == again.password
    secrets = SHIPPED.parent / ".roomops" / "demo-secrets.yaml"
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o600
    assert first.password not in repr(first)


def test_layering_explains_the_port() -> None:
    site = load_site(SHIPPED / "sites" / "lhasa.yaml")
    choice = origin_of(site, "codec", "port")
    assert choice.value == 2424 and choice.origin.layer == "site defaults"
    assert [c.value for c in choice.hidden] == [24]
    assert choice.hidden[0].origin.layer == "model"


def test_show_masks_secrets_and_validate_fails_without_traceback(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profiles", "show", str(SHIPPED / "sites" / "urumqi.yaml")]) == 0
    out = capsys.readouterr().out
    password = load_site(SHIPPED / "sites" / "urumqi.yaml").device("codec").password()
    assert "********" in out and password not in out
    bad = tmp_path / "profiles" / "models" / "x.yaml"
    bad.parent.mkdir(parents=True)
    bad.write_text("id: x\n")
    assert main(["profiles", "validate", str(bad)]) == 1
    captured = capsys.readouterr()
    assert "x.yaml:1 vendor: missing required key" in captured.err
    assert "Traceback" not in captured.err


def test_schema_command_prints_json_schema(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    assert main(["profiles", "schema", "site"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["additionalProperties"] is False
    assert "devices" in schema["required"]
