"""``RedisRateLimiter``: one GCRA bucket in Redis, shared by every process using the same key.

It paces and backs off as :class:`~loop_async.ratelimit.bucket.TokenBucketLimiter` does, in one
atomic Lua script on Redis's clock (Redis >= 5). Importing it needs no redis-py; building one
does (the ``redis`` extra). How it shares AIMD and fails: docs/reliability.md.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from loop_async._sansio.protocol import LOOP_WINDOW
from loop_async.errors import RateLimiterUnavailableError
from loop_async.ratelimit.limiter import PACING_MARGIN, BucketSettings, LimiterState, WaitQueue

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["RedisRateLimiter"]

# KEYS[1]: the bucket hash. ARGV: per_minute, burst, throttles, successes, pause seconds,
# min_rate, recovery per success, take (1: take a slot if due, 0: only update and report),
# decrease cooldown seconds, hold seconds (how long the 429s of this call explain the ones
# after them), pacing margin, scheduled (the slot, in Redis ms, the caller slept for, or 0).
# Times are in milliseconds from Redis's clock; numbers are returned as strings because Redis
# truncates Lua numbers to integers. Reply: taken (1/0), wait ms, rate, pause left ms,
# throttled, the slot ms (Redis clock) to sleep for when not taken.
_SCRIPT = """
local key = KEYS[1]
local configured = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local throttles = tonumber(ARGV[3])
local successes = tonumber(ARGV[4])
local pause_ms = tonumber(ARGV[5]) * 1000
local min_rate = tonumber(ARGV[6])
local recovery = tonumber(ARGV[7])
local take = tonumber(ARGV[8])
local cooldown_ms = tonumber(ARGV[9]) * 1000
local hold_ms = tonumber(ARGV[10]) * 1000
local margin = tonumber(ARGV[11])
local scheduled = tonumber(ARGV[12])

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local h = redis.call('HMGET', key, 'tat', 'rate', 'paused_until', 'throttled', 'hold_until', 'last_start')
local tat = tonumber(h[1]) or 0
local rate = tonumber(h[2]) or configured
local paused_until = tonumber(h[3]) or 0
local throttled = tonumber(h[4]) or 0
local hold_until = tonumber(h[5]) or 0
local last_start = tonumber(h[6]) or 0
if rate > configured then rate = configured end

-- Additive increase first, then the multiplicative decrease: successes counted in the same
-- call as a 429 must not undo the halving.
if successes > 0 then rate = math.min(configured, rate + recovery * successes) end
if pause_ms > 0 then paused_until = math.max(paused_until, now + pause_ms) end
if throttles > 0 then
  throttled = throttled + throttles
  if now >= hold_until then
    rate = math.max(min_rate, rate / 2)
    tat = math.max(tat, last_start + 60000 / (rate * (1 - margin)))
    hold_until = now + math.max(cooldown_ms, hold_ms)
  end
end

local interval = 60000 / (rate * (1 - margin))
local slot = math.max(tat - interval * (burst - 1), paused_until)
local taken = 0
if take == 1 and slot <= now then
  -- A waiter that slept for this slot keeps the schedule; anyone else starts from now.
  local start = now
  if scheduled > 0 then start = math.min(now, math.max(slot, scheduled)) end
  last_start = start
  tat = math.max(tat, start) + interval
  taken = 1
end

redis.call('HSET', key, 'tat', string.format('%.3f', tat), 'rate', string.format('%.6f', rate),
  'paused_until', string.format('%.3f', paused_until), 'throttled', throttled,
  'hold_until', string.format('%.3f', hold_until), 'last_start', string.format('%.3f', last_start))
-- Forget an idle bucket: nothing in it matters once its slots and pauses are long past.
redis.call('PEXPIRE', key, math.ceil(math.max(tat, paused_until, hold_until, now) - now) + 60000)
local wait = 0
if taken == 0 then wait = math.max(0, slot - now) end
return {tostring(taken), string.format('%.3f', wait), string.format('%.6f', rate),
  string.format('%.3f', math.max(0, paused_until - now)), tostring(throttled), string.format('%.3f', slot)}
"""


def _redis_module() -> Any:
    try:
        import redis.asyncio as redis_asyncio
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "RedisRateLimiter needs the redis client: pip install 'loop-async[redis]' (redis>=5)"
        ) from exc
    return redis_asyncio


def _failures() -> tuple[type[BaseException], ...]:
    """What a Redis call raises when Redis is down, frozen or refuses: all become one error."""
    import redis.exceptions

    return (redis.exceptions.RedisError, OSError, asyncio.TimeoutError)


class RedisRateLimiter:
    """A :class:`~loop_async.ratelimit.RateLimiter` whose budget lives in Redis.

    ``redis`` is a URL (``redis://host:6379/0``; the limiter then owns the connection, opens it
    with ``socket_timeout`` and ``socket_connect_timeout``, and :meth:`aclose` closes it) or an
    existing ``redis.asyncio.Redis`` client (give it timeouts of its own). ``key`` names the
    bucket: every process using the same key shares the same ``per_minute`` budget (use one key
    per Loop API key, e.g. ``"loop:ratelimit:merchant-a"``, never the API key itself).
    The other options mean what they mean for :class:`~loop_async.ratelimit.TokenBucketLimiter`.
    """

    def __init__(
        self,
        redis: str | Redis,
        key: str,
        per_minute: float,
        *,
        burst: int = 1,
        min_fraction: float = 0.1,
        recovery_fraction: float = 0.02,
        decrease_cooldown: float = 1.0,
        margin: float = PACING_MARGIN,
        window: float = LOOP_WINDOW,
        socket_timeout: float = 2.0,
        socket_connect_timeout: float = 2.0,
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
        if not key:
            raise ValueError("key must be a non-empty string")
        module = _redis_module()
        if isinstance(redis, str):
            self._redis = module.Redis.from_url(
                redis, socket_timeout=socket_timeout, socket_connect_timeout=socket_connect_timeout
            )
            self._owns_client = True
        else:
            self._redis = redis
            self._owns_client = False
        self._failures = _failures()
        self.key = key
        self._sleep = sleep
        self._script = self._redis.register_script(_SCRIPT)
        self._queue = WaitQueue()
        # Observations not yet sent to Redis: 429s, successes, the longest pause, and how long
        # those 429s explain the ones after them (a Retry-After, or the window when none).
        self._throttles = 0
        self._successes = 0
        self._pause = 0.0
        self._hold = 0.0
        self._state = LimiterState(self._settings.per_minute, self._settings.per_minute, burst, 0, 0.0, margin)

    async def _call(self, *, take: bool, scheduled: float = 0.0) -> list[str]:
        pending = (self._throttles, self._successes, self._pause, self._hold)
        throttles, successes, pause, hold = pending
        self._throttles, self._successes, self._pause, self._hold = 0, 0, 0.0, 0.0
        failure: RateLimiterUnavailableError | None = None
        try:
            reply = await self._script(
                keys=[self.key],
                args=[
                    self._settings.per_minute,
                    self._settings.burst,
                    throttles,
                    successes,
                    pause,
                    self._settings.min_rate,
                    self._settings.recovery,
                    1 if take else 0,
                    self._settings.decrease_cooldown,
                    hold,
                    self._settings.margin,
                    scheduled,
                ],
            )
        except BaseException as exc:
            # Not delivered: keep the observations for the next call.
            self._throttles += throttles
            self._successes += successes
            self._pause = max(self._pause, pause)
            self._hold = max(self._hold, hold)
            if not isinstance(exc, self._failures):
                raise
            failure = _unavailable(exc)
        if failure is not None:
            raise failure  # outside ``except``: no chain to redis-py's exception and its connection
        values = [v.decode() if isinstance(v, bytes) else str(v) for v in reply]
        self._state = LimiterState(
            configured_per_minute=self._settings.per_minute,
            current_per_minute=float(values[2]),
            burst=self._settings.burst,
            throttled=int(values[4]),
            paused_for=float(values[3]) / 1000,
            margin=self._settings.margin,
        )
        return values

    async def acquire(self) -> None:
        """Take the next slot of the shared budget when it is due, waiting for it.

        Raises :class:`~loop_async.errors.RateLimiterUnavailableError` when Redis fails.
        """

        async def attempt(scheduled: float | None) -> tuple[float, float]:
            values = await self._call(take=True, scheduled=scheduled or 0.0)
            if values[0] == "1":
                return 0.0, 0.0
            # Never a zero sleep for a slot not taken: Redis rounds to microseconds.
            return max(float(values[1]) / 1000, 0.0005), float(values[5])

        await self._queue.run(attempt, self._sleep)

    def observe(self, status: int | None, retry_after: float | None) -> None:
        """Count a 429 (and its ``Retry-After``) or a success; sent to Redis with the next call."""
        if status == 429:
            self._throttles += 1
            if retry_after:
                self._pause = max(self._pause, retry_after)
            self._hold = max(self._hold, self._settings.window if retry_after is None else retry_after)
        elif status is not None and status < 400:
            self._successes += 1

    @property
    def state(self) -> LimiterState:
        """The shared bucket's state as of this process's last call to Redis."""
        return self._state

    async def fetch_state(self) -> LimiterState:
        """Ask Redis for the shared bucket's state now (also sends pending observations)."""
        await self._call(take=False)
        return self._state

    async def reset(self) -> None:
        """Delete the shared bucket (full budget, no pause) for every process using ``key``."""
        failure: RateLimiterUnavailableError | None = None
        try:
            await self._redis.delete(self.key)
        except self._failures as exc:
            failure = _unavailable(exc)
        if failure is not None:
            raise failure

    async def aclose(self) -> None:
        """Close the Redis connection if this limiter created it."""
        if self._owns_client:
            # redis-py 5.0.0 has only ``close()``; ``aclose()`` came in 5.0.1 and ``close()`` is
            # deprecated since.
            close = getattr(self._redis, "aclose", None) or self._redis.close
            await close()

    def __repr__(self) -> str:
        return f"RedisRateLimiter(key={self.key!r}, per_minute={self._settings.per_minute:g})"


def _unavailable(exc: BaseException) -> RateLimiterUnavailableError:
    # The type and text only: redis-py's exception and its traceback hold the connection,
    # whose settings may include the Redis password.
    detail = str(exc) or type(exc).__name__
    return RateLimiterUnavailableError(
        f"rate limiter unavailable (Redis: {type(exc).__name__}: {detail}); nothing was sent", request_sent=False
    )
