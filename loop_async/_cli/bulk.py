"""``loop-async bulk ACTION``: run one return action over a list of return ids, resumably.

Input (``--input``): CSV with a header (``return_id`` or ``id``, and per-row ``reason``,
``text``, ``line_item_ids``) or JSON lines (objects with the same keys, or bare ids).
Output (``--output``): one JSON line per outcome, appended and flushed as soon as the call
returned. On a re-run with the same output file, every return id that already has an outcome
for this action is skipped, so a job cut short by a crash or Ctrl-C resumes where it stopped.

Outcome ``status``:

- ``ok``: Loop accepted the action;
- ``failed``: Loop refused it or it was never sent (4xx, 429, 503, connection refused); nothing
  happened, so ``--retry-failed`` may safely try these again;
- ``unknown``: the request may have reached Loop and taken effect (timeout or dropped
  connection after sending, 500/502/504, an interrupted request). Loop has no idempotency key,
  so these are *not* redone on resume: check them (e.g. ``loop-async returns get``) and use
  ``--retry-unknown`` only for actions that are safe to repeat.

The first SIGINT/SIGTERM stops starting new items and lets the ones in flight finish and be
recorded; a second one aborts them (recorded as ``unknown``). Exit status: 0 when every item
succeeded, 1 when any failed or is unknown, 2 for bad input or options, 130 when interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import datetime
import json
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
from loop_async._cli._common import add_api_key_options, read_api_key
from loop_async.bulk import Outcome, Progress
from loop_async.client import DEFAULT_BASE_URL, LoopClient
from loop_async.errors import DecodeError, FieldValidationError, LoopAPIError, TransportError
from loop_async.ratelimit import TokenBucketLimiter
from loop_async.resources.returns import NOTE_MAX_LENGTH, ActionResult

__all__ = ["ACTIONS", "Row", "classify", "register"]

ACTIONS = ("process", "cancel", "close", "flag", "note", "remove-line-items")
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
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


def _todo(path: Path, fmt: str, action: str, args: argparse.Namespace, skip: set[int]) -> Iterator[Row | _BadRow]:
    """Rows still to do: skips ids with an outcome and repeated ids (each id is done once)."""
    seen = set(skip)
    for entry in read_rows(path, fmt):
        if isinstance(entry, _BadRow):
            yield entry
            continue
        if entry.return_id in seen:
            continue
        seen.add(entry.return_id)
        problem = _check_row(entry, action, args)
        yield _BadRow(entry.line, problem) if problem else entry


# -- output and resume --------------------------------------------------------------------


def read_done(path: Path, action: str, *, retry_failed: bool, retry_unknown: bool) -> tuple[set[int], Counter[str]]:
    """Return ids that already have an outcome for ``action`` (the last line for an id wins)."""
    last: dict[int, str] = {}
    if path.exists():
        with path.open(encoding="utf-8") as handle:
            for text in handle:
                try:
                    record = json.loads(text)
                    if record.get("action") == action:
                        last[int(record["return_id"])] = str(record["status"])
                except (ValueError, KeyError, TypeError, AttributeError):
                    continue  # a line torn by a crash mid-write: that item has no outcome
    redo = {"failed"} if retry_failed else set()
    if retry_unknown:
        redo.add("unknown")
    statuses = Counter(last.values())
    return {rid for rid, status in last.items() if status not in redo}, statuses


def _open_output(path: Path) -> IO[str]:
    handle = path.open("a+", encoding="utf-8")
    # A crash mid-write may have left a torn last line: start ours on a fresh line.
    if handle.tell() > 0:
        handle.seek(handle.tell() - 1)
        if handle.read(1) != "\n":
            handle.write("\n")
    return handle


def classify(error: BaseException) -> str:
    """``failed`` when the action certainly did not happen, ``unknown`` when it may have."""
    if isinstance(error, FieldValidationError):
        return "failed"  # nothing was sent
    if isinstance(error, TransportError):
        return "failed" if error.request_sent is False else "unknown"
    if isinstance(error, LoopAPIError):
        # 500, 502, 504: Loop may have acted before failing. 503 and 4xx: it refused.
        return "unknown" if error.status >= 500 and error.status != 503 else "failed"
    if isinstance(error, DecodeError):
        return "unknown"  # a 2xx we could not read: it probably happened
    return "unknown"


def error_code(error: BaseException) -> str:
    """A short code for the failure summary: Loop's error code, else the status or the type."""
    if isinstance(error, LoopAPIError):
        return error.code or f"HTTP {error.status}"
    if isinstance(error, asyncio.CancelledError):
        return "interrupted"
    return type(error).__name__


def _record(action: str, row: Row, status: str, error: BaseException | None) -> dict[str, Any]:
    record: dict[str, Any] = {"return_id": row.return_id, "action": action, "status": status, "line": row.line}
    record.update(row.args())
    if error is not None:
        info: dict[str, Any] = {"type": type(error).__name__, "code": error_code(error), "message": str(error)[:500]}
        if isinstance(error, LoopAPIError):
            info["status"] = error.status
        record["error"] = info
    record["at"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")
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
            pass  # rich is the `cli` extra: fall back to plain lines
    return _PlainProgress(args.progress_interval)


def _print_summary(statuses: Counter[str], failures: dict[tuple[str, str], list[int]], skipped: int) -> None:
    line = ", ".join(f"{statuses[s]} {s}" for s in ("ok", "failed", "unknown") if statuses[s])
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


def _action_call(action: str, loop: LoopClient, args: argparse.Namespace) -> Callable[[Row], Awaitable[ActionResult]]:
    returns = loop.returns

    async def call(row: Row) -> ActionResult:
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
    skip: frozenset[int]
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
    skip: set[int] = set()
    previous: Counter[str] = Counter()
    if output is not None:
        skip, previous = read_done(output, action, retry_failed=args.retry_failed, retry_unknown=args.retry_unknown)

    # First pass: validate every row and count the work, before anything is sent.
    problems: list[str] = []
    todo = 0
    for entry in _todo(source, fmt, action, args, skip):
        if isinstance(entry, _BadRow):
            problems.append(str(entry))
        else:
            todo += 1
    if problems:
        for problem in problems[:_MAX_PROBLEMS_SHOWN]:
            print(f"error: {source}: {problem}", file=sys.stderr)
        if len(problems) > _MAX_PROBLEMS_SHOWN:
            print(f"error: ... and {len(problems) - _MAX_PROBLEMS_SHOWN} more", file=sys.stderr)
        print("nothing was sent; fix the input and run again", file=sys.stderr)
        return EXIT_USAGE
    if previous:
        done_before = ", ".join(f"{n} {s}" for s, n in sorted(previous.items()))
        print(f"resuming: {len(skip)} ids skipped ({done_before} in {output})", file=sys.stderr)
        if previous["unknown"] and not args.retry_unknown:
            print(
                f"note: {previous['unknown']} ids have an unknown outcome (maybe applied); "
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
    if todo == 0:
        print(f"nothing to do: every id already has an outcome in {output}", file=sys.stderr)
        return EXIT_FAILED if earlier else EXIT_OK
    return _Plan(action, source, fmt, output, frozenset(skip), todo, earlier, api_key)


async def _run(args: argparse.Namespace, plan: _Plan) -> int:
    action, output, skip, todo = plan.action, plan.output, set(plan.skip), plan.todo
    limiter = TokenBucketLimiter(args.rate, decrease_cooldown=1.0) if args.rate > 0 else None
    statuses: Counter[str] = Counter()
    failures: dict[tuple[str, str], list[int]] = defaultdict(list)
    interrupted = False

    def write(handle: IO[str], row: Row, error: BaseException | None) -> None:
        status = "ok" if error is None else classify(error)
        statuses[status] += 1
        if error is not None:
            failures[(status, error_code(error))].append(row.return_id)
        handle.write(json.dumps(_record(action, row, status, error)) + "\n")
        handle.flush()

    rows = (entry for entry in _todo(plan.source, plan.fmt, action, args, skip) if isinstance(entry, Row))
    loop_ = asyncio.get_running_loop()
    main_task = asyncio.current_task()
    assert main_task is not None
    async with LoopClient(
        plan.api_key,
        base_url=args.base_url,
        api_version=args.api_version,
        rate_limit=None,
        rate_limiter=limiter,
        max_concurrency=args.concurrency,
        timeout=args.timeout,
    ) as client:
        display = _progress_display(args, todo, action)
        # As completed, not in input order: an outcome is written the moment its call returns,
        # so a crash loses nothing that was done (ordered output would hold finished items back).
        job = bulk.run(
            rows, _action_call(action, client, args), concurrency=args.concurrency, ordered=False, total=todo
        )
        job_progress = job  # for the signal handler

        def on_signal(signum: int) -> None:
            nonlocal interrupted
            if not interrupted:
                interrupted = True
                job_progress.stop()
                print(
                    f"\n{signal.Signals(signum).name}: stopping; finishing {job_progress.in_flight} requests in flight "
                    "(signal again to abort them)",
                    file=sys.stderr,
                    flush=True,
                )
            else:
                main_task.cancel()

        installed = []
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):  # not on Windows' default loop
                loop_.add_signal_handler(signum, on_signal, signum)
                installed.append(signum)
        handle = _open_output(output)
        try:
            with display:
                try:
                    async with job:
                        outcome: Outcome[Row, ActionResult]
                        async for outcome in job:
                            write(handle, outcome.item, outcome.error)
                            display.update(job.progress)
                except asyncio.CancelledError:
                    if not interrupted:
                        raise
                    uncancel = getattr(main_task, "uncancel", None)  # Python 3.11+
                    if uncancel is not None:
                        uncancel()
                display.update(job.progress, force=True)
            # Aborted in flight: they may have reached Loop, so they must not be redone blindly.
            for _, row in job.report.cancelled:
                write(handle, row, asyncio.CancelledError("interrupted while in flight"))
        finally:
            handle.close()
            for signum in installed:
                loop_.remove_signal_handler(signum)
    _print_summary(statuses, failures, len(skip))
    if plan.earlier_failures:
        print(f"{plan.earlier_failures} ids failed in earlier runs (see {output}; --retry-failed)", file=sys.stderr)
    if interrupted:
        print(f"interrupted: run the same command again to resume (outcomes are in {output})", file=sys.stderr)
        return EXIT_INTERRUPTED
    # The exit status describes the whole output file, not only this run.
    return EXIT_FAILED if statuses["failed"] or statuses["unknown"] or plan.earlier_failures else EXIT_OK


def _handle(args: argparse.Namespace) -> int:
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
    parser.add_argument("--base-url", default=DEFAULT_BASE_URL, help="API origin (default: %(default)s)")
    parser.add_argument("--api-version", default="v1", help="API version (default: %(default)s)")
    parser.add_argument("--concurrency", type=int, default=8, help="items in flight at once (default: %(default)s)")
    parser.add_argument("--rate", type=float, default=300, help="requests per minute, 0 = off (default: %(default)s)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per request attempt")
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
    parser.set_defaults(handler=_handle)
