"""What a bulk job hands out and reports: one :class:`Outcome` per item, :class:`Progress`, :class:`JobReport`.

Plain records, no tasks. ``Outcome.kind`` applies the SDK's one uncertain-outcome rule
(:mod:`loop_async._sansio.outcome`, the same concept one layer down); it is not restated here.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

import attrs

from loop_async._sansio.outcome import OutcomeKind, classify

__all__ = ["JobReport", "Outcome", "Progress", "without_frames"]

T = TypeVar("T")
R = TypeVar("R")


@attrs.frozen
class Outcome(Generic[T, R]):
    """What became of one item: its ``index`` in the input, and its ``value`` or its ``error``.

    ``key`` names the merchant (API key) the item ran under in a :class:`~loop_async.bulk.ClientPool`
    job, ``None`` otherwise.
    """

    index: int
    item: T
    value: R | None = None
    error: BaseException | None = None
    key: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the item succeeded (no exception)."""
        return self.error is None

    @property
    def kind(self) -> OutcomeKind:
        """``ok``, ``failed`` (nothing happened), ``unknown`` (it may have happened) or ``partial``."""
        return classify(self.error)


@attrs.frozen
class Progress:
    """A progress snapshot: items finished (``done``, failures included), ``failed``, ``total``
    (``None`` when the input has no length), ``in_flight``, ``rate`` (items per second over the
    last few seconds) and ``elapsed`` seconds."""

    done: int
    failed: int
    total: int | None
    in_flight: int
    rate: float
    elapsed: float

    @property
    def eta(self) -> float | None:
        """Seconds left at the current rate, when the total is known and the rate is not zero."""
        if self.total is None or self.rate <= 0:
            return None
        return max(0, self.total - self.done) / self.rate


@attrs.frozen
class JobReport:
    """What a job did. Every started item ends in exactly one place::

        started == yielded + len(unclaimed) + len(cancelled)

    ``yielded``: outcomes handed to the caller. ``unclaimed``: outcomes that were finished
    (succeeded or failed) when the job was closed but never handed out, for example because
    the consumer was cancelled or left the ``async with`` block early; they took effect, so
    record them (the CLI writes them to its output). ``cancelled``: the ``(index, item)`` pairs
    that were still in flight when the job was closed and were cancelled (they may or may not
    have taken effect). ``succeeded`` and ``failed`` count yielded and unclaimed outcomes.
    ``stopped`` tells whether the job ended before its input did; ``stopped_by`` is the fatal
    error (a 401/403) that stopped it, if one did.
    """

    started: int
    succeeded: int
    failed: int
    cancelled: tuple[tuple[int, Any], ...]
    stopped: bool
    elapsed: float
    yielded: int = 0
    unclaimed: tuple[Outcome[Any, Any], ...] = ()
    stopped_by: BaseException | None = None

    @property
    def finished(self) -> int:
        """Items with an outcome (succeeded or failed), whether yielded or unclaimed."""
        return self.succeeded + self.failed


def without_frames(error: BaseException) -> BaseException:
    """``error`` with no traceback on it, its causes, contexts or group members (held outcomes stay small)."""
    pending, seen = [error], set()
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        current.__traceback__ = None
        pending.extend(e for e in (current.__cause__, current.__context__) if e is not None)
        pending.extend(getattr(current, "exceptions", ()))
        inner = getattr(current, "error", None)  # OutcomeUnknownError, PartialOutcomeError
        if isinstance(inner, BaseException):
            pending.append(inner)
    return error
