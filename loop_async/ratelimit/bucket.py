"""``TokenBucketLimiter``: the in-process limiter (an even-paced GCRA bucket with AIMD), and
``build_limiter``, the one place the SDK builds its default limiter.

How it paces and backs off is told in docs/reliability.md (rate limiting).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from loop_async._sansio.protocol import LOOP_WINDOW
from loop_async.ratelimit.limiter import PACING_MARGIN, BucketSettings, LimiterState, RateLimiter, WaitQueue

__all__ = ["TokenBucketLimiter", "build_limiter"]


class TokenBucketLimiter:
    """An even-paced token bucket (GCRA) with AIMD adaptation to 429s.

    ``per_minute`` is the budget; requests are spaced ``margin`` (default
    :data:`PACING_MARGIN`) under it. ``burst`` is how many requests may go at once after
    idling (1 = perfectly even). A 429 halves the rate, down to ``min_fraction`` of the budget;
    each success adds back ``recovery_fraction`` of it. After a cut, further 429s count as
    the same signal for ``decrease_cooldown`` seconds (default 1: the 429s of requests that
    were in flight together), for the ``Retry-After`` pause when the 429 had one, and for a
    whole ``window`` (default :data:`LOOP_WINDOW`) when it had none: Loop's window stays full of
    the requests sent before the cut for up to that long. ``decrease_cooldown=0, window=0``
    halves on every 429. ``clock`` and ``sleep`` are injectable so tests need no real time.
    """

    def __init__(
        self,
        per_minute: float,
        *,
        burst: int = 1,
        min_fraction: float = 0.1,
        recovery_fraction: float = 0.02,
        decrease_cooldown: float = 1.0,
        margin: float = PACING_MARGIN,
        window: float = LOOP_WINDOW,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._settings = BucketSettings.checked(
            per_minute,
            burst=burst,
            min_fraction=min_fraction,
            recovery_fraction=recovery_fraction,
            decrease_cooldown=decrease_cooldown,
            margin=margin,
            window=window,
        )
        self._rate = self._settings.per_minute
        self._clock = clock
        self._sleep = sleep
        self._tat = float("-inf")  # theoretical arrival time of the next request
        self._last_start = float("-inf")  # when the last slot was taken
        self._paused_until = float("-inf")
        self._throttled = 0
        self._hold_until = float("-inf")  # 429s before this are explained by the last cut
        self._queue = WaitQueue()

    def _interval(self) -> float:
        return 60.0 / (self._rate * (1 - self._settings.margin))

    def _next_slot(self) -> float:
        """The earliest time the next request may go, as the bucket stands now."""
        return max(self._tat - self._interval() * (self._settings.burst - 1), self._paused_until)

    def _try_take(self, now: float, scheduled: float | None) -> float:
        """Take the next slot if it is due (return 0), else return the seconds until it is."""
        slot = self._next_slot()
        if slot > now:
            return slot - now
        # A waiter that slept for this slot keeps the schedule even when it woke a little late
        # (wake-up lag must not slow the pace); anyone else starts from now (no banked credit).
        start = now if scheduled is None else min(now, max(slot, scheduled))
        self._last_start = start
        self._tat = max(self._tat, start) + self._interval()
        return 0.0

    def delay(self) -> float:
        """Seconds until a request could go now (0: at once), without taking a slot."""
        return max(0.0, self._next_slot() - self._clock())

    async def acquire(self) -> None:
        """Wait for this request's slot (taken when it is due, under the rate and pause of then)."""
        if not len(self._queue) and self._try_take(self._clock(), None) <= 0:
            return

        async def attempt(scheduled: float | None) -> tuple[float, float]:
            now = self._clock()
            wait = self._try_take(now, scheduled)
            return wait, now + wait

        await self._queue.run(attempt, self._sleep)

    def observe(self, status: int | None, retry_after: float | None) -> None:
        """Halve the rate on a 429 (once per signal) and pause for ``Retry-After``; recover on success."""
        if status == 429:
            self._throttled += 1
            now = self._clock()
            if retry_after:
                self._paused_until = max(self._paused_until, now + retry_after)
            if now >= self._hold_until:
                self._rate = max(self._settings.min_rate, self._rate / 2)
                # The slot after the last one is spaced at the new rate already.
                self._tat = max(self._tat, self._last_start + self._interval())
                explained = self._settings.window if retry_after is None else retry_after
                self._hold_until = now + max(self._settings.decrease_cooldown, explained)
        elif status is not None and status < 400 and self._rate < self._settings.per_minute:
            self._rate = min(self._settings.per_minute, self._rate + self._settings.recovery)

    @property
    def state(self) -> LimiterState:
        """The limiter's current rate, budget and throttling."""
        return LimiterState(
            configured_per_minute=self._settings.per_minute,
            current_per_minute=self._rate,
            burst=self._settings.burst,
            throttled=self._throttled,
            paused_for=max(0.0, self._paused_until - self._clock()),
            margin=self._settings.margin,
        )

    def __repr__(self) -> str:
        settings = self._settings
        return f"TokenBucketLimiter(per_minute={settings.per_minute:g}, current={self._rate:g}, burst={settings.burst})"


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
