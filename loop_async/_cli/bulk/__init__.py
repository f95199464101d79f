"""``loop-async bulk ACTION``: one return action (or ``assess``) over many rows, resumably.

The same concept as :mod:`loop_async.bulk`, at the CLI layer. This facade registers the command
and picks the runner; the work is in its modules: :mod:`.input` (rows), :mod:`.journal` (the
output, and resuming), :mod:`.statuses` (statuses), :mod:`.progress`, :mod:`.summary`,
:mod:`.runner` (a return action here), :mod:`.assess` (dispositions in batches) and
:mod:`.workflow` (the job on Temporal). ``_DESCRIPTION`` is the command's ``--help``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from loop_async._cli._common import EXIT_USAGE, add_api_key_options, add_client_options
from loop_async._cli.bulk import assess, runner, workflow

__all__ = ["ACTIONS", "register"]

ACTIONS = ("process", "cancel", "close", "flag", "note", "remove-line-items", "assess")

_DESCRIPTION = """\
``loop-async bulk ACTION``: run one return action over a list of return ids, resumably.

Input (``--input``): CSV with a header (``return_id`` or ``id``, and per-row ``reason``,
``text``, ``line_item_ids``) or JSON lines (objects with the same keys, or bare ids).

Repeated ids: for ``note``, ``flag`` and ``remove-line-items`` every row is its own piece of
work (two notes for one return are two notes), identified by its line and return id. For
``process``, ``cancel`` and ``close`` a return can only be acted on once: a repeated id is
done once (its first row) and the repeats are listed on stderr.

Output (``--output``): JSON lines, appended and flushed. Before each request a ``pending``
line is written; when the call returns, its outcome. On a re-run with the same input and
output files, every row that already has an outcome for this action is skipped, so a job cut
short by Ctrl-C, a crash or even ``kill -9`` resumes where it stopped. A ``pending`` line with
no outcome after it (the process died with the request in flight) is recorded as ``unknown``
at the start of the next run, and is not redone. Lines are flushed (they survive the process
being killed); ``--fsync`` also makes them survive the machine crashing, at some speed cost.

Outcome ``status`` (the SDK's one rule, ``loop_async._sansio.outcome``):

- ``ok``: Loop accepted the action;
- ``failed``: Loop refused it or it was never sent (4xx, 429, 503, connection refused); nothing
  happened, so ``--retry-failed`` may safely try these again;
- ``unknown``: the request may have reached Loop and taken effect (timeout or dropped
  connection after sending, 500/502/504, an interrupted request). Loop has no idempotency key,
  so these are *not* redone on resume: check them (``loop-async returns list``, or ``loop.returns.get``) and use
  ``--retry-unknown`` only for actions that are safe to repeat;
- ``partial``: part of it happened (``flag --reason``: the return was flagged, the note
  failed); not redone: add the note by hand.

A 401 or 403 (a bad key, or a key without the Returns scope: Loop answers 401 for both) stops
the run at once: nothing more is sent, at most ``--concurrency`` requests were in flight, and
the exit status is 3.

The first SIGINT/SIGTERM stops starting new items and lets the ones in flight finish and be
recorded; a second one aborts them (recorded as ``unknown``; an item waiting for its rate slot
when the run ends, or is killed, is also ``unknown``, as it cannot be told apart from one in
flight). Every row started ends with exactly one outcome line. Exit status: 0 when every item
succeeded, 1 when any failed, is unknown or partial, 2 for bad input or options, 3 when Loop
refused the key, 130 when interrupted.
"""


def _handle(args: argparse.Namespace) -> int:
    if getattr(args, "temporal", None) and not args.dry_run:  # --temporal: the job runs on Temporal workers
        return workflow.run_bulk(args)
    if args.action == "assess":  # rows of line items sent 30 per call, not a call per return id
        return assess.handle(args)
    if args.concurrency < 1:
        print("error: --concurrency must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    if args.rate < 0:
        print("error: --rate must be 0 (off) or more", file=sys.stderr)
        return EXIT_USAGE
    plan = runner.prepare(args)
    if isinstance(plan, int):
        return plan
    return asyncio.run(runner.run(args, plan))


def register(subparsers: Any) -> None:
    """Add ``bulk`` to the ``loop-async`` command line."""
    parser = subparsers.add_parser(
        "bulk",
        help="run a return action over many return ids (resumable)",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("action", choices=ACTIONS, metavar="ACTION", help=f"one of: {', '.join(ACTIONS)}")
    parser.add_argument("--input", "-i", required=True, help="CSV (with a header) or JSON-lines file of return ids")
    parser.add_argument(
        "--format", choices=("auto", "csv", "jsonl"), default="auto", help="input format (auto: by suffix)"
    )
    parser.add_argument("--output", "-o", help="JSON-lines file of outcomes; re-running with it resumes")
    add_api_key_options(parser)
    add_client_options(parser)
    parser.add_argument("--concurrency", type=int, default=8, help="items in flight at once (default: %(default)s)")
    parser.add_argument("--fsync", action="store_true", help="fsync the output after each line (survives a power cut)")
    parser.add_argument("--reason", help="reason for cancel/flag rows that have none")
    parser.add_argument("--text", help="note text for rows that have none")
    parser.add_argument("--dry-run", action="store_true", help="validate and print the plan; send nothing")
    parser.add_argument("--retry-failed", action="store_true", help="redo ids whose outcome is 'failed' (not applied)")
    parser.add_argument(
        "--retry-unknown", action="store_true", help="also redo ids whose outcome is 'unknown' (may repeat an action!)"
    )
    parser.add_argument(
        "--progress", choices=("auto", "rich", "plain"), default="auto", help="progress display (auto: rich on a TTY)"
    )
    parser.add_argument(
        "--progress-interval", type=float, default=5.0, help="seconds between plain progress lines (0: every outcome)"
    )
    workflow.add_bulk_options(parser)
    parser.set_defaults(handler=_handle)
