"""Client-side rate limiting: spend a key's budget evenly, back off when Loop says 429.

Loop allows 300 requests per minute per API key. :class:`TokenBucketLimiter` spaces requests
evenly (a GCRA token bucket with a small burst) at :data:`PACING_MARGIN` under the configured
rate, so a bulk job neither bursts nor lands request 301 on the edge of Loop's 60-second window.
On a 429 it halves its rate and pauses for ``Retry-After``; each success then adds back a
little of the configured rate (AIMD), until it is full again.

A slot is taken when a waiter wakes, not when it starts waiting: waiters queue in arrival
order and only the first one sleeps, until the next slot as the bucket stands *now*. So a
pause or a rate cut that arrives while requests are queued applies to all of them, and a
waiter that is cancelled (or times out) holds nothing that would need giving back.

The :class:`RateLimiter` protocol is the extension point: any object with ``acquire`` and
``observe`` can be passed to :class:`~loop_async.LoopClient` (``rate_limiter=``), for
example one shared by several clients, or :class:`loop_async.ratelimit.redis.RedisRateLimiter`
shared by several processes.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar, runtime_checkable

import attrs

__all__ = ["LOOP_WINDOW", "PACING_MARGIN", "LimiterState", "RateLimiter", "TokenBucketLimiter", "build_limiter"]

#: Requests are paced this fraction under the configured rate: 294/min for Loop's 300, so
#: request 301 comes 61.2 s after request 1 and scheduling or network jitter of up to ~1 s
#: cannot put 301 requests into one 60-second window.
PACING_MARGIN = 0.02
#: Loop's rate-limit window in seconds (a guess: Loop documents "300 per minute" only). A 429
#: without ``Retry-After`` is taken to mean "this window is full": the 429s that follow within
#: one window of the rate cut it caused are its echo, not a new signal, and cut nothing.
LOOP_WINDOW = 60.0

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
        _check_settings(per_minute, burst, margin, window)
        self._configured = float(per_minute)
        self._rate = float(per_minute)
        self._burst = burst
        self._margin = margin
        self._window = window
        self._min_rate = self._configured * min_fraction
        self._recovery = self._configured * recovery_fraction
        self._clock = clock
        self._sleep = sleep
        self._tat = float("-inf")  # theoretical arrival time of the next request
        self._last_start = float("-inf")  # when the last slot was taken
        self._paused_until = float("-inf")
        self._throttled = 0
        self._decrease_cooldown = decrease_cooldown
        self._hold_until = float("-inf")  # 429s before this are explained by the last cut
        self._queue = WaitQueue()

    def _interval(self) -> float:
        return 60.0 / (self._rate * (1 - self._margin))

    def _next_slot(self) -> float:
        """The earliest time the next request may go, as the bucket stands now."""
        return max(self._tat - self._interval() * (self._burst - 1), self._paused_until)

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
                self._rate = max(self._min_rate, self._rate / 2)
                # The slot after the last one is spaced at the new rate already.
                self._tat = max(self._tat, self._last_start + self._interval())
                explained = self._window if retry_after is None else retry_after
                self._hold_until = now + max(self._decrease_cooldown, explained)
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
            margin=self._margin,
        )

    def __repr__(self) -> str:
        return f"TokenBucketLimiter(per_minute={self._configured:g}, current={self._rate:g}, burst={self._burst})"


def _check_settings(per_minute: float, burst: int, margin: float, window: float) -> None:
    """The settings both limiters share (a ``ValueError`` naming the bad one)."""
    if per_minute <= 0:
        raise ValueError(f"per_minute must be positive, got {per_minute!r}")
    if burst < 1:
        raise ValueError(f"burst must be at least 1, got {burst!r}")
    if not 0 <= margin < 1:
        raise ValueError(f"margin must be in [0, 1), got {margin!r}")
    if window < 0:
        raise ValueError(f"window must be 0 or more seconds, got {window!r}")


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
