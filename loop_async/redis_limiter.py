"""A rate limiter shared by processes and machines: one GCRA token bucket in Redis.

Several workers using the same API key must stay under Loop's 300 requests per minute
*together*. :class:`RedisRateLimiter` keeps the bucket (theoretical arrival time, current
rate, pause) in one Redis hash and updates it with one Lua script, so a reservation is
atomic across every process that uses the same ``key``. The script reads Redis's own clock
(``TIME``), so the machines' clocks need not agree; calling ``TIME`` before a write in a
script needs Redis 5 or later (script effects replication), so this limiter needs Redis >= 5.

AIMD works across processes too: a 429 seen by one worker halves the shared rate for all of
them, and successes grow it back. :meth:`observe` is synchronous (the transport calls it on
every answer), so it only counts; the counts travel to Redis with the next :meth:`acquire`.
When one call carries both successes and 429s, the successes are added first and the 429
halves the result, so a 429 is never cancelled out by the successes reported with it.

Needs the ``redis`` extra: ``pip install 'loop-async[redis]'``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from loop_async.ratelimit import LimiterState

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["RedisRateLimiter"]

# KEYS[1]: the bucket hash. ARGV: per_minute, burst, throttles, successes, pause seconds,
# min_rate, recovery per success, reserve (1: take a slot, 0: only update and report),
# decrease cooldown seconds, release (a TAT to give back, or 0), the interval (ms) that slot was
# reserved with (the rate may have changed since).
# Times are in milliseconds from Redis's clock; numbers are returned as strings because Redis
# truncates Lua numbers to integers.
_SCRIPT = """
local key = KEYS[1]
local configured = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local throttles = tonumber(ARGV[3])
local successes = tonumber(ARGV[4])
local pause_ms = tonumber(ARGV[5]) * 1000
local min_rate = tonumber(ARGV[6])
local recovery = tonumber(ARGV[7])
local reserve = tonumber(ARGV[8])
local cooldown_ms = tonumber(ARGV[9]) * 1000
local release_tat = tonumber(ARGV[10])
local release_interval = tonumber(ARGV[11])

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local h = redis.call('HMGET', key, 'tat', 'rate', 'paused_until', 'throttled', 'last_decrease')
local tat = tonumber(h[1]) or 0
local rate = tonumber(h[2]) or configured
local paused_until = tonumber(h[3]) or 0
local throttled = tonumber(h[4]) or 0
local last_decrease = tonumber(h[5]) or 0
if rate > configured then rate = configured end

-- Additive increase first, then the multiplicative decrease: successes counted in the same
-- call as a 429 must not undo the halving.
if successes > 0 then rate = math.min(configured, rate + recovery * successes) end
if throttles > 0 then
  throttled = throttled + throttles
  if now - last_decrease >= cooldown_ms then
    rate = math.max(min_rate, rate / 2)
    last_decrease = now
  end
end
if pause_ms > 0 then paused_until = math.max(paused_until, now + pause_ms) end

local interval = 60000 / rate
if release_tat > 0 and math.abs(tat - release_tat) < 0.001 then
  tat = tat - release_interval
end

local wait = 0
if reserve == 1 then
  local tau = interval * (burst - 1)
  local base = math.max(tat, now)
  local start = math.max(now, base - tau, paused_until)
  tat = math.max(base, start) + interval
  wait = start - now
end

redis.call('HSET', key, 'tat', string.format('%.3f', tat), 'rate', string.format('%.6f', rate),
  'paused_until', string.format('%.3f', paused_until), 'throttled', throttled,
  'last_decrease', string.format('%.3f', last_decrease))
-- Forget an idle bucket: nothing in it matters once its reservations are long past.
redis.call('PEXPIRE', key, math.ceil(math.max(tat, paused_until) - now) + 60000)
return {string.format('%.3f', wait), string.format('%.6f', rate),
  string.format('%.3f', math.max(0, paused_until - now)), tostring(throttled), string.format('%.3f', tat),
  string.format('%.6f', interval)}
"""


def _redis_module() -> Any:
    try:
        import redis.asyncio as redis_asyncio
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "RedisRateLimiter needs the redis client: pip install 'loop-async[redis]' (redis>=5)"
        ) from exc
    return redis_asyncio


class RedisRateLimiter:
    """A :class:`~loop_async.ratelimit.RateLimiter` whose budget lives in Redis.

    ``redis`` is a URL (``redis://host:6379/0``; the limiter then owns the connection and
    :meth:`aclose` closes it) or an existing ``redis.asyncio.Redis`` client. ``key`` names the
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
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if per_minute <= 0:
            raise ValueError(f"per_minute must be positive, got {per_minute!r}")
        if burst < 1:
            raise ValueError(f"burst must be at least 1, got {burst!r}")
        if not key:
            raise ValueError("key must be a non-empty string")
        module = _redis_module()
        if isinstance(redis, str):
            self._redis = module.Redis.from_url(redis)
            self._owns_client = True
        else:
            self._redis = redis
            self._owns_client = False
        self.key = key
        self._configured = float(per_minute)
        self._burst = burst
        self._min_rate = self._configured * min_fraction
        self._recovery = self._configured * recovery_fraction
        self._cooldown = decrease_cooldown
        self._sleep = sleep
        self._script = self._redis.register_script(_SCRIPT)
        self._throttles = 0
        self._successes = 0
        self._pause = 0.0
        self._state = LimiterState(self._configured, self._configured, burst, 0, 0.0)

    async def _call(self, *, reserve: bool, release_tat: float = 0.0, release_interval: float = 0.0) -> list[str]:
        throttles, successes, pause = self._throttles, self._successes, self._pause
        self._throttles, self._successes, self._pause = 0, 0, 0.0
        try:
            reply = await self._script(
                keys=[self.key],
                args=[
                    self._configured,
                    self._burst,
                    throttles,
                    successes,
                    pause,
                    self._min_rate,
                    self._recovery,
                    1 if reserve else 0,
                    self._cooldown,
                    release_tat,
                    release_interval,
                ],
            )
        except BaseException:
            # Not delivered: keep the observations for the next call.
            self._throttles += throttles
            self._successes += successes
            self._pause = max(self._pause, pause)
            raise
        values = [v.decode() if isinstance(v, bytes) else str(v) for v in reply]
        self._state = LimiterState(
            configured_per_minute=self._configured,
            current_per_minute=float(values[1]),
            burst=self._burst,
            throttled=int(values[3]),
            paused_for=float(values[2]) / 1000,
        )
        return values

    async def acquire(self) -> None:
        """Reserve the next slot of the shared budget and wait for it."""
        values = await self._call(reserve=True)
        wait = float(values[0]) / 1000
        if wait <= 0:
            return
        try:
            await self._sleep(wait)
        except asyncio.CancelledError:
            # Give the slot back if nobody reserved after us (best effort, then re-raise).
            with contextlib.suppress(Exception):
                await asyncio.shield(
                    self._call(reserve=False, release_tat=float(values[4]), release_interval=float(values[5]))
                )
            raise

    def observe(self, status: int | None, retry_after: float | None) -> None:
        """Count a 429 (and its ``Retry-After``) or a success; sent to Redis with the next call."""
        if status == 429:
            self._throttles += 1
            if retry_after:
                self._pause = max(self._pause, retry_after)
        elif status is not None and status < 400:
            self._successes += 1

    @property
    def state(self) -> LimiterState:
        """The shared bucket's state as of this process's last call to Redis."""
        return self._state

    async def fetch_state(self) -> LimiterState:
        """Ask Redis for the shared bucket's state now (also sends pending observations)."""
        await self._call(reserve=False)
        return self._state

    async def reset(self) -> None:
        """Delete the shared bucket (full budget, no pause) for every process using ``key``."""
        await self._redis.delete(self.key)

    async def aclose(self) -> None:
        """Close the Redis connection if this limiter created it."""
        if self._owns_client:
            await self._redis.aclose()

    def __repr__(self) -> str:
        return f"RedisRateLimiter(key={self.key!r}, per_minute={self._configured:g})"
