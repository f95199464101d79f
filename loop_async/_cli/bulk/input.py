"""The input of ``loop-async bulk``: rows of a CSV or JSON-lines file, all checked before anything is sent.

Reads the input file only: it sends nothing and writes no output (that is :mod:`.journal`).
The file formats and the rules for repeated ids are in ``docs/bulk.md``.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import attrs

from loop_async.resources.return_actions import NOTE_MAX_LENGTH

__all__ = [
    "PER_ROW_ACTIONS",
    "BadRow",
    "Repeat",
    "Row",
    "RowKey",
    "check_files",
    "input_format",
    "read_records",
    "read_rows",
    "reject",
    "row_key",
    "rows_to_do",
]

#: Actions where two rows for the same return are two pieces of work (keyed by line and id).
PER_ROW_ACTIONS = frozenset({"flag", "note", "remove-line-items"})
RowKey = tuple[int, int]
_ID_SPLIT = re.compile(r"[\s,;|]+")
_MAX_PROBLEMS_SHOWN = 20
_T = TypeVar("_T")


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


class BadRow(ValueError):
    """What is wrong with one line of the input."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")


@attrs.frozen
class Repeat:
    """A row whose return id an earlier row already has, for an action done once per return."""

    line: int
    return_id: int


def row_key(action: str, line: int, return_id: int) -> RowKey:
    """What identifies a piece of work in the output: ``(line, id)`` for per-row actions, else ``(0, id)``."""
    return (line, return_id) if action in PER_ROW_ACTIONS else (0, return_id)


def input_format(path: Path, fmt: str) -> str:
    """``csv`` or ``jsonl``: ``fmt`` as given, or (``auto``) by the file's suffix."""
    if fmt != "auto":
        return fmt
    return "csv" if path.suffix.lower() in (".csv", ".tsv", ".txt") else "jsonl"


def check_files(args: argparse.Namespace) -> tuple[Path, Path | None] | None:
    """The input and output paths of ``args``; ``None`` after saying on stderr what is wrong.

    The output may be missing only for a dry run.
    """
    source = Path(args.input)
    if not source.is_file():
        print(f"error: input file {source} not found", file=sys.stderr)
        return None
    output = Path(args.output) if args.output else None
    if output is None and not args.dry_run:
        print("error: --output is required (it is also what makes a re-run resume)", file=sys.stderr)
        return None
    return source, output


def read_records(
    path: Path,
    fmt: str,
    *,
    header_problem: Callable[[set[str]], str | None],
    parse: Callable[[int, Any], _T],
) -> Iterator[_T | BadRow]:
    """The records of ``path``, lazily: ``parse(line, record)`` each, or the problem with a line.

    A CSV record is a dict of its stripped values by stripped, lower-cased column name; a JSON
    line's record is its value, whatever it is (blank lines are skipped). ``parse`` raises
    :class:`BadRow` for a record it refuses; ``header_problem`` says what is wrong with a CSV
    header's column names, or ``None``.
    """
    with path.open(newline="", encoding="utf-8-sig") as handle:
        if fmt == "csv":
            reader = csv.DictReader(handle)
            problem = header_problem({(name or "").strip().lower() for name in reader.fieldnames or ()})
            if problem is not None:
                yield BadRow(1, problem)
                return
            for record in reader:
                data = {(k or "").strip().lower(): (v or "").strip() for k, v in record.items()}
                yield _parsed(parse, reader.line_num, data)
            return
        for number, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            try:
                value = json.loads(text)
            except ValueError:
                yield BadRow(number, "not valid JSON")
                continue
            yield _parsed(parse, number, value)


def _parsed(parse: Callable[[int, Any], _T], line: int, record: Any) -> _T | BadRow:
    try:
        return parse(line, record)
    except BadRow as bad:
        return bad


def reject(source: Path, problems: list[str]) -> None:
    """Say on stderr what is wrong with the input (the first 20 problems), and that nothing was sent."""
    for problem in problems[:_MAX_PROBLEMS_SHOWN]:
        print(f"error: {source}: {problem}", file=sys.stderr)
    if len(problems) > _MAX_PROBLEMS_SHOWN:
        print(f"error: ... and {len(problems) - _MAX_PROBLEMS_SHOWN} more", file=sys.stderr)
    print("nothing was sent; fix the input and run again", file=sys.stderr)


def _positive_int(value: Any, what: str, line: int) -> int:
    if isinstance(value, bool):
        raise BadRow(line, f"{what} must be a positive integer, got {value!r}")
    try:
        number = int(str(value).strip())
    except ValueError:
        raise BadRow(line, f"{what} must be a positive integer, got {value!r}") from None
    if number <= 0:
        raise BadRow(line, f"{what} must be a positive integer, got {value!r}")
    return number


def _row_from_mapping(data: dict[str, Any], line: int) -> Row:
    raw_id = data.get("return_id", data.get("id"))
    if raw_id is None or raw_id == "":
        raise BadRow(line, "no return_id (or id)")
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


def _id_column_missing(fields: set[str]) -> str | None:
    return None if fields & {"return_id", "id"} else "the CSV header has no return_id (or id) column"


def _row(line: int, value: Any) -> Row:
    return _row_from_mapping(value if isinstance(value, dict) else {"return_id": value}, line)


def read_rows(path: Path, fmt: str) -> Iterator[Row | BadRow]:
    """Parse the input lazily: a :class:`Row` per data row, or the problem with it."""
    return read_records(path, fmt, header_problem=_id_column_missing, parse=_row)


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


def rows_to_do(
    path: Path, fmt: str, action: str, args: argparse.Namespace, skip: set[RowKey]
) -> Iterator[Row | BadRow | Repeat]:
    """Rows still to do: skips rows with an outcome; repeats of an id for once-per-return actions."""
    seen: set[int] = set()
    for entry in read_rows(path, fmt):
        if isinstance(entry, BadRow):
            yield entry
            continue
        if action not in PER_ROW_ACTIONS:
            if entry.return_id in seen:
                yield Repeat(entry.line, entry.return_id)
                continue
            seen.add(entry.return_id)
        if row_key(action, entry.line, entry.return_id) in skip:
            continue
        problem = _check_row(entry, action, args)
        yield BadRow(entry.line, problem) if problem else entry
