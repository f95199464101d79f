"""What several commands share: exit statuses, the API key, client options, subcommand parsers, the event loop.

The key is read from an environment variable or a file, never from a flag, where it would
show in the process list and the shell history.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import IO, Any

from loop_async.client import DEFAULT_BASE_URL, LoopClient

__all__ = [
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "add_api_key_options",
    "add_client_options",
    "add_subcommand",
    "api_key_or_report",
    "client_from_args",
    "read_api_key",
    "run_async",
]

#: Exit statuses every subcommand uses: done; Loop, the network or a row failed; bad input or
#: options; interrupted (SIGINT).
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def add_api_key_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--api-key-env`` and ``--api-key-file`` to a subcommand."""
    parser.add_argument("--api-key-env", default="LOOP_API_KEY", help="environment variable holding the API key")
    parser.add_argument("--api-key-file", help="file holding the API key (instead of the environment)")


def read_api_key(args: argparse.Namespace) -> str:
    """The API key from ``--api-key-file`` or the environment; ``ValueError`` when there is none."""
    if args.api_key_file:
        key = Path(args.api_key_file).read_text(encoding="utf-8").strip()
        if not key:
            raise ValueError(f"the API key file {args.api_key_file} is empty")
        return key
    key = os.environ.get(args.api_key_env, "").strip()
    if not key:
        raise ValueError(f"no API key: set the environment variable {args.api_key_env} or pass --api-key-file")
    return key


def api_key_or_report(args: argparse.Namespace, prefix: str, stderr: IO[str] | None = None) -> str | None:
    """The API key (:func:`read_api_key`); ``None`` after writing ``"{prefix}: why"`` to ``stderr``."""
    try:
        return read_api_key(args)
    except (OSError, ValueError) as exc:
        (stderr or sys.stderr).write(f"{prefix}: {exc}\n")
        return None


def add_client_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--base-url``, ``--api-version``, ``--rate`` and ``--timeout`` (see :func:`client_from_args`)."""
    parser.add_argument("--base-url", default=DEFAULT_BASE_URL, help="API origin (default: %(default)s)")
    parser.add_argument("--api-version", default="v1", help="API version (default: %(default)s)")
    parser.add_argument("--rate", type=float, default=300, help="requests per minute, 0 = off (default: %(default)s)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per request attempt (default: 30)")


def add_subcommand(
    subparsers: Any, command: str, summary: str, about: str | None, name: str, /, **options: Any
) -> argparse.ArgumentParser:
    """The parser of ``loop-async COMMAND NAME``, for a command with subcommands.

    Adds ``command`` (``summary`` its help, ``about`` its description; the subcommand chosen is
    in ``<command>_command``) and its subcommand ``name`` with ``options`` (help, description).
    """
    parser = subparsers.add_parser(command, help=summary, description=about)
    sub = parser.add_subparsers(dest=f"{command}_command", required=True, metavar="SUBCOMMAND")
    parser_of_name: argparse.ArgumentParser = sub.add_parser(name, **options)
    return parser_of_name


def client_from_args(args: argparse.Namespace, api_key: str, **options: Any) -> LoopClient:
    """A :class:`LoopClient` built from the options of :func:`add_client_options`.

    ``--rate`` 0 (or less) turns client-side rate limiting off; otherwise the client builds its
    default limiter (:func:`loop_async.ratelimit.build_limiter`). ``options`` go to the client
    (e.g. ``max_concurrency``).
    """
    return LoopClient(
        api_key,
        base_url=args.base_url,
        api_version=args.api_version,
        rate_limit=args.rate if args.rate > 0 else None,
        timeout=args.timeout,
        **options,
    )


def run_async(
    command: Callable[[argparse.Namespace, IO[str], IO[str]], Coroutine[Any, Any, int]],
    args: argparse.Namespace,
    *,
    interrupted: int = EXIT_INTERRUPTED,
) -> int:
    """Run ``command(args, stdout, stderr)`` on a new event loop: its exit status, or ``interrupted`` on Ctrl-C."""
    try:
        return asyncio.run(command(args, sys.stdout, sys.stderr))
    except KeyboardInterrupt:
        return interrupted
