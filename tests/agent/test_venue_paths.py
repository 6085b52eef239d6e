"""A relocation names a venue, never a path: the agent confines it to its venue folder, reads
only small regular files, and tells central one generic sentence whatever went wrong."""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agent import command_args
from agent.profiles import ProfileError, load_venue
from agent.runtime import Agent
from agent.venues import MAX_VENUE_BYTES, VenueUnavailable, load_named_venue, venue_dir_for, venue_file
from contracts.messages import Command, CommandResult, parse_message
from tests.agent.real_sites import SiteCopy, agent_for, make_test_site

SECRET_LINES = ("root:$6$Zq9sEcReT$hashhashhash:19000:0:99999:7:::\n"
                "codec_password: hunter2-very-secret\n")
VENUE = "urumqi-convention-center"


@pytest.fixture
def copy(tmp_path: Path) -> SiteCopy:
    return make_test_site(tmp_path / "root")


@pytest.fixture
def venues(copy: SiteCopy) -> Path:
    folder = venue_dir_for(copy.site_file)
    assert folder == copy.venue_file.parent
    return folder


def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "shadow"
    path.write_text(SECRET_LINES)
    return path


def generic(name: str) -> str:
    return str(VenueUnavailable(name, ""))


def test_a_named_venue_loads_from_the_venue_folder(copy: SiteCopy) -> None:
    venue = load_named_venue(VENUE, copy.load())
    assert venue.id == VENUE and Path(venue.file) == copy.venue_file.resolve()


@pytest.mark.parametrize("name", ["/etc/shadow", "../sites/urumqi", "a/b", "Urumqi", "", "x" * 65,
                                  "ok\n", ".hidden", "-x", "venue.yaml", None, 7])
def test_a_name_that_is_not_a_venue_name_is_refused(copy: SiteCopy, name: object) -> None:
    with pytest.raises(VenueUnavailable) as caught:
        load_named_venue(name, copy.load())
    assert str(caught.value) == generic("(invalid name)")


def test_missing_bad_escaping_and_special_files_answer_alike(copy: SiteCopy, venues: Path,
                                                             tmp_path: Path) -> None:
    """No existence oracle: every refusal reads the same to central, and none quotes the file."""
    shadow = secret_file(tmp_path)
    (venues / "copied.yaml").write_text(SECRET_LINES)               # a bad file inside
    (venues / "escape.yaml").symlink_to(shadow)                     # a symlink out of the folder
    (venues / "zero.yaml").symlink_to("/dev/zero")
    os.mkfifo(venues / "fifo.yaml")                                 # would block a plain open
    (venues / "huge.yaml").write_text("id: x\n" + "#" * MAX_VENUE_BYTES)
    (venues / "folder.yaml").mkdir()
    site = copy.load()
    texts = {}
    for name in ("missing", "copied", "escape", "zero", "fifo", "huge", "folder"):
        started = time.monotonic()
        with pytest.raises(VenueUnavailable) as caught:
            load_named_venue(name, site)
        assert time.monotonic() - started < 5, f"{name} was not refused at once"
        texts[name] = str(caught.value).replace(name, "NAME")
        for secret in ("Zq9sEcReT", "hunter2", "root:", "codec_password"):
            assert secret not in str(caught.value)
    assert len(set(texts.values())) == 1, texts


def test_a_symlink_to_another_venue_in_the_folder_is_fine(copy: SiteCopy, venues: Path) -> None:
    (venues / "alias.yaml").symlink_to(copy.venue_file.name)
    assert venue_file(venues, "alias") == copy.venue_file.resolve()


def test_parser_messages_name_lines_never_the_text(copy: SiteCopy, tmp_path: Path) -> None:
    """Local messages (the agent's log, the CLI) give line numbers and key names only."""
    bad = copy.venue_file.parent / "bad.yaml"
    for text in (SECRET_LINES, "id: x\naddresses:\n  'Root:$6$Zq9sEcReT': 10.0.0.1\n",
                 "id: !!python/object:os.system 'Zq9sEcReT'\n", "id: *Zq9sEcReT\n",
                 "? [Zq9sEcReT, hunter2]\n: 1\n"):
        bad.write_text(text)
        with pytest.raises(ProfileError) as caught:
            load_venue(bad, copy.load())
        message = str(caught.value)
        assert "Zq9sEcReT" not in message and "hunter2" not in message, message
        assert all(issue.line is not None or "syntax" not in issue.message for issue in caught.value.issues)
    bad.write_text(SECRET_LINES)
    with pytest.raises(ProfileError) as caught:
        load_venue(bad, copy.load())
    assert "bad.yaml:1: unknown key" in str(caught.value)


def test_reads_are_bounded_for_every_profile(tmp_path: Path) -> None:
    from agent.profiles.yamlfile import MAX_PROFILE_BYTES, read_bounded

    started = time.monotonic()
    with pytest.raises(OSError, match="not a regular file"):
        read_bounded("/dev/zero")
    big = tmp_path / "big.yaml"
    big.write_text("#" * (MAX_PROFILE_BYTES + 1))
    with pytest.raises(OSError, match="larger than"):
        read_bounded(big)
    assert time.monotonic() - started < 5


# -- the command path --------------------------------------------------------------------------------
def command(kind: str, **args: object) -> Command:
    return Command(site="urumqi", kind=kind, args=args, deadline=datetime.now(UTC) + timedelta(seconds=30))


def final_result(agent: Agent, command_id: str) -> CommandResult:
    found = [m for m in (parse_message(p.body) for p in agent.outbox.pending(limit=10_000))
             if isinstance(m, CommandResult) and m.command_id == command_id and m.state != "running"]
    assert found, "no final result"
    return found[-1]


async def test_relocation_commands_never_send_file_content_to_central(copy: SiteCopy, venues: Path,
                                                                      tmp_path: Path) -> None:
    shadow = secret_file(tmp_path)
    (venues / "copied.yaml").write_text(SECRET_LINES)
    (venues / "escape.yaml").symlink_to(shadow)
    agent = agent_for(copy.load(), tmp_path / "state")
    try:
        outcomes = {}
        for kind, args in [("relocate_plan", {"venue": str(shadow)}),
                           ("relocate_plan", {"venue": "../../shadow"}),
                           ("relocate_plan", {"venue": "copied"}),
                           ("relocate_apply", {"venue": "escape", "relocation_id": "r1"}),
                           ("relocate_plan", {"venue": "missing"}),
                           ("relocate_plan", {"venue": "copied", "venue_file": str(shadow)}),
                           ("relocate_plan", {"venue": "copied", "target": "x"})]:
            cmd = command(kind, **args)
            await agent.commands.submit(cmd)
            await agent.commands.wait(cmd.command_id)
            outcomes[json.dumps(args)] = final_result(agent, cmd.command_id)
        for args, result in outcomes.items():
            wire = result.model_dump_json()
            for secret in ("Zq9sEcReT", "hunter2", "root:", "codec_password", "/etc", str(tmp_path)):
                assert secret not in wire, (args, wire)
            assert result.result.get("ok") is not True
        # a path or an unknown argument never reaches the handler
        assert outcomes[json.dumps({"venue": str(shadow)})].state == "failed"
        assert "bad command arguments: venue:" in (outcomes[json.dumps({"venue": str(shadow)})].error or "")
        smuggled = outcomes[json.dumps({"venue": "copied", "venue_file": str(shadow)})]
        assert smuggled.state == "failed" and "venue_file" in (smuggled.error or "")
        # missing, bad and escaping files read the same
        refusals = {outcomes[json.dumps(a)].result.get("error", outcomes[json.dumps(a)].error or "")
                    .replace(name, "NAME")
                    for a, name in [({"venue": "copied"}, "copied"), ({"venue": "missing"}, "missing"),
                                    ({"venue": "escape", "relocation_id": "r1"}, "escape")]}
        assert len(refusals) == 1, refusals
    finally:
        await agent.stop()


def test_every_command_argument_is_checked() -> None:
    ok = command_args.validate("connect", {"meeting_id": "m1", "participants": [
        {"site": "lhasa", "uri": "sip:codec@lhasa.example;transport=tls"}], "rate": 1920})
    assert ok["participants"][0]["uri"].startswith("sip:")
    assert command_args.validate("standby", {}) == {}          # the handler's defaults still apply
    assert command_args.validate("apply_config", {"config": {"routes": {"1": 3}, "sip.uri": "a@b"}})
    bad = [("reboot", {"force": True}), ("connect", {"uri": 'sip:x" ; xCommand Boot'}),
           ("connect", {"uri": "sip:x\nxCommand Boot"}), ("connect", {"rate": 10**30}),
           ("connect", {"protocol": "rtmp"}), ("selftest", {"trigger": "drop tables"}),
           ("selftest", {"run_id": "../x"}), ("apply_config", {"config": {"a": "x\x00y"}}),
           ("apply_config", {"config": {"a": {"b": {"c": {"d": 1}}}}}), ("relocate_plan", {}),
           ("record_stop", {"meeting_id": "a b"}), ("future_kind", {"nested": {"a": 1}}),
           ("future_kind", {"text": "\x1b[31m"}), ("standby", "on")]
    for kind, args in bad:
        with pytest.raises(command_args.BadArguments) as caught:
            command_args.validate(kind, args)
        assert "xCommand" not in str(caught.value) and "\x00" not in str(caught.value), str(caught.value)
    generic = {"site": "lhasa", "on": True}
    assert command_args.validate("future_kind", generic) == generic
