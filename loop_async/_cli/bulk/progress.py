"""Progress displays of ``loop-async bulk``: rich's bar on a terminal, else a plain line now and then.

They only show :class:`loop_async.bulk.Progress` on stderr; they never touch the job or the output.
"""

from __future__ import annotations

import argparse
import sys
import time

from loop_async.bulk import Progress

__all__ = ["PlainProgress", "RichProgress", "fmt_seconds", "progress_display"]


def fmt_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = int(seconds)
    return (
        f"{seconds // 3600}h{seconds % 3600 // 60:02d}m" if seconds >= 3600 else f"{seconds // 60}m{seconds % 60:02d}s"
    )


class PlainProgress:
    """A progress line on stderr at most every ``interval`` seconds (no TTY, or no rich)."""

    def __init__(self, interval: float) -> None:
        self._interval = interval
        self._last = float("-inf")

    def __enter__(self) -> PlainProgress:
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
            f"rate={progress.rate:.1f}/s eta={fmt_seconds(progress.eta)}",
            file=sys.stderr,
            flush=True,
        )


class RichProgress:
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

    def __enter__(self) -> RichProgress:
        self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.stop()

    def update(self, progress: Progress, *, force: bool = False) -> None:
        self._bar.update(self._task, completed=progress.done, failed=progress.failed, rate=progress.rate)


def progress_display(args: argparse.Namespace, total: int | None, action: str) -> PlainProgress | RichProgress:
    if args.progress == "rich" or (args.progress == "auto" and sys.stderr.isatty()):
        try:
            return RichProgress(total, action)
        except ImportError:
            if args.progress == "rich":  # asked for by name: say how to get it
                print(
                    "note: --progress rich needs rich: pip install 'loop-async[cli]'; showing plain progress lines",
                    file=sys.stderr,
                )
    return PlainProgress(args.progress_interval)
