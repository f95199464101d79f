"""The ``loop-async`` command line: a thin dispatcher over one module per subcommand.

Each module in :mod:`loop_async._cli` has ``register(subparsers)``, which adds its parser
and sets ``handler`` to a function ``(argparse.Namespace) -> int`` (the exit status).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from loop_async._version import __version__

__all__ = ["main"]

_SUBCOMMANDS = ("demo", "fake_server", "bulk", "returns", "webhooks", "temporal", "orders")


def build_parser() -> argparse.ArgumentParser:
    """The full parser, with every subcommand whose module is present."""
    parser = argparse.ArgumentParser(prog="loop-async", description="Drive the Loop Returns API from the shell.")
    parser.add_argument("--version", action="version", version=f"loop-async {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="log more (-vv: every request)")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in _SUBCOMMANDS:
        module_name = f"loop_async._cli.{name}"
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue
            raise
        module.register(subparsers)
    _verbose_everywhere(subparsers)
    return parser


def _verbose_everywhere(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Accept ``-v`` after the subcommand too (``loop-async bulk process -v ...``), at any depth."""
    for sub in set(subparsers.choices.values()):
        if not any("-v" in action.option_strings for action in sub._actions):
            # SUPPRESS: absent here, the count given before the subcommand stands.
            sub.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS, help="log more")
        for action in sub._actions:
            if isinstance(action, argparse._SubParsersAction):
                _verbose_everywhere(action)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    level = {0: logging.WARNING, 1: logging.INFO}.get(args.verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        status: int = args.handler(args)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, as a C program killed by SIGPIPE does.
        # stdout is pointed at /dev/null so that the interpreter's final flush does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    return status
