"""Client-side rate limiting: spend a key's budget evenly, back off when Loop says 429.

The facade of the package: :class:`RateLimiter` (the protocol any limiter follows) and
:class:`LimiterState` in :mod:`~loop_async.ratelimit.limiter`, :class:`TokenBucketLimiter` (one
process) in :mod:`~loop_async.ratelimit.bucket`, :class:`RedisRateLimiter` (shared by processes;
needs the ``redis`` extra only when one is built) in :mod:`~loop_async.ratelimit.redis`.
How they pace and back off: docs/reliability.md.
"""

from __future__ import annotations

from loop_async._sansio.protocol import LOOP_WINDOW
from loop_async.ratelimit.bucket import TokenBucketLimiter, build_limiter
from loop_async.ratelimit.limiter import PACING_MARGIN, LimiterState, RateLimiter
from loop_async.ratelimit.redis import RedisRateLimiter

__all__ = [
    "LOOP_WINDOW",
    "PACING_MARGIN",
    "LimiterState",
    "RateLimiter",
    "RedisRateLimiter",
    "TokenBucketLimiter",
    "build_limiter",
]
