"""``loop-async bulk assess --input rows.csv --output outcomes.jsonl``: disposition many items, resumably.

Input: CSV with a header, or JSON lines of objects, one row per inspected item: ``line_item_id``
(or ``line_item``), ``outcome`` (or ``disposition_outcome``: ``back_to_stock``,
``resale_hold``, ``recycle``, ``donate``, ``missing``), and optionally ``processor`` (or
``return_processor``, an email of at most 100 characters), ``note`` and ``inspected_at``
(``YYYY-MM-DD HH:MM:SS``, UTC). Every row is checked before anything is sent.

Rows are sent in batches of 30 (Loop's limit per call), one batch after the other. Output:
JSON lines, appended and flushed: a ``pending`` line per row before its batch is sent, then
its outcome (``ok``, ``failed``: nothing applied, ``unknown``: may have been applied), with
the batch number. A re-run with the same files skips every row that has an outcome; a row
left ``pending`` by a run that died is recorded ``unknown`` and not redone. ``--retry-failed``
redoes ``failed`` rows; ``--retry-unknown`` also ``unknown`` ones (may assess twice). The first
SIGINT/SIGTERM stops after the batch in flight; a second aborts it (its rows are ``unknown``).
Exit status: 0 all ok, 1 any failed or unknown, 2 bad input or options, 130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import json
import os
import signal
import sys
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs

from loop_async._cli._common import client_from_args, read_api_key
from loop_async._cli.bulk import _input_format, _now, _open_output, _orphan_record, _print_summary, error_code
from loop_async._sansio.outcome import OutcomeKind
from loop_async.errors import FieldValidationError, LoopAPIError
from loop_async.resources.dispositions import MAX_BATCH, Assessment, check_assessments

__all__ = ["ACTION", "AssessRow", "handle", "read_rows"]

ACTION = "assess"
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
_ALIASES = {
    "line_item": "line_item_id",
    "disposition_outcome": "outcome",
    "processor": "return_processor",
}
_COLUMNS = frozenset({"line_item_id", "outcome", "return_processor", "note", "inspected_at"})
_MAX_PROBLEMS_SHOWN = 20


@attrs.frozen
class AssessRow:
    """One input row: its line number and the checked assessment."""

    line: int
    assessment: Assessment

    @property
    def key(self) -> tuple[int, int]:
        """What identifies the row's work in the output: (line, line item id)."""
        return (self.line, self.assessment.line_item_id)


def _assessment(data: dict[str, Any], line: int) -> Assessment | str:
    values: dict[str, Any] = {}
    for key, value in data.items():
        name = _ALIASES.get(key, key)
        if name not in _COLUMNS:
            return f"unknown column {key!r}; known: {sorted(_COLUMNS | set(_ALIASES))}"
        if value not in (None, ""):
            values[name] = value
    raw_id = values.get("line_item_id")
    try:
        values["line_item_id"] = int(str(raw_id).strip()) if not isinstance(raw_id, bool) else raw_id
    except ValueError:
        return f"line_item_id must be a positive integer, got {raw_id!r}"
    try:
        (checked,) = check_assessments([values])
    except FieldValidationError as exc:
        return "; ".join(f"{p.name.removeprefix('items[0].')} {p.message}" for p in exc.problems)
    return checked


def read_rows(path: Path, fmt: str) -> Iterator[AssessRow | tuple[int, str]]:
    """The rows of ``path``: an :class:`AssessRow` each, or ``(line, problem)``."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        if fmt == "csv":
            reader = csv.DictReader(handle)
            fields = {(name or "").strip().lower() for name in reader.fieldnames or ()}
            if not fields & {"line_item_id", "line_item"} or not fields & {"outcome", "disposition_outcome"}:
                yield (1, "the CSV header needs line_item_id (or line_item) and outcome columns")
                return
            for record in reader:
                data = {(k or "").strip().lower(): (v or "").strip() for k, v in record.items()}
                result = _assessment(data, reader.line_num)
                yield (
                    AssessRow(reader.line_num, result) if isinstance(result, Assessment) else (reader.line_num, result)
                )
            return
        for number, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            try:
                value = json.loads(text)
            except ValueError:
                yield (number, "not valid JSON")
                continue
            if not isinstance(value, dict):
                yield (number, "must be a JSON object")
                continue
            result = _assessment(value, number)
            yield AssessRow(number, result) if isinstance(result, Assessment) else (number, result)


def _record(row: AssessRow, status: str, batch: int | None, error: BaseException | None = None) -> dict[str, Any]:
    item = row.assessment
    record: dict[str, Any] = {
        "action": ACTION,
        "line": row.line,
        "line_item_id": item.line_item_id,
        "outcome": str(item.outcome),
        "status": status,
    }
    if batch is not None:
        record["batch"] = batch
    if error is not None:
        info: dict[str, Any] = {"type": type(error).__name__, "code": error_code(error), "message": str(error)[:500]}
        if isinstance(error, LoopAPIError):
            info["status"] = error.status
        record["error"] = info
    record["at"] = _now()
    return record


def _read_done(path: Path) -> dict[tuple[int, int], dict[str, Any]]:
    """The last ``assess`` record of each row in ``path`` (torn lines skipped)."""
    last: dict[tuple[int, int], dict[str, Any]] = {}
    if not path.exists():
        return last
    with path.open(encoding="utf-8") as handle:
        for text in handle:
            try:
                record = json.loads(text)
                if record.get("action") == ACTION:
                    last[(int(record["line"]), int(record["line_item_id"]))] = record
            except (ValueError, KeyError, TypeError, AttributeError):
                continue  # a line torn by a crash mid-write
    return last


def handle(args: argparse.Namespace) -> int:
    """Run ``bulk assess`` with the ``bulk`` command's parsed options."""
    source = Path(args.input)
    if not source.is_file():
        print(f"error: input file {source} not found", file=sys.stderr)
        return EXIT_USAGE
    output = Path(args.output) if args.output else None
    if output is None and not args.dry_run:
        print("error: --output is required (it is also what makes a re-run resume)", file=sys.stderr)
        return EXIT_USAGE
    rows, problems = [], []
    for entry in read_rows(source, _input_format(source, args.format)):
        if isinstance(entry, AssessRow):
            rows.append(entry)
        else:
            problems.append(f"line {entry[0]}: {entry[1]}")
    if problems:
        for problem in problems[:_MAX_PROBLEMS_SHOWN]:
            print(f"error: {source}: {problem}", file=sys.stderr)
        if len(problems) > _MAX_PROBLEMS_SHOWN:
            print(f"error: ... and {len(problems) - _MAX_PROBLEMS_SHOWN} more", file=sys.stderr)
        print("nothing was sent; fix the input and run again", file=sys.stderr)
        return EXIT_USAGE
    last = _read_done(output) if output is not None else {}
    redo = {"failed"} if args.retry_failed else set()
    if args.retry_unknown:
        redo.add("unknown")
    orphans = [record for record in last.values() if record["status"] == "pending"]
    status_of = {key: "unknown" if r["status"] == "pending" else r["status"] for key, r in last.items()}
    todo = [row for row in rows if row.key not in status_of or status_of[row.key] in redo]
    orphan_keys = {(int(r["line"]), int(r["line_item_id"])) for r in orphans}
    earlier = sum(
        1 for row in rows if row.key not in orphan_keys and status_of.get(row.key) in {"failed", "unknown"} - redo
    )
    skipped = len(rows) - len(todo)
    if skipped:
        print(f"resuming: {skipped} rows skipped (already in {output})", file=sys.stderr)
    if args.dry_run:
        for row in todo:
            print(json.dumps({**_record(row, "dry-run", None), "at": None}), flush=True)
        batches = -(-len(todo) // MAX_BATCH)
        print(f"dry run: would assess {len(todo)} items in {batches} batches; nothing was sent", file=sys.stderr)
        return EXIT_OK
    try:
        api_key = read_api_key(args)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    assert output is not None
    if not todo and not orphans:
        print(f"nothing to do: every row already has an outcome in {output}", file=sys.stderr)
        return EXIT_FAILED if earlier else EXIT_OK
    return asyncio.run(_run(args, api_key, output, todo, orphans, earlier, skipped))


async def _run(
    args: argparse.Namespace,
    api_key: str,
    output: Path,
    todo: list[AssessRow],
    orphans: list[dict[str, Any]],
    earlier: int,
    skipped: int,
) -> int:
    statuses: Counter[str] = Counter()
    failures: dict[tuple[str, str], list[int]] = defaultdict(list)  # (status, code) -> line item ids
    out = _open_output(output)
    stopping = False
    main_task = asyncio.current_task()
    assert main_task is not None
    loop_ = asyncio.get_running_loop()
    installed: list[int] = []

    def emit(record: dict[str, Any]) -> None:
        out.write(json.dumps(record) + "\n")
        out.flush()  # survives this process being killed
        if args.fsync:
            os.fsync(out.fileno())  # survives the machine crashing

    def on_signal(signum: int) -> None:
        nonlocal stopping
        if stopping:
            main_task.cancel()
            return
        stopping = True
        print(
            f"\n{signal.Signals(signum).name}: stopping after the batch in flight (again to abort it)",
            file=sys.stderr,
            flush=True,
        )

    batches = [todo[i : i + MAX_BATCH] for i in range(0, len(todo), MAX_BATCH)]
    try:
        for pending in orphans:  # an earlier run died with these in flight: they may have happened
            emit(_orphan_record(pending))
            statuses["unknown"] += 1
        for sig in (signal.SIGINT, signal.SIGTERM):
            # Not on Windows' default loop, nor outside the main thread (a caller's worker thread).
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop_.add_signal_handler(sig, on_signal, sig)
                installed.append(sig)
        async with client_from_args(args, api_key) as loop:
            for number, batch in enumerate(batches, start=1):
                if stopping:
                    break
                for row in batch:
                    emit(_record(row, "pending", number))  # before anything can reach Loop
                print(f"batch {number}/{len(batches)}: sending {len(batch)} items", file=sys.stderr, flush=True)
                try:
                    result = await loop.dispositions.assess([row.assessment for row in batch])
                except asyncio.CancelledError:
                    if not stopping:
                        raise
                    aborted = asyncio.CancelledError("interrupted in flight")
                    for row in batch:  # aborted in flight: may have reached Loop
                        emit(_record(row, "unknown", number, aborted))
                        failures[("unknown", error_code(aborted))].append(row.assessment.line_item_id)
                    statuses["unknown"] += len(batch)
                    uncancel = getattr(main_task, "uncancel", None)  # Python 3.11+
                    if uncancel is not None:
                        uncancel()
                    break
                (outcome,) = result.batches
                status = "ok" if outcome.outcome is OutcomeKind.OK else str(outcome.outcome.value)
                for row in batch:
                    emit(_record(row, status, number, outcome.error))
                    if outcome.error is not None:
                        failures[(status, error_code(outcome.error))].append(row.assessment.line_item_id)
                statuses[status] += len(batch)
                print(f"batch {number}/{len(batches)}: {status} ({len(batch)} items)", file=sys.stderr, flush=True)
    finally:
        out.close()
        for signum in installed:
            loop_.remove_signal_handler(signum)
    _print_summary(statuses, failures, skipped)
    if earlier:
        print(f"{earlier} rows failed or are unknown from earlier runs (see {output})", file=sys.stderr)
    if stopping:
        print(f"interrupted: run the same command again to resume (outcomes are in {output})", file=sys.stderr)
        return EXIT_INTERRUPTED
    return EXIT_FAILED if statuses["failed"] or statuses["unknown"] or earlier else EXIT_OK
