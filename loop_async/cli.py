"""The ``loop-async`` command line: a thin dispatcher over one module per subcommand.

Each module in :mod:`loop_async._cli` has ``register(subparsers)``, which adds its parser
and sets ``handler`` to a function ``(argparse.Namespace) -> int`` (the exit status).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

__all__ = ["main"]

_SUBCOMMANDS = ("demo", "fake_server", "bulk", "returns", "webhooks", "temporal", "orders")


def build_parser() -> argparse.ArgumentParser:
    """The full parser, with every subcommand whose module is present."""
    parser = argparse.ArgumentParser(prog="loop-async", description="Drive the Loop Returns API from the shell.")
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    level = {0: logging.WARNING, 1: logging.INFO}.get(args.verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    status: int = args.handler(args)
    return status
