"""Date ranges for the return-data endpoints: validation, Loop's format, 120-day windows.

Pure functions, no I/O. Loop's ``from``/``to`` are whole UTC seconds, inclusive on both ends, at
most :data:`MAX_WINDOW` apart; consecutive windows share their boundary second, so nothing falls
between two (the caller drops a return seen twice by id). See ``docs/return-data.md``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

from loop_async._sansio.problems import Problems

__all__ = ["LOOP_DATETIME_FORMAT", "MAX_WINDOW", "check_range", "format_loop_datetime", "split_windows"]

#: The longest range Loop answers in one request.
MAX_WINDOW = timedelta(days=120)
#: How Loop writes ``from``/``to``.
LOOP_DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"

_SECOND = timedelta(seconds=1)


def check_range(problems: Problems, start: object, end: object) -> None:
    """Record a problem for each of: not a datetime, naive datetime, ``start`` not before ``end``."""
    aware = [_check_aware(problems, "start", start), _check_aware(problems, "end", end)]
    lo, hi = aware
    if lo is not None and hi is not None and lo >= hi:
        problems.add("end", f"must be after start ({lo.isoformat()} >= {hi.isoformat()})")


def _check_aware(problems: Problems, name: str, value: object) -> datetime | None:
    if not isinstance(value, datetime):
        problems.add(name, f"must be a timezone-aware datetime, got {type(value).__name__}")
        return None
    if value.tzinfo is None or value.utcoffset() is None:
        problems.add(name, "must be timezone-aware (e.g. datetime(..., tzinfo=timezone.utc)); got a naive datetime")
        return None
    return value


def to_utc_seconds(value: datetime, *, round_up: bool = False) -> datetime:
    """``value`` (timezone-aware) in UTC, truncated (or rounded up) to a whole second."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("a naive datetime has no defined UTC instant")
    utc = value.astimezone(timezone.utc)
    whole = utc.replace(microsecond=0)
    return whole + _SECOND if round_up and whole != utc else whole


def format_loop_datetime(value: datetime) -> str:
    """``value`` (timezone-aware) as Loop expects it: UTC ``YYYY-MM-DD HH:MM:SS`` (truncated)."""
    return to_utc_seconds(value).strftime(LOOP_DATETIME_FORMAT)


def split_windows(
    start: datetime, end: datetime, max_window: timedelta = MAX_WINDOW
) -> Iterator[tuple[datetime, datetime]]:
    """Consecutive UTC windows covering ``[start, end]``, each at most ``max_window`` long.

    Each window is inclusive on both ends and starts on the previous one's end (see the
    module docstring); a range that fits yields one window.
    """
    if max_window < _SECOND:
        raise ValueError("max_window must be at least one second")
    lo = to_utc_seconds(start)
    hi = to_utc_seconds(end, round_up=True)
    if lo >= hi:
        raise ValueError("start must be before end")
    while True:
        window_end = min(lo + max_window, hi)
        yield lo, window_end
        if window_end >= hi:
            return
        lo = window_end
