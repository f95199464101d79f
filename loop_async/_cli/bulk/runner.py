"""The runner of ``loop-async bulk ACTION``: plan the job, run it, and stop cleanly on a signal.

One return action per row, through :func:`loop_async.bulk.run`. It reads rows with
:mod:`.input`, records with :mod:`.journal`, and takes each status from :mod:`.statuses`;
it decides no status itself. What a signal does, and the exit statuses: ``docs/bulk.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import attrs

from loop_async._cli._common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    api_key_or_report,
    client_from_args,
)
from loop_async._cli.bulk.input import BadRow, Repeat, Row, RowKey, check_files, input_format, reject, rows_to_do
from loop_async._cli.bulk.journal import Journal, now, orphan_record, read_done
from loop_async._cli.bulk.progress import progress_display
from loop_async._cli.bulk.statuses import classify, error_code, error_info
from loop_async._cli.bulk.summary import Tally
from loop_async.bulk import Outcome
from loop_async.bulk import run as run_job
from loop_async.client import LoopClient
from loop_async.resources.return_actions import ActionResult

__all__ = ["EXIT_KEY_REFUSED", "Plan", "StopSignals", "api_key_unless_done", "prepare", "run", "uncancel"]

EXIT_KEY_REFUSED = 3
_MAX_REPEATS_SHOWN = 20


def api_key_unless_done(args: argparse.Namespace, output: Path, *, work_left: bool, earlier: int) -> str | int:
    """The API key of a run with ``work_left``; else an exit status, said on stderr.

    2 without a key; when every row already has an outcome in ``output``, 1 if ``earlier``
    runs left rows failed (or unknown), else 0.
    """
    api_key = api_key_or_report(args, "error")
    if api_key is None:
        return EXIT_USAGE
    if not work_left:
        print(f"nothing to do: every row already has an outcome in {output}", file=sys.stderr)
        return EXIT_FAILED if earlier else EXIT_OK
    return api_key


class StopSignals:
    """SIGINT and SIGTERM handlers, installed by :meth:`install`, removed on leaving the ``with`` block.

    Not installed where the loop cannot (Windows' default loop, a thread other than the main one).
    """

    def __init__(self) -> None:
        self._installed: list[int] = []

    def install(self, on_signal: Callable[[int], None]) -> None:
        """Call ``on_signal(signum)`` on SIGINT and SIGTERM."""
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(signum, on_signal, signum)
                self._installed.append(signum)

    def __enter__(self) -> StopSignals:
        return self

    def __exit__(self, *exc: object) -> None:
        loop = asyncio.get_running_loop()
        for signum in self._installed:
            loop.remove_signal_handler(signum)
        self._installed.clear()


def uncancel(task: asyncio.Task[Any]) -> None:
    """Take back the cancellation a second signal asked for, once it has been handled (Python 3.11+)."""
    undo = getattr(task, "uncancel", None)
    if undo is not None:
        undo()


@attrs.frozen
class Plan:
    """A job ready to send: what :func:`prepare` found, and the key."""

    action: str
    source: Path
    fmt: str
    output: Path
    skip: frozenset[RowKey]
    orphans: tuple[dict[str, Any], ...]  # pending lines of an earlier run that died: record them unknown
    todo: int
    earlier_failures: int  # failed/unknown outcomes from earlier runs that are not redone
    api_key: str = attrs.field(repr=False)


def prepare(args: argparse.Namespace) -> Plan | int:
    """Everything before the first request: read the output (resume), validate the input, the key.

    Returns the plan, or an exit status when there is nothing to send (dry run, bad input).
    """
    action: str = args.action
    files = check_files(args)
    if files is None:
        return EXIT_USAGE
    source, output = files
    fmt = input_format(source, args.format)
    skip: set[RowKey] = set()
    previous: Counter[str] = Counter()
    orphans: list[dict[str, Any]] = []
    if output is not None:
        state = read_done(output, action, retry_failed=args.retry_failed, retry_unknown=args.retry_unknown)
        skip, previous, orphans = state.done, state.statuses, state.orphans

    # First pass: validate every row and count the work, before anything is sent.
    problems: list[str] = []
    repeats: list[Repeat] = []
    todo = 0
    for entry in rows_to_do(source, fmt, action, args, skip):
        if isinstance(entry, BadRow):
            problems.append(str(entry))
        elif isinstance(entry, Repeat):
            repeats.append(entry)
        else:
            todo += 1
    if problems:
        reject(source, problems)
        return EXIT_USAGE
    if repeats:
        shown = ", ".join(f"{r.return_id} (line {r.line})" for r in repeats[:_MAX_REPEATS_SHOWN])
        more = f" and {len(repeats) - _MAX_REPEATS_SHOWN} more" if len(repeats) > _MAX_REPEATS_SHOWN else ""
        print(
            f"note: {len(repeats)} rows repeat a return id of an earlier row; {action} is done once per return, "
            f"so they are skipped: {shown}{more}",
            file=sys.stderr,
        )
    if previous:
        done_before = ", ".join(f"{n} {s}" for s, n in sorted(previous.items()))
        print(f"resuming: {len(skip)} rows skipped ({done_before} in {output})", file=sys.stderr)
        if previous["unknown"] and not args.retry_unknown:
            print(
                f"note: {previous['unknown']} rows have an unknown outcome (maybe applied); "
                "they are not redone (see --retry-unknown)",
                file=sys.stderr,
            )

    if args.dry_run:
        for entry in rows_to_do(source, fmt, action, args, skip):
            if isinstance(entry, Row):
                plan = {"return_id": entry.return_id, "action": action, "status": "dry-run", **entry.args()}
                print(json.dumps(plan), flush=True)
        print(f"dry run: would {action} {todo} returns; nothing was sent", file=sys.stderr)
        return EXIT_OK

    assert output is not None
    earlier = (0 if args.retry_failed else previous["failed"]) + (0 if args.retry_unknown else previous["unknown"])
    api_key = api_key_unless_done(args, output, work_left=bool(todo or orphans), earlier=earlier)
    if isinstance(api_key, int):
        return api_key
    return Plan(action, source, fmt, output, frozenset(skip), tuple(orphans), todo, earlier, api_key)


def _action_call(
    action: str, loop: LoopClient, args: argparse.Namespace, started: Callable[[Row], None]
) -> Callable[[Row], Awaitable[ActionResult]]:
    returns = loop.returns

    async def call(row: Row) -> ActionResult:
        started(row)  # the pending line, before anything can reach Loop
        if action == "process":
            return await returns.process(row.return_id)
        if action == "cancel":
            return await returns.cancel(row.return_id, reason=row.reason or args.reason)
        if action == "close":
            return await returns.close(row.return_id)
        if action == "flag":
            return await returns.flag(row.return_id, reason=row.reason or args.reason)
        if action == "note":
            return await returns.create_note(row.return_id, row.text or args.text)
        return await returns.remove_line_items(row.return_id, row.line_item_ids)

    return call


def _record(action: str, row: Row, status: str, error: BaseException | None) -> dict[str, Any]:
    record: dict[str, Any] = {"return_id": row.return_id, "action": action, "status": status, "line": row.line}
    record.update(row.args())
    if error is not None:
        record["error"] = error_info(error)
    record["at"] = now()
    return record


async def run(args: argparse.Namespace, plan: Plan) -> int:
    """Run ``plan``: a pending line, then an outcome line, per row; the summary; the exit status."""
    action, output, skip, todo = plan.action, plan.output, set(plan.skip), plan.todo
    tally = Tally()
    interrupted = False
    refused_key: BaseException | None = None
    journal = Journal(output, fsync=args.fsync)

    def write(row: Row, error: BaseException | None) -> None:
        status = classify(error)
        tally.add(status, error, row.return_id)
        journal.write(_record(action, row, status, error))

    def started(row: Row) -> None:
        journal.write(_record(action, row, "pending", None))

    rows = (entry for entry in rows_to_do(plan.source, plan.fmt, action, args, skip) if isinstance(entry, Row))
    main_task = asyncio.current_task()
    assert main_task is not None
    with StopSignals() as signals, journal:
        # The previous run died with these in flight: they may have happened. Record it once.
        for pending in plan.orphans:
            journal.write(orphan_record(pending))
        async with client_from_args(args, plan.api_key, max_concurrency=args.concurrency) as client:
            display = progress_display(args, todo, action)
            # As completed, not in input order: an outcome is written the moment its call returns,
            # so a crash loses nothing that was done (ordered output would hold finished items back).
            job = run_job(
                rows,
                _action_call(action, client, args, started),
                concurrency=args.concurrency,
                ordered=False,
                total=todo,
            )

            def on_signal(signum: int) -> None:
                nonlocal interrupted
                if not interrupted:
                    interrupted = True
                    job.stop()
                    print(
                        f"\n{signal.Signals(signum).name}: stopping; finishing {job.in_flight} requests in flight "
                        "(signal again to abort them)",
                        file=sys.stderr,
                        flush=True,
                    )
                else:
                    main_task.cancel()

            signals.install(on_signal)
            with display:
                try:
                    async with job:
                        outcome: Outcome[Row, ActionResult]
                        async for outcome in job:
                            write(outcome.item, outcome.error)
                            display.update(job.progress)
                except asyncio.CancelledError:
                    if not interrupted:
                        raise
                    uncancel(main_task)
                display.update(job.progress, force=True)
            report = job.report
            refused_key = report.stopped_by
            # Finished while we were being interrupted, never handed to the loop above: still recorded.
            for finished in report.unclaimed:
                write(finished.item, finished.error)
            # Aborted in flight: they may have reached Loop, so they must not be redone blindly.
            for _, row in report.cancelled:
                write(row, asyncio.CancelledError("interrupted while in flight"))
    tally.report(len(skip))
    if refused_key is not None:
        print(
            f"error: Loop refused the API key ({error_code(refused_key)}): check the key, and that it has the Returns "
            "scope (Loop answers 401 for a bad key and for a missing scope); nothing more was sent. "
            "Run the same command again to resume once the key is fixed.",
            file=sys.stderr,
        )
        return EXIT_KEY_REFUSED
    if plan.earlier_failures:
        print(f"{plan.earlier_failures} rows failed in earlier runs (see {output}; --retry-failed)", file=sys.stderr)
    if interrupted:
        print(f"interrupted: run the same command again to resume (outcomes are in {output})", file=sys.stderr)
        return EXIT_INTERRUPTED
    # The exit status describes the whole output file, not only this run.
    return EXIT_FAILED if tally.unsettled or plan.earlier_failures else EXIT_OK
