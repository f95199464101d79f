"""Waiting for a rate-limit slot, bounded: any failure there means nothing was sent.

The limiters themselves are in :mod:`loop_async.ratelimit`; this is how the transport waits on one.
"""

from __future__ import annotations

import asyncio

from yarl import URL

from loop_async.errors import LoopError, RateLimiterTimeoutError, RateLimiterUnavailableError, TransportError
from loop_async.ratelimit import RateLimiter

__all__ = ["acquire_slot"]


async def acquire_slot(limiter: RateLimiter, acquire_timeout: float | None, method: str, url: URL) -> None:
    """Wait for a rate-limit slot, at most ``acquire_timeout``; any failure means nothing was sent.

    A limiter that fails (a Redis that is down) or a wait that is too long raises a
    :class:`TransportError` with ``request_sent=False`` naming the request; it is not retried
    here (a retry would wait on the same limiter again, past the bound the caller set).
    """
    failure: TransportError | None = None
    try:
        if acquire_timeout is None:
            await limiter.acquire()
        else:
            await asyncio.wait_for(limiter.acquire(), acquire_timeout)
    except TransportError as exc:
        exc.method, exc.url, exc.request_sent = method, url, False
        raise
    except LoopError:
        raise
    except asyncio.TimeoutError:
        failure = RateLimiterTimeoutError(
            f"no rate-limit slot within acquire_timeout={acquire_timeout:g}s; nothing was sent",
            method=method,
            url=url,
            request_sent=False,
        )
    except Exception as exc:  # noqa: BLE001 - a custom limiter's failure: still a LoopError, nothing sent
        failure = RateLimiterUnavailableError(
            f"rate limiter failed ({type(exc).__name__}: {exc}); nothing was sent",
            method=method,
            url=url,
            request_sent=False,
        )
    if failure is not None:
        raise failure  # outside ``except``: no chain into the limiter's internals
