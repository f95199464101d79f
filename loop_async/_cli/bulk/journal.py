"""The resume journal of ``loop-async bulk``: the JSON-lines output, read back to resume, appended to.

Each row gets a ``pending`` line before its request and an outcome line after it; a re-run
skips what has an outcome. Knows nothing of Loop: callers say what identifies a row.
"""

from __future__ import annotations

import datetime
import json
import os
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import attrs

from loop_async._cli.bulk.input import RowKey, row_key

__all__ = ["Journal", "ResumeState", "now", "open_output", "orphan_record", "read_done", "read_state"]


@attrs.frozen
class ResumeState:
    """What an output file says about ``action``: ``done`` rows (keys to skip), the ``statuses``
    of every row in it, and ``orphans``: ``pending`` lines with no outcome after them (the
    process died with the request in flight), counted as ``unknown``. ``status_of`` is each
    row's status."""

    done: set[RowKey]
    statuses: Counter[str]
    orphans: list[dict[str, Any]]
    status_of: dict[RowKey, str] = attrs.field(factory=dict)


def read_state(
    path: Path, action: str, key: Callable[[dict[str, Any]], RowKey], *, retry_failed: bool, retry_unknown: bool
) -> ResumeState:
    """Read the outcomes of ``action`` in ``path``, each row identified by ``key(record)``; the last line wins."""
    last: dict[RowKey, dict[str, Any]] = {}
    if path.exists():
        with path.open(encoding="utf-8") as handle:
            for text in handle:
                try:
                    record = json.loads(text)
                    if record.get("action") == action:
                        row = key(record)
                        record["status"] = str(record["status"])  # KeyError: not an outcome line
                        last[row] = record
                except (ValueError, KeyError, TypeError, AttributeError):
                    continue  # a line torn by a crash mid-write: that item has no outcome
    orphans = [record for record in last.values() if record["status"] == "pending"]
    status_of = {row: "unknown" if r["status"] == "pending" else str(r["status"]) for row, r in last.items()}
    redo = {"failed"} if retry_failed else set()
    if retry_unknown:
        redo.add("unknown")
    done = {row for row, status in status_of.items() if status not in redo}
    return ResumeState(done, Counter(status_of.values()), orphans, status_of)


def read_done(path: Path, action: str, *, retry_failed: bool, retry_unknown: bool) -> ResumeState:
    """Read the outcomes of a return ``action`` in ``path`` (rows keyed by :func:`~.input.row_key`)."""

    def key(record: dict[str, Any]) -> RowKey:
        return row_key(action, int(record.get("line", 0)), int(record["return_id"]))

    return read_state(path, action, key, retry_failed=retry_failed, retry_unknown=retry_unknown)


def open_output(path: Path) -> IO[str]:
    """``path`` opened for appending, on a fresh line (a crash mid-write may have left a torn one)."""
    handle = path.open("a+", encoding="utf-8")
    if handle.tell() > 0:
        handle.seek(handle.tell() - 1)
        if handle.read(1) != "\n":
            handle.write("\n")
    return handle


class Journal:
    """The output file, appended to: each record a JSON line, flushed at once (with ``fsync``, synced)."""

    def __init__(self, path: Path, *, fsync: bool = False) -> None:
        self._handle = open_output(path)
        self._fsync = fsync

    def write(self, record: dict[str, Any]) -> None:
        """Append ``record`` as one line."""
        self._handle.write(json.dumps(record) + "\n")
        self._handle.flush()  # in the OS's hands: survives this process being killed
        if self._fsync:
            os.fsync(self._handle.fileno())  # on the disk: survives the machine crashing

    def close(self) -> None:
        """Close the file."""
        self._handle.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()


def now() -> str:
    """The time of an outcome line: UTC, ISO 8601, to the millisecond."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")


def orphan_record(pending: dict[str, Any]) -> dict[str, Any]:
    """The ``unknown`` outcome of a row whose run died after writing its ``pending`` line."""
    record = {**pending, "status": "unknown"}
    record["error"] = {
        "type": "Interrupted",
        "code": "interrupted",
        "message": "the run ended while this request was in flight (or about to be sent)",
    }
    record["at"] = now()
    return record
