"""Client-side rate limiting: spend a key's budget evenly, back off when Loop says 429.

Loop allows 300 requests per minute per API key. :class:`TokenBucketLimiter` spaces requests
evenly at the configured rate (a GCRA token bucket with a small burst), so a bulk job does
not burst and then collect 429s. On a 429 it halves its rate and pauses for ``Retry-After``;
each success then adds back a little of the configured rate (AIMD), until it is full again.

The :class:`RateLimiter` protocol is the extension point: any object with ``acquire`` and
``observe`` can be passed to :class:`~loop_async.LoopClient` (``rate_limiter=``), for
example one shared by several clients, or :class:`loop_async.redis_limiter.RedisRateLimiter`
shared by several processes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Protocol, runtime_checkable

import attrs

__all__ = ["LimiterState", "RateLimiter", "TokenBucketLimiter", "build_limiter"]


@runtime_checkable
class RateLimiter(Protocol):
    """What the transport needs from a rate limiter."""

    async def acquire(self) -> None:
        """Wait until one more request may be sent."""

    def observe(self, status: int | None, retry_after: float | None) -> None:
        """Learn from an answer: ``status`` (``None`` on a connection error) and ``Retry-After``."""


@attrs.frozen
class LimiterState:
    """A snapshot of a limiter, for progress displays and tests."""

    configured_per_minute: float
    current_per_minute: float
    burst: int
    throttled: int  # 429s seen
    paused_for: float  # seconds left of a Retry-After pause


class TokenBucketLimiter:
    """An even-paced token bucket (GCRA) with AIMD adaptation to 429s.

    ``per_minute`` is the budget; ``burst`` how many requests may go at once after idling
    (1 = perfectly even). A 429 halves the rate, down to ``min_fraction`` of the budget; each
    success adds back ``recovery_fraction`` of it. ``decrease_cooldown`` (seconds, default 1)
    counts the 429s of one burst (requests that were in flight together) as a single signal, so
    a burst halves the rate once instead of driving it to the floor; 0 halves on every 429.
    ``clock`` and ``sleep`` are injectable so tests need no real time.
    """

    def __init__(
        self,
        per_minute: float,
        *,
        burst: int = 1,
        min_fraction: float = 0.1,
        recovery_fraction: float = 0.02,
        decrease_cooldown: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if per_minute <= 0:
            raise ValueError(f"per_minute must be positive, got {per_minute!r}")
        if burst < 1:
            raise ValueError(f"burst must be at least 1, got {burst!r}")
        self._configured = float(per_minute)
        self._rate = float(per_minute)
        self._burst = burst
        self._min_rate = self._configured * min_fraction
        self._recovery = self._configured * recovery_fraction
        self._clock = clock
        self._sleep = sleep
        self._tat = 0.0  # theoretical arrival time of the next request
        self._paused_until = 0.0
        self._throttled = 0
        self._decrease_cooldown = decrease_cooldown
        self._last_decrease = float("-inf")

    def reserve(self, now: float) -> float:
        """Reserve the next slot at time ``now``; return how long to wait for it."""
        return self._reserve(now)[0]

    def _reserve(self, now: float) -> tuple[float, float]:
        """Reserve the next slot: ``(wait, interval it was reserved with)``."""
        interval = 60.0 / self._rate
        tau = interval * (self._burst - 1)
        tat = max(self._tat, now)
        start = max(now, tat - tau, self._paused_until)
        self._tat = max(tat, start) + interval
        return start - now, interval

    async def acquire(self) -> None:
        """Wait for this request's slot."""
        delay, interval = self._reserve(self._clock())
        if delay <= 0:
            return
        reserved_end = self._tat
        try:
            await self._sleep(delay)
        except asyncio.CancelledError:
            # Give the slot back if nobody reserved after us, so cancellations cost nothing. It is
            # exactly the interval it was reserved with: the rate may have changed since (a 429).
            if self._tat == reserved_end:
                self._tat -= interval
            raise

    def observe(self, status: int | None, retry_after: float | None) -> None:
        """Halve the rate on 429 (and pause for ``Retry-After``); recover a little on success."""
        if status == 429:
            self._throttled += 1
            now = self._clock()
            if now - self._last_decrease >= self._decrease_cooldown:
                self._last_decrease = now
                self._rate = max(self._min_rate, self._rate / 2)
            if retry_after:
                self._paused_until = max(self._paused_until, self._clock() + retry_after)
        elif status is not None and status < 400 and self._rate < self._configured:
            self._rate = min(self._configured, self._rate + self._recovery)

    @property
    def state(self) -> LimiterState:
        """The limiter's current rate, budget and throttling."""
        return LimiterState(
            configured_per_minute=self._configured,
            current_per_minute=self._rate,
            burst=self._burst,
            throttled=self._throttled,
            paused_for=max(0.0, self._paused_until - self._clock()),
        )

    def __repr__(self) -> str:
        return f"TokenBucketLimiter(per_minute={self._configured:g}, current={self._rate:g}, burst={self._burst})"


def build_limiter(rate_limit: float | None, rate_limiter: RateLimiter | None = None) -> RateLimiter | None:
    """The limiter a client uses: ``rate_limiter`` when given, else a :class:`TokenBucketLimiter`
    at ``rate_limit`` requests per minute, else ``None`` (``rate_limit`` ``None`` or 0: off).

    The one place the SDK builds its default limiter (clients, pools and the CLI), so they all
    pace and back off the same way.
    """
    if rate_limiter is not None:
        return rate_limiter
    if rate_limit is None or rate_limit == 0:
        return None
    return TokenBucketLimiter(rate_limit)
