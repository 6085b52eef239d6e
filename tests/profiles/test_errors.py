"""One test per class of profile mistake: the exact message and where it points."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agent.profiles import ProfileError, load_site, load_venue
from agent.profiles.loader import validate_paths
from tests.profiles.helpers import SITE_HEAD, make_tree, write


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)      # issues then name files as profiles/sites/lab.yaml
    profiles = make_tree(tmp_path)
    secrets = tmp_path / "secrets.yaml"
    secrets.write_text("lab.admin: s3cret-admin\nlab.pjlink: s3cret-pj\n")
    secrets.chmod(0o600)
    return profiles


def site_with(tree: Path, devices: str, head: str = SITE_HEAD) -> Path:
    return write(tree / "sites" / "lab.yaml", head + devices)


DISPLAY = """\
  - id: display1
    model: pjlink-display
    address: 127.0.0.14
    credentials: {password: "secret:lab.pjlink"}
"""


def errors_of(path: Path) -> list[str]:
    with pytest.raises(ProfileError) as info:
        load_site(path)
    return [str(i) for i in info.value.issues]


def test_valid_site_loads(tree: Path) -> None:
    site = load_site(site_with(tree, DISPLAY))
    assert site.device("display1").endpoint().password == "s3cret-pj"


def test_unknown_key(tree: Path) -> None:
    path = site_with(tree, DISPLAY + "    adress: 127.0.0.15\n")
    assert errors_of(path) == [
        "profiles/sites/lab.yaml:13 devices[0].adress: unknown key (did you mean 'address'?)"]


def test_wrong_type(tree: Path) -> None:
    path = site_with(tree, DISPLAY + '    port: "4352"\n')
    assert errors_of(path) == ["profiles/sites/lab.yaml:13 devices[0].port: expected an integer"]


def test_missing_field(tree: Path) -> None:
    head = SITE_HEAD.replace("timezone: Asia/Shanghai\n", "")
    path = site_with(tree, DISPLAY, head)
    assert errors_of(path) == ["profiles/sites/lab.yaml:1 timezone: missing required key"]


def test_missing_field_inside_a_device(tree: Path) -> None:
    path = site_with(tree, "  - id: display1\n    address: 127.0.0.14\n")
    assert errors_of(path) == ["profiles/sites/lab.yaml:9 devices[0].model: missing required key"]


def test_duplicate_device_id(tree: Path) -> None:
    path = site_with(tree, DISPLAY + DISPLAY.replace("127.0.0.14", "127.0.0.15"))
    assert errors_of(path) == ["profiles/sites/lab.yaml:13 devices[1].id: duplicate device id 'display1' "
                               "(also devices[0])"]


def test_duplicate_address(tree: Path) -> None:
    path = site_with(tree, DISPLAY + DISPLAY.replace("display1", "display2"))
    assert errors_of(path) == ["profiles/sites/lab.yaml:15 devices[1].address: duplicate address "
                               "127.0.0.14 (also devices[0])"]


def test_unknown_model(tree: Path) -> None:
    path = site_with(tree, DISPLAY.replace("pjlink-display", "pjlink-wall"))
    [message] = errors_of(path)
    assert message.startswith("profiles/sites/lab.yaml:10 devices[0].model: unknown model 'pjlink-wall' "
                              "(no pjlink-wall.yaml in ")


def test_bad_address(tree: Path) -> None:
    path = site_with(tree, DISPLAY.replace("127.0.0.14", "127.0.0.300"))
    assert errors_of(path) == ["profiles/sites/lab.yaml:11 devices[0].address: not an IPv4 address"]


def test_all_errors_in_one_pass(tree: Path) -> None:
    path = site_with(tree, DISPLAY.replace("127.0.0.14", "nowhere") + "    colour: red\n"
                     + "  - id: Bad_Id\n    model: pjlink-display\n    port: 0\n")
    assert errors_of(path) == [
        "profiles/sites/lab.yaml:11 devices[0].address: not an IPv4 address",
        "profiles/sites/lab.yaml:13 devices[0].colour: unknown key (allowed: id, model, name, transport, "
        "address, port, serial_device, baudrate, credentials, known_hosts, trust_on_first_use, timeout, "
        "boot_time, identity, outlet, via, options, desired, expect)",
        "profiles/sites/lab.yaml:14 devices[1].id: must be lower-case letters, digits and '-', starting "
        "with a letter",
        "profiles/sites/lab.yaml:16 devices[1].port: must be >= 1",
    ]


def test_literal_password_is_refused_without_echo(tree: Path) -> None:
    path = site_with(tree, DISPLAY.replace('"secret:lab.pjlink"', "hunter2-literal"))
    [message] = errors_of(path)
    assert message == ("profiles/sites/lab.yaml:12 devices[0].credentials.password: must be a reference: "
                       "${ENV_NAME} or secret:name (a literal value is not allowed)")
    assert "hunter2" not in message


def test_missing_secret_in_file(tree: Path) -> None:
    path = site_with(tree, DISPLAY.replace("secret:lab.pjlink", "secret:lab.nope"))
    assert errors_of(path) == ["profiles/sites/lab.yaml:12 devices[0].credentials.password: missing secret: "
                               f"lab.nope is not in {Path.cwd() / 'secrets.yaml'}"]


def test_missing_environment_secret(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ROOMOPS_TEST_PJ", raising=False)
    path = site_with(tree, DISPLAY.replace("secret:lab.pjlink", "${ROOMOPS_TEST_PJ}"))
    assert errors_of(path) == ["profiles/sites/lab.yaml:12 devices[0].credentials.password: missing secret: "
                               "environment variable ROOMOPS_TEST_PJ is not set"]
    monkeypatch.setenv("ROOMOPS_TEST_PJ", "from-env")
    assert load_site(path).device("display1").endpoint().password == "from-env"


def test_secrets_file_readable_by_others(tree: Path) -> None:
    secrets = Path.cwd() / "secrets.yaml"
    secrets.chmod(0o644)
    path = site_with(tree, DISPLAY)
    assert errors_of(path) == [
        f"profiles/sites/lab.yaml:12 devices[0].credentials.password: secrets file {secrets} is readable "
        f"by group or others (mode 0644); run: chmod 600 {secrets}"]


def test_outlet_wired_to_missing_device(tree: Path) -> None:
    path = site_with(tree, DISPLAY + "    outlet: {pdu: pdu, outlet: 3}\n")
    assert errors_of(path) == ["profiles/sites/lab.yaml:13 devices[0].outlet.pdu: outlet wired to a "
                               "missing device 'pdu'"]


def test_yaml_syntax_error_names_the_line(tree: Path) -> None:
    path = site_with(tree, DISPLAY + "    name: [unclosed\n")
    [message] = errors_of(path)
    assert message.startswith("profiles/sites/lab.yaml:14: YAML syntax:")


def test_duplicate_yaml_key(tree: Path) -> None:
    path = site_with(tree, DISPLAY + "    address: 127.0.0.15\n")
    assert errors_of(path) == ["profiles/sites/lab.yaml:13 devices[0].address: duplicate key"]


def test_venue_for_another_site(tree: Path) -> None:
    site = load_site(site_with(tree, DISPLAY))
    venue = write(tree / "venues" / "lab-annex.yaml", """
        id: lab-annex
        site: lhasa
        name: {zh: 附楼, en: Annex}
        network: {subnet: 127.1.99.0/24, gateway: 127.1.99.1}
        addresses: {display1: 127.1.99.14}
        """)
    with pytest.raises(ProfileError) as info:
        load_venue(venue, site)
    assert [str(i) for i in info.value.issues] == [
        "profiles/venues/lab-annex.yaml:2 site: venue for another site: this venue is for 'lhasa', not 'lab'"]


def test_venue_address_outside_its_subnet_and_relocation(tree: Path) -> None:
    site = load_site(site_with(tree, DISPLAY))
    venue_text = """
        id: lab-annex
        site: lab
        name: {zh: 附楼, en: Annex}
        network: {subnet: 127.1.99.0/24, gateway: 127.1.99.1}
        addresses: {display1: 127.1.98.14}
        """
    path = write(tree / "venues" / "lab-annex.yaml", venue_text)
    with pytest.raises(ProfileError) as info:
        load_venue(path, site)
    assert [str(i) for i in info.value.issues] == [
        "profiles/venues/lab-annex.yaml:5 addresses.display1: 127.1.98.14 is not in the venue subnet "
        "127.1.99.0/24"]
    write(path, venue_text.replace("127.1.98.14", "127.1.99.14"))
    moved = load_venue(path, site).relocate(site)
    assert moved.device("display1").host == "127.1.99.14"
    assert site.device("display1").host == "127.0.0.14"


def test_validate_reports_every_file(tree: Path) -> None:
    site_with(tree, DISPLAY.replace("127.0.0.14", "x"))
    write(tree / "models" / "broken.yaml", "id: broken\nvendor: X\n")
    messages = [str(i) for i in validate_paths([tree])]
    assert "profiles/sites/lab.yaml:11 devices[0].address: not an IPv4 address" in messages
    assert "profiles/models/broken.yaml:1 name: missing required key" in messages
    assert "profiles/models/broken.yaml:1 driver: missing required key" in messages
    assert os.path.exists(tree / "models" / "broken.yaml")
