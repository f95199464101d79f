"""``loop-async bulk assess``: disposition many inspected items, 30 per call (Loop's limit), resumably.

The input's columns, the output lines and the exit statuses are in ``docs/bulk.md``. It
shares the bulk command's input reading, journal, outcomes and summary; only the rows (line
items and dispositions, not return ids) and the batching are its own.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs

from loop_async._cli._common import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, client_from_args
from loop_async._cli.bulk.input import BadRow, check_files, input_format, read_records, reject
from loop_async._cli.bulk.journal import Journal, now, orphan_record, read_state
from loop_async._cli.bulk.runner import StopSignals, api_key_unless_done, uncancel
from loop_async._cli.bulk.statuses import error_info
from loop_async._cli.bulk.summary import Tally
from loop_async.errors import FieldValidationError
from loop_async.resources.dispositions import MAX_BATCH, Assessment, check_assessments

__all__ = ["ACTION", "AssessRow", "handle", "read_rows"]

ACTION = "assess"
_ALIASES = {
    "line_item": "line_item_id",
    "disposition_outcome": "outcome",
    "processor": "return_processor",
}
_COLUMNS = frozenset({"line_item_id", "outcome", "return_processor", "note", "inspected_at"})


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


def _columns_missing(fields: set[str]) -> str | None:
    if not fields & {"line_item_id", "line_item"} or not fields & {"outcome", "disposition_outcome"}:
        return "the CSV header needs line_item_id (or line_item) and outcome columns"
    return None


def _row(line: int, value: Any) -> AssessRow:
    if not isinstance(value, dict):
        raise BadRow(line, "must be a JSON object")
    result = _assessment(value, line)
    if not isinstance(result, Assessment):
        raise BadRow(line, result)
    return AssessRow(line, result)


def read_rows(path: Path, fmt: str) -> Iterator[AssessRow | BadRow]:
    """The rows of ``path``: an :class:`AssessRow` each, or the problem with it."""
    return read_records(path, fmt, header_problem=_columns_missing, parse=_row)


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
        record["error"] = error_info(error)
    record["at"] = now()
    return record


def _key(record: dict[str, Any]) -> tuple[int, int]:
    return (int(record["line"]), int(record["line_item_id"]))


def handle(args: argparse.Namespace) -> int:
    """Run ``bulk assess`` with the ``bulk`` command's parsed options."""
    files = check_files(args)
    if files is None:
        return EXIT_USAGE
    source, output = files
    rows, problems = [], []
    for entry in read_rows(source, input_format(source, args.format)):
        if isinstance(entry, AssessRow):
            rows.append(entry)
        else:
            problems.append(str(entry))
    if problems:
        reject(source, problems)
        return EXIT_USAGE
    state = (
        read_state(output, ACTION, _key, retry_failed=args.retry_failed, retry_unknown=args.retry_unknown)
        if output is not None
        else None
    )
    todo = [row for row in rows if state is None or row.key not in state.done]
    orphans = state.orphans if state is not None else []
    orphan_keys = {_key(r) for r in orphans}
    redone = {status for status, redo in (("failed", args.retry_failed), ("unknown", args.retry_unknown)) if redo}
    status_of = state.status_of if state is not None else {}
    # Earlier runs' rows that stay failed or unknown (an orphan is recorded again, by this run).
    earlier = sum(
        1 for row in rows if row.key not in orphan_keys and status_of.get(row.key) in {"failed", "unknown"} - redone
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
    assert output is not None
    api_key = api_key_unless_done(args, output, work_left=bool(todo or orphans), earlier=earlier)
    if isinstance(api_key, int):
        return api_key
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
    tally = Tally()  # failures by line item id
    stopping = False
    main_task = asyncio.current_task()
    assert main_task is not None

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
    with StopSignals() as signals, Journal(output, fsync=args.fsync) as journal:
        for pending in orphans:  # an earlier run died with these in flight: they may have happened
            journal.write(orphan_record(pending))
            tally.statuses["unknown"] += 1
        signals.install(on_signal)
        async with client_from_args(args, api_key) as loop:
            for number, batch in enumerate(batches, start=1):
                if stopping:
                    break
                for row in batch:
                    journal.write(_record(row, "pending", number))  # before anything can reach Loop
                print(f"batch {number}/{len(batches)}: sending {len(batch)} items", file=sys.stderr, flush=True)
                try:
                    result = await loop.dispositions.assess([row.assessment for row in batch])
                except asyncio.CancelledError:
                    if not stopping:
                        raise
                    aborted = asyncio.CancelledError("interrupted in flight")
                    for row in batch:  # aborted in flight: may have reached Loop
                        journal.write(_record(row, "unknown", number, aborted))
                        tally.add("unknown", aborted, row.assessment.line_item_id)
                    uncancel(main_task)
                    break
                (outcome,) = result.batches
                status = outcome.outcome.value  # the one rule decided it (loop_async._sansio.outcome)
                for row in batch:
                    journal.write(_record(row, status, number, outcome.error))
                    tally.add(status, outcome.error, row.assessment.line_item_id)
                print(f"batch {number}/{len(batches)}: {status} ({len(batch)} items)", file=sys.stderr, flush=True)
    tally.report(skipped)
    if earlier:
        print(f"{earlier} rows failed or are unknown from earlier runs (see {output})", file=sys.stderr)
    if stopping:
        print(f"interrupted: run the same command again to resume (outcomes are in {output})", file=sys.stderr)
        return EXIT_INTERRUPTED
    return EXIT_FAILED if tally.statuses["failed"] or tally.statuses["unknown"] or earlier else EXIT_OK
