"""The ``roomops`` console script. Each package owns its subcommands; this only dispatches.

A subcommand module exposes ``register(subparsers)`` which adds its parser and sets
``func(args) -> int`` as the default. A host installs only its side (``roomops[agent]`` or
``roomops[central]``): a subcommand whose libraries are missing is listed as not installed and
names the extra that brings them.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from dataclasses import dataclass
from typing import Any

#: Our own top-level packages: a missing one of these is a bug or a subcommand not grown yet,
#: anything else missing is a library of an install extra that is not installed here.
OWN_PACKAGES = frozenset({"agent", "central", "contracts", "drivers", "roomops", "simulators"})


@dataclass(frozen=True)
class Subcommand:
    module: str   # registers the subcommand
    extra: str    # the install extra that brings its libraries: roomops[<extra>]


SUBCOMMANDS: dict[str, Subcommand] = {
    "profiles": Subcommand("agent.profiles.cli", "agent"),
    "sim": Subcommand("roomops.sim_cli", "agent"),
    "agent": Subcommand("agent.cli", "agent"),
    "central": Subcommand("central.cli", "central"),
    "demo": Subcommand("roomops.demo", "all"),
    "devices": Subcommand("roomops.probe_cli", "agent"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="roomops", description="Run video-conference rooms.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, command in SUBCOMMANDS.items():
        try:
            module = importlib.import_module(command.module)
        except ModuleNotFoundError as exc:
            if exc.name == command.module:
                continue  # that package has not grown this subcommand yet
            missing = _third_party(exc)
            if not missing:
                raise
            _register_missing(sub, name, command.extra, missing)
            continue
        module.register(sub)
    return parser


def _register_missing(sub: Any, name: str, extra: str, missing: str) -> None:
    """A subcommand whose libraries are not installed: it stays listed and, when asked for,
    says which extra to install instead of failing with an import traceback."""
    parser = sub.add_parser(name, add_help=False, help=f"(not installed here: needs roomops[{extra}])")
    parser.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)

    def explain(_args: argparse.Namespace) -> int:
        print(missing_extra_message(name, extra, missing), file=sys.stderr)
        return 2

    parser.set_defaults(func=explain)


def missing_extra_message(name: str, extra: str, missing: str) -> str:
    return (f"roomops {name}: this install lacks the '{extra}' extra (the library '{missing}' "
            f"is missing). Install it with: pip install 'roomops[{extra}]'")


def _third_party(exc: ModuleNotFoundError) -> str:
    """The top-level name of a missing library, or "" when the missing module is one of ours."""
    missing = (exc.name or "").partition(".")[0]
    return "" if missing in OWN_PACKAGES else missing


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except ModuleNotFoundError as exc:
        # A subcommand that imports a library only when it runs (sim: paramiko of the simulators).
        missing = _third_party(exc)
        command = SUBCOMMANDS.get(args.command)
        if not missing or command is None:
            raise
        print(missing_extra_message(args.command, command.extra, missing), file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader went away (`roomops profiles schema | head`): not an error of ours.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
