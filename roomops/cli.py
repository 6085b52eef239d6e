"""The ``roomops`` console script. Each package owns its subcommands; this only dispatches.

A subcommand module exposes ``register(subparsers)`` which adds its parser and sets
``func(args) -> int`` as the default.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

#: subcommand -> module that registers it
SUBCOMMANDS: dict[str, str] = {
    "profiles": "agent.profiles.cli",
    "sim": "roomops.sim_cli",
    "agent": "agent.cli",
    "central": "central.cli",
    "demo": "roomops.demo",
    "devices": "roomops.probe_cli",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="roomops", description="Run video-conference rooms.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for module_name in SUBCOMMANDS.values():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue  # that package has not grown this subcommand yet
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`roomops profiles schema | head`): not an error of ours.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
