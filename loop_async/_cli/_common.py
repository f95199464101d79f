"""What several subcommands share: where the API key comes from.

The key is read from an environment variable or a file, never from a flag, where it would
show in the process list and the shell history.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

__all__ = ["add_api_key_options", "read_api_key"]


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
