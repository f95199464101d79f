"""The fake server's middlewares: the request log, API-key auth and scopes, the per-key rate limit.

Also the conversion of a handler's :class:`~.error_bodies.LoopHTTPError` into Loop's error
body. Order (outermost first): log, faults (:mod:`.faults`), auth, rate limit, errors.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

import attrs
from aiohttp import web

from loop_async.testing.error_bodies import LoopHTTPError, action_error, unauthorized_key, unauthorized_scope
from loop_async.testing.faults import DroppedConnection
from loop_async.testing.handlers._request import Handler, route_key
from loop_async.testing.limits import SlidingWindowLimiter
from loop_async.testing.scopes import grants

__all__ = [
    "RequestRecord",
    "auth_middleware",
    "error_middleware",
    "key_id",
    "log_middleware",
    "rate_limit_middleware",
]

logger = logging.getLogger("loop_async.testing")


@attrs.frozen
class RequestRecord:
    """One request as the server saw it. ``key_id`` identifies the key without revealing it."""

    at: float
    method: str
    path: str
    route: str
    status: int | None
    key_id: str | None


def key_id(key: str) -> str:
    """A stable, non-secret name for an API key."""
    return "key-" + hashlib.sha256(key.encode()).hexdigest()[:8]


def log_middleware(keys: Mapping[str, frozenset[str]], counts: Counter[str], log: list[RequestRecord]) -> Any:
    """Count and record every request; answer the errors raised below it with Loop's bodies."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        route = route_key(request)
        counts[route] += 1
        key = request.headers.get("X-Authorization")
        who = None if key is None else (key_id(key) if key in keys else "unknown")
        status: int | None = None
        try:
            response = await handler(request)
            status = response.status
            return response
        except DroppedConnection:
            # The transport is already aborted; aiohttp ignores the failed write of this placeholder.
            return web.Response(status=500)
        except LoopHTTPError as exc:
            status = exc.status
            return exc.response()
        except web.HTTPException as exc:
            status = exc.status
            if exc.status == 404:
                status = 404
                return action_error(404, "NOT_FOUND", "Not found.").response()
            raise
        finally:
            log.append(RequestRecord(time.monotonic(), request.method, request.path, route, status, who))
            logger.info("%s %s -> %s", request.method, request.path, status if status is not None else "dropped")

    return middleware


def auth_middleware(keys: Mapping[str, frozenset[str]], scopes: Mapping[str, str]) -> Any:
    """401 for a missing or unknown ``X-Authorization`` key, or one without the route's scope."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        key = request.headers.get("X-Authorization", "").strip()
        granted = keys.get(key) if key else None
        if granted is None:
            raise unauthorized_key()
        needed = scopes.get(route_key(request))
        if needed is not None and not grants(granted, needed):
            raise unauthorized_scope(needed)
        return await handler(request)

    return middleware


def rate_limit_middleware(limiter: Callable[[], SlidingWindowLimiter | None], retry_after: Callable[[], bool]) -> Any:
    """429 ``Too Many Attempts.`` past the per-key limit (with ``Retry-After`` when asked for)."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        current = limiter()
        if current is not None:
            wait = current.hit(key_id(request.headers.get("X-Authorization", "").strip()))
            if wait is not None:
                headers = {"Retry-After": current.retry_after_header(wait)} if retry_after() else {}
                raise LoopHTTPError(429, {"message": "Too Many Attempts."}, headers)
        return await handler(request)

    return middleware


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A handler's :class:`LoopHTTPError` as Loop's error body (before the fault middleware sees it)."""
    try:
        return await handler(request)
    except LoopHTTPError as exc:
        return exc.response()
