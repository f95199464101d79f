"""``loop-async returns list``: stream the returns of a date range as JSON lines or CSV.

The API key comes from the environment (``LOOP_API_KEY``, or the variable named by
``--api-key-env``) or from ``--api-key-file``; never from a flag, so it stays out of shell
history and process listings. Ranges longer than Loop's 120 days are split transparently.
Dates without an offset are taken as UTC. Progress goes to stderr, data to stdout or
``--output``. Exit status: 0 done, 1 Loop or the network failed, 2 bad options.
"""

from __future__ import annotations

import argparse
import csv
import functools
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
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
from loop_async.models.enums import ReturnState
from loop_async.models.return_data import Return
from loop_async.resources.return_data import LIST_FILTERS, MAX_PAGE_SIZE

__all__ = ["CSV_COLUMNS", "parse_when", "register", "run_list"]

#: CSV columns: the return's own fields; nested lists are given as counts.
CSV_COLUMNS = (
    "id",
    "state",
    "created_at",
    "updated_at",
    "order_id",
    "order_name",
    "customer",
    "currency",
    "total",
    "refund",
    "gift_card",
    "exchange_total",
    "handling_fee",
    "carrier",
    "tracking_number",
    "return_method",
    "line_items",
    "refunds",
    "exchanges",
)


def parse_when(text: str) -> datetime:
    """An ISO 8601 date or date-time (``2026-01-31``, ``2026-01-31 12:00:00``, ``...+02:00``, ``...Z``).

    Without an offset the time is UTC.
    """
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 date or date-time: {text!r}") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=timezone.utc)


class _Progress:
    """A count on stderr: redrawn in place on a terminal, a line now and then otherwise."""

    def __init__(self, stream: IO[str], *, enabled: bool = True) -> None:
        self.stream = stream
        self.enabled = enabled
        self.tty = stream.isatty()
        self.count = 0
        self.started = time.monotonic()
        self._last_draw = 0.0

    def tick(self, ret: Return) -> None:
        self.count += 1
        if not self.enabled:
            return
        now = time.monotonic()
        if self.tty and now - self._last_draw >= 0.1:
            self._last_draw = now
            created = ret.created_at.date().isoformat() if ret.created_at else "?"
            self.stream.write(f"\r\x1b[K{self.count} returns (at {created})")  # ESC[K: clear the rest of the line
            self.stream.flush()
        elif not self.tty and self.count % 1000 == 0:
            self.stream.write(f"{self.count} returns...\n")
            self.stream.flush()

    def done(self) -> None:
        if not self.enabled:
            return
        elapsed = time.monotonic() - self.started
        prefix = "\r\x1b[K" if self.tty else ""  # a shorter line must not leave the end of the last one
        self.stream.write(f"{prefix}{self.count} returns in {elapsed:.1f} s\n")
        self.stream.flush()


def _csv_row(ret: Return) -> dict[str, Any]:
    data = unstructure(ret)
    row = {name: data.get(name) for name in CSV_COLUMNS}
    for name in ("line_items", "refunds", "exchanges"):
        row[name] = len(data.get(name) or ())
    return {k: "" if v is None else v for k, v in row.items()}


@contextmanager
def _open_output(path: str | None, stdout: IO[str]) -> Iterator[IO[str]]:
    if path is None or path == "-":
        yield stdout
        return
    with open(path, "w", encoding="utf-8", newline="") as handle:
        yield handle


async def run_list(args: argparse.Namespace, stdout: IO[str], stderr: IO[str]) -> int:
    """``returns list`` with parsed ``args``; writes data to ``stdout`` (or ``--output``)."""
    api_key = api_key_or_report(args, "loop-async returns list", stderr)
    if api_key is None:
        return EXIT_USAGE
    progress = _Progress(stderr, enabled=not args.no_progress)
    try:
        async with client_from_args(args, api_key) as loop:
            returns = loop.returns.list(
                args.start, args.end, filter=args.filter, states=args.state or None, page_size=args.page_size
            )
            with _open_output(args.output, stdout) as out:
                writer: csv.DictWriter[str] | None = None
                if args.format == "csv":
                    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
                    writer.writeheader()
                async for ret in returns:
                    if writer is not None:
                        writer.writerow(_csv_row(ret))
                    else:
                        out.write(_json.dumps(unstructure(ret)).decode("utf-8") + "\n")
                    progress.tick(ret)
                out.flush()
    except FieldValidationError as exc:
        stderr.write(f"loop-async returns list: {exc}\n")
        return EXIT_USAGE
    except LoopError as exc:
        progress.done()
        stderr.write(f"loop-async returns list: failed after {progress.count} returns: {exc}\n")
        return EXIT_FAILED
    progress.done()
    return EXIT_OK


def register(subparsers: Any) -> None:
    """Add ``returns`` (with ``list``) to the ``loop-async`` parser."""
    lister = add_subcommand(
        subparsers,
        "returns",
        "read returns (return data)",
        __doc__,
        "list",
        help="stream the returns of a date range (JSON lines or CSV)",
        description="Stream every return whose timestamp is in [--from, --to]; longer than 120 days is fine.",
    )
    lister.add_argument(
        "--from", dest="start", required=True, type=parse_when, help="start (ISO 8601; UTC if no offset)"
    )
    lister.add_argument("--to", dest="end", required=True, type=parse_when, help="end, inclusive (ISO 8601)")
    lister.add_argument(
        "--state",
        action="append",
        choices=[s.value for s in ReturnState],
        help="only returns in this state (repeatable)",
    )
    lister.add_argument("--filter", choices=sorted(LIST_FILTERS), default="created_at", help="timestamp to filter on")
    lister.add_argument("--page-size", type=int, default=250, help=f"returns per request, 1 to {MAX_PAGE_SIZE}")
    lister.add_argument("--format", choices=("jsonl", "csv"), default="jsonl", help="output format (default: jsonl)")
    lister.add_argument("--output", "-o", help="write to this file instead of stdout")
    add_api_key_options(lister)
    add_client_options(lister)
    lister.add_argument("--no-progress", action="store_true", help="no progress on stderr")
    lister.set_defaults(handler=functools.partial(run_async, run_list))
