"""Callbacks around every call: what the transport tells user code (and OpenTelemetry) as it works.

Pure data and one dispatcher; the transport calls it. A callback's exception is logged and
never changes the request's outcome: the action may already have happened. No event holds
the API key: requests are described by method, URL and a short tag.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import attrs
from yarl import URL

__all__ = ["ErrorEvent", "Hooks", "RequestEvent", "ResponseEvent", "RetryEvent"]

logger = logging.getLogger("loop_async")


@attrs.frozen(kw_only=True)
class RequestEvent:
    """An attempt is about to be sent. ``tag`` names the call (every attempt of it), ``attempt`` counts from 1."""

    tag: str
    method: str
    url: URL
    attempt: int


@attrs.frozen(kw_only=True)
class RetryEvent:
    """Attempt ``attempt`` failed and the call is retried after ``delay`` seconds, for ``reason``."""

    tag: str
    method: str
    url: URL
    attempt: int
    delay: float
    reason: str
    status: int | None  # the status that was answered; ``None`` when no answer was read


@attrs.frozen(kw_only=True)
class ResponseEvent:
    """The call succeeded. ``response`` is its :class:`~loop_async.Response` (status, headers, body, attempts)."""

    tag: str
    method: str
    url: URL
    response: Any


@attrs.frozen(kw_only=True)
class ErrorEvent:
    """The call failed with ``error`` (a :class:`~loop_async.errors.LoopError`, or a cancellation)."""

    tag: str
    method: str
    url: URL
    error: BaseException


@attrs.frozen(kw_only=True)
class Hooks:
    """Callbacks the client calls for every call it makes (``LoopClient(hooks=Hooks(...))``).

    ``on_request`` before each attempt, ``on_retry`` when a retry is decided, and exactly one
    of ``on_response`` / ``on_error`` when the call ends (a cancellation included). They are
    called inline: keep them quick, and do not await anything from them.
    """

    on_request: Callable[[RequestEvent], object] | None = None
    on_retry: Callable[[RetryEvent], object] | None = None
    on_response: Callable[[ResponseEvent], object] | None = None
    on_error: Callable[[ErrorEvent], object] | None = None

    def emit(self, name: str, event: Any) -> None:
        """Call the callback ``name`` (e.g. ``"on_retry"``) with ``event``; log, never raise, its errors."""
        callback = getattr(self, name)
        if callback is None:
            return
        try:
            callback(event)
        except Exception:  # a hook must not change what happened to the request
            logger.warning("loop-async hook %s failed (the request is unaffected)", name, exc_info=True)
