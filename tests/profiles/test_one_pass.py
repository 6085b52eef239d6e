"""Every mistake of a profile in one pass (schema, cross-key checks, secrets together), addresses
checked (``ping_target: 999.0.10.1`` names file, line and key), and no model ``selftest:`` list that
could differ from what runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from agent.profiles import ProfileError, load_site
from agent.profiles.loader import validate_paths
from tests.profiles.helpers import REPO, SITE_HEAD, make_tree, write


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    profiles = make_tree(tmp_path)
    secrets = tmp_path / "secrets.yaml"
    secrets.write_text("lab.pjlink: s3cret-pj\n")
    secrets.chmod(0o600)
    return profiles


def device(local_id: str, address: str, extra: str = "", secret: str = "lab.pjlink") -> str:
    return (f"  - id: {local_id}\n    model: pjlink-display\n    address: {address}\n"
            f"    credentials: {{password: \"secret:{secret}\"}}\n{extra}")


def errors_of(path: Path) -> list[str]:
    with pytest.raises(ProfileError) as info:
        load_site(path)
    return [str(i) for i in info.value.issues]


def test_schema_cross_key_and_secret_mistakes_in_one_pass(tree: Path) -> None:
    head = SITE_HEAD.replace("  min_uplink_mbps: 4\n", "  min_uplink_mbps: 4\n  ping_target: 999.0.10.1\n")
    text = head + device("display1", "127.0.0.14", "    colour: red\n") + device("display2", "127.0.0.14") \
        + device("display3", "127.0.0.300", secret="lab.nope")
    path = write(tree / "sites" / "lab.yaml", text)
    assert errors_of(path) == [
        "profiles/sites/lab.yaml:8 expect.ping_target: not an IPv4 address",
        "profiles/sites/lab.yaml:14 devices[0].colour: unknown key (allowed: id, model, name, transport, "
        "address, port, serial_device, baudrate, credentials, known_hosts, trust_on_first_use, timeout, "
        "boot_time, identity, outlet, via, options, desired, expect)",
        "profiles/sites/lab.yaml:21 devices[2].address: not an IPv4 address",
        # found in the same pass although the schema rejected other keys
        "profiles/sites/lab.yaml:17 devices[1].address: duplicate address 127.0.0.14 (also devices[0])",
        "profiles/sites/lab.yaml:22 devices[2].credentials.password: missing secret: lab.nope is not in "
        f"{Path.cwd() / 'secrets.yaml'}",
    ]


def test_a_rejected_key_does_not_echo_as_a_second_mistake(tree: Path) -> None:
    # the bad address is pruned for the cross-key checks: no "transport tcp needs an address" on top
    path = write(tree / "sites" / "lab.yaml", SITE_HEAD + device("display1", "127.0.0.999"))
    assert errors_of(path) == ["profiles/sites/lab.yaml:11 devices[0].address: not an IPv4 address"]


@pytest.mark.parametrize(("key", "value", "message"), [
    ("ping_target", "999.0.10.1", "not an IPv4 address"),
    ("ping_target", "bad_host!", "not an IPv4 address or host name"),
    ("ntp_server", "ntp.example:99999", "port must be 1..65535 (host[:port])"),
    ("test_uri", "no-at-sign", "must look like name@domain"),
    ("central_url", "http://999.0.0.1:8000", "must be an http(s):// or ws(s):// URL with a valid host: "
                                             "not an IPv4 address"),
])
def test_addresses_are_checked(tree: Path, key: str, value: str, message: str) -> None:
    if key == "central_url":
        head = SITE_HEAD.replace("http://127.0.0.1:8000", value)
        where = "4 central_url"
    else:
        head = SITE_HEAD.replace("  min_uplink_mbps: 4\n", f"  min_uplink_mbps: 4\n  {key}: {value}\n")
        where = f"8 expect.{key}"
    path = write(tree / "sites" / "lab.yaml", head + device("display1", "127.0.0.14"))
    assert errors_of(path) == [f"profiles/sites/lab.yaml:{where}: {message}"]


@pytest.mark.parametrize("good", ["127.0.10.1", "router.hq.example", "gw-1", "ntp.example:123"])
def test_good_addresses_pass(tree: Path, good: str) -> None:
    key = "ntp_server" if ":" in good else "ping_target"
    head = SITE_HEAD.replace("  min_uplink_mbps: 4\n", f"  min_uplink_mbps: 4\n  {key}: {good}\n")
    assert load_site(write(tree / "sites" / "lab.yaml", head + device("display1", "127.0.0.14")))


def test_venue_registrar_is_checked(tree: Path) -> None:
    write(tree / "sites" / "lab.yaml", SITE_HEAD + device("display1", "127.0.0.14"))
    write(tree / "venues" / "lab-annex.yaml", """
        id: lab-annex
        site: lab
        name: {zh: 附楼, en: Annex}
        network: {subnet: 127.1.99.0/24, gateway: 127.1.99.1}
        sip_registrar: 300.1.1.1
        addresses: {display1: 127.1.98.14}
        """)
    messages = [str(i) for i in validate_paths([tree / "venues"])]
    assert messages == [
        "profiles/venues/lab-annex.yaml:5 sip_registrar: not an IPv4 address",
        "profiles/venues/lab-annex.yaml:6 addresses.display1: 127.1.98.14 is not in the venue subnet "
        "127.1.99.0/24"]


def test_validate_cli_prints_everything_once(tree: Path) -> None:
    head = SITE_HEAD.replace("  min_uplink_mbps: 4\n", "  min_uplink_mbps: 4\n  ping_target: 999.0.10.1\n")
    twins = device("display1", "127.0.0.14") + device("display2", "127.0.0.14")
    write(tree / "sites" / "lab.yaml", head + twins)
    done = subprocess.run([sys.executable, "-m", "roomops.cli", "profiles", "validate", "profiles"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert lines == ["profiles/sites/lab.yaml:8 expect.ping_target: not an IPv4 address",
                     "profiles/sites/lab.yaml:16 devices[1].address: duplicate address 127.0.0.14 "
                     "(also devices[0])"]


def test_models_have_no_selftest_list_and_show_names_what_runs(tree: Path) -> None:
    for model in (REPO / "profiles" / "models").glob("*.yaml"):
        assert "selftest:" not in model.read_text(encoding="utf-8"), model.name
    write(tree / "models" / "pjlink-display.yaml",
          (tree / "models" / "pjlink-display.yaml").read_text() + "selftest: [display.power]\n")
    path = write(tree / "sites" / "lab.yaml", SITE_HEAD + device("display1", "127.0.0.14"))
    [message] = [str(i) for i in validate_paths([path])]
    assert "profiles/models/pjlink-display.yaml" in message and "selftest: unknown key" in message
    shown = subprocess.run([sys.executable, "-m", "roomops.cli", "profiles", "show", str(REPO / "profiles" /
                            "sites" / "lhasa.yaml")], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert shown.returncode == 0, shown.stderr
    assert "checks reachable, display.power, display.errors, display.input" in shown.stdout
