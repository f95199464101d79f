"""``loop-async bulk ACTION``: run one return action over a list of return ids, resumably.

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

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import datetime
import json
import os
import re
import signal
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import IO, Any

import attrs

from loop_async import bulk
from loop_async._cli import temporal as temporal_cli
from loop_async._cli._common import add_api_key_options, add_client_options, client_from_args, read_api_key
from loop_async._sansio.outcome import classify as outcome_kind
from loop_async.bulk import Outcome, Progress
from loop_async.client import LoopClient
from loop_async.errors import LoopAPIError, OutcomeUnknownError, PartialOutcomeError
from loop_async.resources.return_actions import NOTE_MAX_LENGTH, ActionResult

__all__ = ["ACTIONS", "PER_ROW_ACTIONS", "ResumeState", "Row", "classify", "read_done", "register", "row_key"]

ACTIONS = ("process", "cancel", "close", "flag", "note", "remove-line-items", "assess")
#: Actions where two rows for the same return are two pieces of work (keyed by line and id).
PER_ROW_ACTIONS = frozenset({"flag", "note", "remove-line-items"})
RowKey = tuple[int, int]
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_KEY_REFUSED, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
_STATUSES = ("ok", "failed", "unknown", "partial")
_ID_SPLIT = re.compile(r"[\s,;|]+")
_MAX_PROBLEMS_SHOWN = 20


@attrs.frozen
class Row:
    """One input row: the return id and the action's per-row arguments."""

    line: int
    return_id: int
    reason: str | None = None
    text: str | None = None
    line_item_ids: tuple[int, ...] = ()

    def args(self) -> dict[str, Any]:
        """The per-row arguments that are set, for the output line."""
        out: dict[str, Any] = {}
        if self.reason:
            out["reason"] = self.reason
        if self.text:
            out["text"] = self.text
        if self.line_item_ids:
            out["line_item_ids"] = list(self.line_item_ids)
        return out


class _BadRow(ValueError):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")


@attrs.frozen
class _Repeat:
    """A row whose return id an earlier row already has, for an action done once per return."""

    line: int
    return_id: int


def row_key(action: str, line: int, return_id: int) -> RowKey:
    """What identifies a piece of work in the output: ``(line, id)`` for per-row actions, else ``(0, id)``."""
    return (line, return_id) if action in PER_ROW_ACTIONS else (0, return_id)


# -- input --------------------------------------------------------------------------------


def _input_format(path: Path, fmt: str) -> str:
    if fmt != "auto":
        return fmt
    return "csv" if path.suffix.lower() in (".csv", ".tsv", ".txt") else "jsonl"


def _positive_int(value: Any, what: str, line: int) -> int:
    if isinstance(value, bool):
        raise _BadRow(line, f"{what} must be a positive integer, got {value!r}")
    try:
        number = int(str(value).strip())
    except ValueError:
        raise _BadRow(line, f"{what} must be a positive integer, got {value!r}") from None
    if number <= 0:
        raise _BadRow(line, f"{what} must be a positive integer, got {value!r}")
    return number


def _row_from_mapping(data: dict[str, Any], line: int) -> Row:
    raw_id = data.get("return_id", data.get("id"))
    if raw_id is None or raw_id == "":
        raise _BadRow(line, "no return_id (or id)")
    raw_items = data.get("line_item_ids") or ()
    if isinstance(raw_items, str):
        raw_items = [part for part in _ID_SPLIT.split(raw_items) if part]
    elif not isinstance(raw_items, list | tuple):
        raw_items = [raw_items]
    return Row(
        line=line,
        return_id=_positive_int(raw_id, "return_id", line),
        reason=(str(data["reason"]) if data.get("reason") not in (None, "") else None),
        text=(str(data["text"]) if data.get("text") not in (None, "") else None),
        line_item_ids=tuple(_positive_int(i, "line_item_ids", line) for i in raw_items),
    )


def read_rows(path: Path, fmt: str) -> Iterator[Row | _BadRow]:
    """Parse the input lazily: a :class:`Row` per data row, or the problem with it."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        if fmt == "csv":
            reader = csv.DictReader(handle)
            fields = {name.strip().lower() for name in reader.fieldnames or ()}
            if not fields & {"return_id", "id"}:
                yield _BadRow(1, "the CSV header has no return_id (or id) column")
                return
            for record in reader:
                data = {(k or "").strip().lower(): (v or "").strip() for k, v in record.items()}
                try:
                    yield _row_from_mapping(data, reader.line_num)
                except _BadRow as bad:
                    yield bad
            return
        for number, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            try:
                value = json.loads(text)
            except ValueError:
                yield _BadRow(number, "not valid JSON")
                continue
            try:
                yield _row_from_mapping(value if isinstance(value, dict) else {"return_id": value}, number)
            except _BadRow as bad:
                yield bad


def _check_row(row: Row, action: str, args: argparse.Namespace) -> str | None:
    text = row.text or args.text
    if action == "note":
        if not text:
            return "a note needs text (a 'text' column or --text)"
        if len(text) > NOTE_MAX_LENGTH:
            return f"note text is {len(text)} characters, at most {NOTE_MAX_LENGTH}"
    if action == "remove-line-items" and not row.line_item_ids:
        return "remove-line-items needs line_item_ids"
    reason = row.reason or args.reason
    if action == "flag" and reason and len(reason) > NOTE_MAX_LENGTH:
        return f"flag reason (recorded as a note) is {len(reason)} characters, at most {NOTE_MAX_LENGTH}"
    return None


def _todo(
    path: Path, fmt: str, action: str, args: argparse.Namespace, skip: set[RowKey]
) -> Iterator[Row | _BadRow | _Repeat]:
    """Rows still to do: skips rows with an outcome; repeats of an id for once-per-return actions."""
    seen: set[int] = set()
    for entry in read_rows(path, fmt):
        if isinstance(entry, _BadRow):
            yield entry
            continue
        if action not in PER_ROW_ACTIONS:
            if entry.return_id in seen:
                yield _Repeat(entry.line, entry.return_id)
                continue
            seen.add(entry.return_id)
        if row_key(action, entry.line, entry.return_id) in skip:
            continue
        problem = _check_row(entry, action, args)
        yield _BadRow(entry.line, problem) if problem else entry


# -- output and resume --------------------------------------------------------------------


@attrs.frozen
class ResumeState:
    """What an output file says about ``action``: ``done`` rows (keys to skip), the ``statuses``
    of every row in it, and ``orphans``: ``pending`` lines with no outcome after them (the
    process died with the request in flight), counted as ``unknown``."""

    done: set[RowKey]
    statuses: Counter[str]
    orphans: list[dict[str, Any]]


def read_done(path: Path, action: str, *, retry_failed: bool, retry_unknown: bool) -> ResumeState:
    """Read the outcomes of ``action`` in ``path``; the last line for a row wins."""
    last: dict[RowKey, dict[str, Any]] = {}
    if path.exists():
        with path.open(encoding="utf-8") as handle:
            for text in handle:
                try:
                    record = json.loads(text)
                    if record.get("action") == action:
                        key = row_key(action, int(record.get("line", 0)), int(record["return_id"]))
                        record["status"] = str(record["status"])  # KeyError: not an outcome line
                        last[key] = record
                except (ValueError, KeyError, TypeError, AttributeError):
                    continue  # a line torn by a crash mid-write: that item has no outcome
    orphans = [record for record in last.values() if record["status"] == "pending"]
    status_of = {key: "unknown" if r["status"] == "pending" else str(r["status"]) for key, r in last.items()}
    redo = {"failed"} if retry_failed else set()
    if retry_unknown:
        redo.add("unknown")
    done = {key for key, status in status_of.items() if status not in redo}
    return ResumeState(done, Counter(status_of.values()), orphans)


def _open_output(path: Path) -> IO[str]:
    handle = path.open("a+", encoding="utf-8")
    # A crash mid-write may have left a torn last line: start ours on a fresh line.
    if handle.tell() > 0:
        handle.seek(handle.tell() - 1)
        if handle.read(1) != "\n":
            handle.write("\n")
    return handle


def classify(error: BaseException) -> str:
    """The row's status for ``error``: ``failed``, ``unknown`` or ``partial`` (the one rule, in ``_sansio.outcome``)."""
    return outcome_kind(error).value


def error_code(error: BaseException) -> str:
    """A short code for the failure summary: Loop's error code, else the status or the type."""
    if isinstance(error, OutcomeUnknownError | PartialOutcomeError) and not isinstance(
        error.error, asyncio.CancelledError
    ):
        return error_code(error.error)
    if isinstance(error, LoopAPIError):
        return error.code or f"HTTP {error.status}"
    if isinstance(error, asyncio.CancelledError):
        return "interrupted"
    return type(error).__name__


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")


def _orphan_record(pending: dict[str, Any]) -> dict[str, Any]:
    """The ``unknown`` outcome of a row whose run died after writing its ``pending`` line."""
    record = {**pending, "status": "unknown"}
    record["error"] = {
        "type": "Interrupted",
        "code": "interrupted",
        "message": "the run ended while this request was in flight (or about to be sent)",
    }
    record["at"] = _now()
    return record


def _record(action: str, row: Row, status: str, error: BaseException | None) -> dict[str, Any]:
    record: dict[str, Any] = {"return_id": row.return_id, "action": action, "status": status, "line": row.line}
    record.update(row.args())
    if error is not None:
        info: dict[str, Any] = {"type": type(error).__name__, "code": error_code(error), "message": str(error)[:500]}
        if isinstance(error, LoopAPIError):
            info["status"] = error.status
        record["error"] = info
    record["at"] = _now()
    return record


# -- progress -----------------------------------------------------------------------------


def _fmt_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = int(seconds)
    return (
        f"{seconds // 3600}h{seconds % 3600 // 60:02d}m" if seconds >= 3600 else f"{seconds // 60}m{seconds % 60:02d}s"
    )


class _PlainProgress:
    """A progress line on stderr at most every ``interval`` seconds (no TTY, or no rich)."""

    def __init__(self, interval: float) -> None:
        self._interval = interval
        self._last = float("-inf")

    def __enter__(self) -> _PlainProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def update(self, progress: Progress, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < self._interval:
            return
        self._last = now
        total = "?" if progress.total is None else str(progress.total)
        print(
            f"progress: done={progress.done} total={total} failed={progress.failed} "
            f"rate={progress.rate:.1f}/s eta={_fmt_seconds(progress.eta)}",
            file=sys.stderr,
            flush=True,
        )


class _RichProgress:
    """rich's progress bar with done/total, failures, rate and ETA."""

    def __init__(self, total: int | None, action: str) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.progress import (
            Progress as RichProgress,
        )

        self._bar = RichProgress(
            TextColumn(f"[bold]{action}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("[red]{task.fields[failed]} failed"),
            TextColumn("{task.fields[rate]:.1f}/s"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
        )
        self._task = self._bar.add_task(action, total=total, failed=0, rate=0.0)

    def __enter__(self) -> _RichProgress:
        self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.stop()

    def update(self, progress: Progress, *, force: bool = False) -> None:
        self._bar.update(self._task, completed=progress.done, failed=progress.failed, rate=progress.rate)


def _progress_display(args: argparse.Namespace, total: int | None, action: str) -> _PlainProgress | _RichProgress:
    if args.progress == "rich" or (args.progress == "auto" and sys.stderr.isatty()):
        try:
            return _RichProgress(total, action)
        except ImportError:
            if args.progress == "rich":  # asked for by name: say how to get it
                print(
                    "note: --progress rich needs rich: pip install 'loop-async[cli]'; showing plain progress lines",
                    file=sys.stderr,
                )
    return _PlainProgress(args.progress_interval)


def _print_summary(statuses: Counter[str], failures: dict[tuple[str, str], list[int]], skipped: int) -> None:
    line = ", ".join(f"{statuses[s]} {s}" for s in _STATUSES if statuses[s])
    print(f"done: {line or 'nothing to do'}; {skipped} skipped (already in the output)", file=sys.stderr)
    if not failures:
        return
    rows = sorted(failures.items(), key=lambda kv: -len(kv[1]))
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        print("failures by error code:", file=sys.stderr)
        for (status, code), ids in rows:
            print(f"  {status:8} {code:30} {len(ids):6}  e.g. {', '.join(map(str, ids[:5]))}", file=sys.stderr)
        return
    table = Table(title="Failures by error code")
    table.add_column("status")
    table.add_column("code")
    table.add_column("count", justify="right")
    table.add_column("return ids (first 5)")
    for (status, code), ids in rows:
        table.add_row(status, code, str(len(ids)), ", ".join(map(str, ids[:5])))
    Console(stderr=True).print(table)


# -- running ------------------------------------------------------------------------------


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


@attrs.frozen
class _Plan:
    action: str
    source: Path
    fmt: str
    output: Path
    skip: frozenset[RowKey]
    orphans: tuple[dict[str, Any], ...]  # pending lines of an earlier run that died: record them unknown
    todo: int
    earlier_failures: int  # failed/unknown outcomes from earlier runs that are not redone
    api_key: str = attrs.field(repr=False)


def _prepare(args: argparse.Namespace) -> _Plan | int:
    """Everything before the first request: read the output (resume), validate the input, the key.

    Returns the plan, or an exit status when there is nothing to send (dry run, bad input).
    """
    action: str = args.action
    source = Path(args.input)
    fmt = _input_format(source, args.format)
    if not source.is_file():
        print(f"error: input file {source} not found", file=sys.stderr)
        return EXIT_USAGE
    output = Path(args.output) if args.output else None
    if output is None and not args.dry_run:
        print("error: --output is required (it is also what makes a re-run resume)", file=sys.stderr)
        return EXIT_USAGE
    skip: set[RowKey] = set()
    previous: Counter[str] = Counter()
    orphans: list[dict[str, Any]] = []
    if output is not None:
        state = read_done(output, action, retry_failed=args.retry_failed, retry_unknown=args.retry_unknown)
        skip, previous, orphans = state.done, state.statuses, state.orphans

    # First pass: validate every row and count the work, before anything is sent.
    problems: list[str] = []
    repeats: list[_Repeat] = []
    todo = 0
    for entry in _todo(source, fmt, action, args, skip):
        if isinstance(entry, _BadRow):
            problems.append(str(entry))
        elif isinstance(entry, _Repeat):
            repeats.append(entry)
        else:
            todo += 1
    if problems:
        for problem in problems[:_MAX_PROBLEMS_SHOWN]:
            print(f"error: {source}: {problem}", file=sys.stderr)
        if len(problems) > _MAX_PROBLEMS_SHOWN:
            print(f"error: ... and {len(problems) - _MAX_PROBLEMS_SHOWN} more", file=sys.stderr)
        print("nothing was sent; fix the input and run again", file=sys.stderr)
        return EXIT_USAGE
    if repeats:
        shown = ", ".join(f"{r.return_id} (line {r.line})" for r in repeats[:_MAX_PROBLEMS_SHOWN])
        more = f" and {len(repeats) - _MAX_PROBLEMS_SHOWN} more" if len(repeats) > _MAX_PROBLEMS_SHOWN else ""
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
        for entry in _todo(source, fmt, action, args, skip):
            if isinstance(entry, Row):
                plan = {"return_id": entry.return_id, "action": action, "status": "dry-run", **entry.args()}
                print(json.dumps(plan), flush=True)
        print(f"dry run: would {action} {todo} returns; nothing was sent", file=sys.stderr)
        return EXIT_OK

    try:
        api_key = read_api_key(args)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    assert output is not None
    earlier = (0 if args.retry_failed else previous["failed"]) + (0 if args.retry_unknown else previous["unknown"])
    if todo == 0 and not orphans:
        print(f"nothing to do: every row already has an outcome in {output}", file=sys.stderr)
        return EXIT_FAILED if earlier else EXIT_OK
    return _Plan(action, source, fmt, output, frozenset(skip), tuple(orphans), todo, earlier, api_key)


async def _run(args: argparse.Namespace, plan: _Plan) -> int:
    action, output, skip, todo = plan.action, plan.output, set(plan.skip), plan.todo
    statuses: Counter[str] = Counter()
    failures: dict[tuple[str, str], list[int]] = defaultdict(list)
    interrupted = False
    refused_key: BaseException | None = None
    handle = _open_output(output)

    def emit(record: dict[str, Any]) -> None:
        handle.write(json.dumps(record) + "\n")
        handle.flush()  # in the OS's hands: survives this process being killed
        if args.fsync:
            os.fsync(handle.fileno())  # on the disk: survives the machine crashing

    def write(row: Row, error: BaseException | None) -> None:
        status = "ok" if error is None else classify(error)
        statuses[status] += 1
        if error is not None:
            failures[(status, error_code(error))].append(row.return_id)
        emit(_record(action, row, status, error))

    def started(row: Row) -> None:
        emit(_record(action, row, "pending", None))

    rows = (entry for entry in _todo(plan.source, plan.fmt, action, args, skip) if isinstance(entry, Row))
    loop_ = asyncio.get_running_loop()
    main_task = asyncio.current_task()
    assert main_task is not None
    installed = []
    try:
        # The previous run died with these in flight: they may have happened. Record it once.
        for pending in plan.orphans:
            emit(_orphan_record(pending))
        async with client_from_args(args, plan.api_key, max_concurrency=args.concurrency) as client:
            display = _progress_display(args, todo, action)
            # As completed, not in input order: an outcome is written the moment its call returns,
            # so a crash loses nothing that was done (ordered output would hold finished items back).
            job = bulk.run(
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

            for signum in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError, RuntimeError):  # not on Windows' default loop
                    loop_.add_signal_handler(signum, on_signal, signum)
                    installed.append(signum)
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
                    uncancel = getattr(main_task, "uncancel", None)  # Python 3.11+
                    if uncancel is not None:
                        uncancel()
                display.update(job.progress, force=True)
            report = job.report
            refused_key = report.stopped_by
            # Finished while we were being interrupted, never handed to the loop above: still recorded.
            for finished in report.unclaimed:
                write(finished.item, finished.error)
            # Aborted in flight: they may have reached Loop, so they must not be redone blindly.
            for _, row in report.cancelled:
                write(row, asyncio.CancelledError("interrupted while in flight"))
    finally:
        handle.close()
        for signum in installed:
            loop_.remove_signal_handler(signum)
    _print_summary(statuses, failures, len(skip))
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
    unsettled = statuses["failed"] or statuses["unknown"] or statuses["partial"]
    return EXIT_FAILED if unsettled or plan.earlier_failures else EXIT_OK


def _handle(args: argparse.Namespace) -> int:
    if getattr(args, "temporal", None) and not args.dry_run:  # --temporal: the job runs on Temporal workers
        return temporal_cli.run_bulk(args)
    if args.action == "assess":  # rows of line items sent 30 per call, not a call per return id
        from loop_async._cli import bulk_assess

        return bulk_assess.handle(args)
    if args.concurrency < 1:
        print("error: --concurrency must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    if args.rate < 0:
        print("error: --rate must be 0 (off) or more", file=sys.stderr)
        return EXIT_USAGE
    plan = _prepare(args)
    if isinstance(plan, int):
        return plan
    return asyncio.run(_run(args, plan))


def register(subparsers: Any) -> None:
    """Add ``bulk`` to the ``loop-async`` command line."""
    parser = subparsers.add_parser(
        "bulk",
        help="run a return action over many return ids (resumable)",
        description=__doc__,
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
    temporal_cli.add_bulk_options(parser)
    parser.set_defaults(handler=_handle)
