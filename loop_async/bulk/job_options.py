"""The options of a bulk job, in one place: :class:`JobOptions` and the keywords that build it.

``BulkJob``, ``run``, ``run_all`` and ``ClientPool.run``/``run_all`` all take these and only
these (a new option is a field here and a key of :class:`JobSettings`; a test checks both
agree). Checked through the one argument-problems collector; no tasks, no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Set
from typing import TypedDict

import attrs

from loop_async._sansio.outcome import is_fatal
from loop_async._sansio.problems import Problems
from loop_async.bulk.outcomes import Progress
from loop_async.ratelimit import RateLimiter

__all__ = [
    "DEFAULT_CONCURRENCY",
    "JobOptions",
    "JobSettings",
    "PoolSettings",
    "ProgressCallback",
    "StopPredicate",
    "resolve_options",
]

DEFAULT_CONCURRENCY = 8

#: Called with a :class:`~loop_async.bulk.Progress` after each batch of completions.
ProgressCallback = Callable[[Progress], object]
#: Decides whether an item's error stops the job (no further item starts).
StopPredicate = Callable[[BaseException], bool]


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@attrs.frozen(kw_only=True)
class JobOptions:
    """How a bulk job runs. Every field is also a keyword of the job entry points.

    ``concurrency``: items running at once (per merchant in a pool). ``ordered``: outcomes in
    input order (early completions wait) or, ``False``, as they complete. ``window``: items
    started and not yet handed out, at most (default ``2 * concurrency``). ``total``: the
    number of items for progress (default ``len(items)`` when it has one; not a pool option).
    ``on_progress``: called with a :class:`~loop_async.bulk.Progress` after each batch of
    completions. ``limiter``: paces item starts (a client's own limiter already paces its
    requests). ``stop_on``: which errors stop the job (default a 401 or 403; ``None``: never).

    Invalid values raise :class:`~loop_async.errors.FieldValidationError` (a ``ValueError``)
    listing every problem, before anything starts.
    """

    concurrency: int = DEFAULT_CONCURRENCY
    ordered: bool = True
    window: int | None = None
    total: int | None = None
    on_progress: ProgressCallback | None = None
    limiter: RateLimiter | None = None
    stop_on: StopPredicate | None = is_fatal

    def __attrs_post_init__(self) -> None:
        problems = Problems("a bulk job")
        if not _is_count(self.concurrency) or self.concurrency < 1:
            problems.add("concurrency", f"must be at least 1, got {self.concurrency!r}")
        problems.boolean("ordered", self.ordered)
        if self.window is not None and (
            not _is_count(self.window) or (_is_count(self.concurrency) and self.window < self.concurrency)
        ):
            problems.add("window", f"must be at least concurrency ({self.concurrency!r}), got {self.window!r}")
        if self.total is not None and (not _is_count(self.total) or self.total < 0):
            problems.add("total", f"must be a count of items (0 or more) or None, got {self.total!r}")
        if self.on_progress is not None and not callable(self.on_progress):
            problems.add("on_progress", f"must be a function taking a Progress, or None, got {self.on_progress!r}")
        if self.limiter is not None and not callable(getattr(self.limiter, "acquire", None)):
            problems.add("limiter", f"must be a rate limiter (an async acquire()), got {self.limiter!r}")
        if self.stop_on is not None and not callable(self.stop_on):
            problems.add("stop_on", f"must be a function of an exception, or None, got {self.stop_on!r}")
        problems.raise_if_any()

    @property
    def max_unclaimed(self) -> int:
        """The window: items started and not yet handed out, at most."""
        return self.window if self.window is not None else 2 * self.concurrency


class PoolSettings(TypedDict, total=False):
    """The keywords of ``ClientPool.run``/``run_all``: the :class:`JobOptions` fields but ``total``."""

    concurrency: int
    ordered: bool
    window: int | None
    on_progress: ProgressCallback | None
    limiter: RateLimiter | None
    stop_on: StopPredicate | None


class JobSettings(PoolSettings, total=False):
    """The keywords of ``BulkJob``, ``run`` and ``run_all``: the :class:`JobOptions` fields."""

    total: int | None


_JOB_FIELDS = frozenset(field.name for field in attrs.fields(JobOptions))
_POOL_FIELDS = _JOB_FIELDS - {"total"}


def resolve_options(
    action: str, options: JobOptions | None, settings: Mapping[str, object], *, pool: bool = False
) -> JobOptions:
    """``options`` (default: the defaults) with the keyword ``settings`` of ``action`` applied, checked.

    An unknown keyword is a :class:`TypeError`, as for any Python function.
    """
    allowed: Set[str] = _POOL_FIELDS if pool else _JOB_FIELDS
    for name in settings:
        if name not in allowed:
            raise TypeError(f"{action}() got an unexpected keyword argument {name!r}")
    base = options if options is not None else JobOptions()
    chosen = attrs.evolve(base, **settings) if settings else base  # type: ignore[arg-type]
    if pool and chosen.total is not None:
        problems = Problems(action)
        problems.add("total", "is not a pool option: each merchant's total is the length of its own items")
        problems.raise_if_any()
    return chosen
