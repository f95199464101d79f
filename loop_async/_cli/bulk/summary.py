"""The summary of a ``loop-async bulk`` run: this run's statuses and the failures by error code.

It counts and prints on stderr; it decides no status (that is :mod:`.statuses`).
"""

from __future__ import annotations

import sys
from collections import Counter, defaultdict
from collections.abc import Iterable

from loop_async._cli.bulk.statuses import STATUSES, error_code

__all__ = ["Tally", "status_line"]


def status_line(statuses: Counter[str]) -> str:
    """``"3 ok, 1 failed"``: the count of each status present, in :data:`~.statuses.STATUSES` order."""
    return ", ".join(f"{statuses[s]} {s}" for s in STATUSES if statuses[s])


class Tally:
    """This run's statuses, and per ``(status, error code)`` the ids of the rows that ended so."""

    def __init__(self) -> None:
        self.statuses: Counter[str] = Counter()
        self.failures: dict[tuple[str, str], list[int]] = defaultdict(list)

    def add(self, status: str, error: BaseException | None, ident: int) -> None:
        """Count one row (its return or line item id ``ident``) that ended with ``status``."""
        self.statuses[status] += 1
        if error is not None:
            self.failures[(status, error_code(error))].append(ident)

    @property
    def unsettled(self) -> bool:
        """Whether any row of this run failed, is unknown or partial."""
        return bool(self.statuses["failed"] or self.statuses["unknown"] or self.statuses["partial"])

    def report(self, skipped: int) -> None:
        """The summary on stderr: the statuses, the rows ``skipped``, a table of the failures."""
        line = status_line(self.statuses)
        print(f"done: {line or 'nothing to do'}; {skipped} skipped (already in the output)", file=sys.stderr)
        if self.failures:
            _print_failures(sorted(self.failures.items(), key=lambda kv: -len(kv[1])))


def _print_failures(rows: Iterable[tuple[tuple[str, str], list[int]]]) -> None:
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
