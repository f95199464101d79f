"""What every rate limiter shares: the ``RateLimiter`` protocol, ``LimiterState``, the pacing
constants, the shared settings, and the wait queue in which only the first waiter works.

No limiter is here (see :mod:`~loop_async.ratelimit.bucket` and :mod:`~loop_async.ratelimit.redis`).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar, runtime_checkable

import attrs

from loop_async._sansio.problems import Problems

__all__ = ["PACING_MARGIN", "BucketSettings", "LimiterState", "RateLimiter", "WaitQueue"]

#: Requests are paced this fraction under the configured rate: 294/min for Loop's 300, so
#: request 301 comes 61.2 s after request 1 and scheduling or network jitter of up to ~1 s
#: cannot put 301 requests into one 60-second window.
PACING_MARGIN = 0.02

_T = TypeVar("_T")


@runtime_checkable
class RateLimiter(Protocol):
    """What the transport needs from a rate limiter."""

    async def acquire(self) -> None:
        """Wait until one more request may be sent."""

    def observe(self, status: int | None, retry_after: float | None) -> None:
        """Learn from an answer: ``status`` (``None`` on a connection error) and ``Retry-After``."""


@attrs.frozen
class LimiterState:
    """A snapshot of a limiter, for progress displays and tests.

    ``current_per_minute`` is the AIMD rate; requests are paced at ``paced_per_minute``, the
    ``margin`` under it.
    """

    configured_per_minute: float
    current_per_minute: float
    burst: int
    throttled: int  # 429s seen
    paused_for: float  # seconds left of a Retry-After pause
    margin: float = 0.0

    @property
    def paced_per_minute(self) -> float:
        """The rate requests are actually spaced at."""
        return self.current_per_minute * (1 - self.margin)


class WaitQueue:
    """Waiters in arrival order; only the first one works on getting a slot.

    ``attempt(ticket)`` tries to take a slot and returns ``(wait, ticket)``: ``wait <= 0``
    means the slot was taken, else the head sleeps ``wait`` seconds and tries again with the
    ticket (what the limiter needs to keep its schedule, e.g. the slot it slept for). Nothing
    is reserved while sleeping, so a cancelled waiter leaves nothing behind; when the head
    leaves (slot taken, cancelled or failed) the next waiter becomes the head.
    """

    def __init__(self) -> None:
        self._waiters: deque[asyncio.Future[None]] = deque()

    def __len__(self) -> int:
        return len(self._waiters)

    async def run(
        self,
        attempt: Callable[[_T | None], Awaitable[tuple[float, _T]]],
        sleep: Callable[[float], Awaitable[None]],
    ) -> None:
        me: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(me)
        try:
            if self._waiters[0] is not me:
                await me  # our turn comes when every waiter ahead of us has left
            ticket: _T | None = None
            while True:
                wait, ticket = await attempt(ticket)
                if wait <= 0:
                    return
                await sleep(wait)
        finally:
            self._waiters.remove(me)
            if self._waiters and not self._waiters[0].done():
                self._waiters[0].set_result(None)


@attrs.frozen
class BucketSettings:
    """The settings both limiters share, checked, and the rates derived from them (per minute)."""

    per_minute: float
    burst: int
    margin: float
    window: float
    decrease_cooldown: float
    min_rate: float  # the rate a 429 never halves below
    recovery: float  # the rate each success adds back

    @classmethod
    def checked(
        cls,
        per_minute: float,
        *,
        burst: int,
        min_fraction: float,
        recovery_fraction: float,
        decrease_cooldown: float,
        margin: float,
        window: float,
    ) -> BucketSettings:
        """The settings, or a ``FieldValidationError`` (a ``ValueError``) naming every bad one."""
        problems = Problems("rate limiter")
        problems.positive_number("per_minute", per_minute)
        problems.int_at_least("burst", burst, 1)
        if isinstance(margin, bool) or not isinstance(margin, int | float) or not 0 <= margin < 1:
            problems.add("margin", f"must be in [0, 1), got {margin!r}")
        problems.number_at_least("window", window, 0, wording="0 or more seconds")
        problems.raise_if_any()
        configured = float(per_minute)
        return cls(
            per_minute=configured,
            burst=burst,
            margin=margin,
            window=window,
            decrease_cooldown=decrease_cooldown,
            min_rate=configured * min_fraction,
            recovery=configured * recovery_fraction,
        )
