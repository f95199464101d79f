"""``loop-async orders eligibility ORDER_NAME``: which line items of an order may be returned.

Advisory (Loop creates no draft return; a draft created afterwards decides). Prints one JSON
line per line item (``--format jsonl``, the default) or a table (``--format table``). The API
key comes from ``LOOP_API_KEY`` (or ``--api-key-env``/``--api-key-file``), never a flag.
Exit status: 0 answered, 1 Loop or the network failed, 2 bad options.
"""

from __future__ import annotations

import argparse
import functools
from typing import IO, Any

from loop_async._cli._common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    add_api_key_options,
    add_client_options,
    add_subcommand,
    api_key_or_report,
    client_from_args,
    run_async,
)
from loop_async._sansio import json as _json
from loop_async.errors import FieldValidationError, LoopError
from loop_async.models._convert import unstructure

__all__ = ["register", "run_eligibility"]


async def run_eligibility(args: argparse.Namespace, stdout: IO[str], stderr: IO[str]) -> int:
    """``orders eligibility`` with parsed ``args``."""
    api_key = api_key_or_report(args, "loop-async orders eligibility", stderr)
    if api_key is None:
        return EXIT_USAGE
    try:
        async with client_from_args(args, api_key) as loop:
            result = await loop.orders.return_eligibility(args.order_name)
    except FieldValidationError as exc:
        stderr.write(f"loop-async orders eligibility: {exc}\n")
        return EXIT_USAGE
    except LoopError as exc:
        stderr.write(f"loop-async orders eligibility: {exc}\n")
        return EXIT_FAILED
    if args.format == "table":
        stdout.write(f"order {result.order_name or args.order_name} (id {result.order_id})\n")
        stdout.write(f"{'line item':>12}  {'eligible':8}  reason\n")
        for item in result.items:
            reason = "" if item.ineligibility_code is None else str(item.ineligibility_code)
            stdout.write(f"{item.id:>12}  {'yes' if item.eligible else 'no':8}  {reason}\n")
    else:
        for item in result.items:
            line: dict[str, Any] = {"order_id": result.order_id, "order_name": result.order_name, **unstructure(item)}
            stdout.write(_json.dumps(line).decode("utf-8") + "\n")
    stdout.flush()
    return EXIT_OK


def register(subparsers: Any) -> None:
    """Add ``orders`` (with ``eligibility``) to the ``loop-async`` parser."""
    eligibility = add_subcommand(
        subparsers,
        "orders",
        "ask about orders (return eligibility)",
        __doc__,
        "eligibility",
        help="per line item: may it be returned? (advisory; creates no draft)",
        description="Look up an order's return eligibility by its name, e.g. '#1001'.",
    )
    eligibility.add_argument("order_name", metavar="ORDER_NAME", help="the order's name, e.g. '#1001'")
    eligibility.add_argument("--format", choices=("jsonl", "table"), default="jsonl", help="output format")
    add_api_key_options(eligibility)
    add_client_options(eligibility)
    eligibility.set_defaults(handler=functools.partial(run_async, run_eligibility))
