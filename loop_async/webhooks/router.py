"""Routing decoded webhook events to async handlers by topic and trigger, and :class:`RetryLater`.

Sans-I/O apart from awaiting the handlers: it does not read requests, check signatures or
decode bodies (the aiohttp adapter and :func:`~loop_async.webhooks.parse_event` do).
Delivery rules and schema drift: ``docs/webhooks.md``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable
from typing import Any, Final, TypeGuard, TypeVar

from loop_async.models.webhook_events import UnknownWebhookEvent, WebhookEvent, WebhookTopic, WebhookTrigger

__all__ = ["MAX_RETRY_AFTER", "RetryLater", "WebhookHandler", "WebhookRouter"]

logger = logging.getLogger("loop_async.webhooks")  # one logger for the whole webhooks package

#: Loop honours a receiver's ``Retry-After`` up to 30 minutes; longer values are capped.
MAX_RETRY_AFTER: Final = 1800

E = TypeVar("E")
#: An async function that handles one event.
WebhookHandler = Callable[[Any], Awaitable[None]]
_Fallback = Callable[[UnknownWebhookEvent], Awaitable[None]]


class RetryLater(Exception):
    """Raised by *your* handler to ask Loop to deliver the event again later (answer 503).

    A signal to the router, not an error the SDK raises: so it lives here, not in
    :mod:`loop_async.errors`.

    ``retry_after`` is in seconds (sent as ``Retry-After``, rounded up, capped at
    :data:`MAX_RETRY_AFTER`).
    """

    def __init__(self, retry_after: float = 60, message: str = "retry later") -> None:
        if isinstance(retry_after, bool) or not isinstance(retry_after, int | float) or not math.isfinite(retry_after):
            raise ValueError(f"retry_after must be a finite number of seconds, got {retry_after!r}")
        if retry_after < 0:
            raise ValueError(f"retry_after must not be negative, got {retry_after!r}")
        super().__init__(message)
        self.retry_after = retry_after

    @property
    def header_value(self) -> str:
        """The ``Retry-After`` header value: whole seconds, at most 30 minutes."""
        return str(min(math.ceil(self.retry_after), MAX_RETRY_AFTER))


def _key(value: str | None) -> str | None:
    # OpenEnum members hash by name, not by value: key the table by the plain string.
    return None if value is None else str(value)


class WebhookRouter:
    """Sends each event to the async handlers registered for its topic (and trigger).

    Handlers run one after the other, in registration order: first those for the event's
    topic and trigger, then those for the topic with any trigger, then :meth:`on_any` ones.
    An event whose payload did not decode goes to the :meth:`on_undecodable` handlers instead
    of its topic's. An exception (including :class:`RetryLater`) stops the dispatch and propagates.
    """

    def __init__(self) -> None:
        self._handlers: dict[tuple[str | None, str | None], list[WebhookHandler]] = {}
        self._undecodable: list[WebhookHandler] = []

    def on(
        self, topic: str | WebhookTopic, trigger: str | WebhookTrigger | None = None
    ) -> Callable[[Callable[[E], Awaitable[None]]], Callable[[E], Awaitable[None]]]:
        """Decorator: register an async handler for ``topic`` (and only ``trigger``, if given)."""
        if not isinstance(topic, str) or not topic:
            raise ValueError(f"topic must be a non-empty string, got {topic!r}")
        if trigger is not None and (not isinstance(trigger, str) or not trigger):
            raise ValueError(f"trigger must be a non-empty string or None, got {trigger!r}")
        return self._register((_key(topic), _key(trigger)))

    def on_any(self) -> Callable[[Callable[[E], Awaitable[None]]], Callable[[E], Awaitable[None]]]:
        """Decorator: register an async handler for every event, whatever its topic.

        It also gets the events whose payload did not decode (an :class:`UnknownWebhookEvent`
        with ``decode_error`` set): check the type.
        """
        return self._register((None, None))

    def on_undecodable(self) -> Callable[[_Fallback], _Fallback]:
        """Decorator: register the fallback for events of a known topic whose payload did not decode.

        Loop changed the payload's shape: the event arrives as an :class:`UnknownWebhookEvent`
        with ``raw`` (the whole JSON object) and ``decode_error``. The handlers of its topic,
        written for the typed event, never see it. Without a fallback such an event is logged at
        WARNING and answered 200 (it cannot be handled by redelivery either).
        """
        return self._register(None)

    def _register(
        self, key: tuple[str | None, str | None] | None
    ) -> Callable[[Callable[[E], Awaitable[None]]], Callable[[E], Awaitable[None]]]:
        def decorator(handler: Callable[[E], Awaitable[None]]) -> Callable[[E], Awaitable[None]]:
            if not callable(handler):
                raise TypeError(f"a handler must be an async function, got {handler!r}")
            if key is None:
                self._undecodable.append(handler)
            else:
                self._handlers.setdefault(key, []).append(handler)
            return handler

        return decorator

    def handlers_for(self, event: WebhookEvent) -> list[WebhookHandler]:
        """The handlers :meth:`dispatch` would run for ``event``, in order."""
        if _undecodable(event):
            return [*self._undecodable, *self._handlers.get((None, None), ())]
        topic, trigger = _key(event.topic), _key(event.trigger)
        keys = [(topic, trigger), (topic, None), (None, None)]
        return [handler for key in keys for handler in self._handlers.get(key, ())]

    async def dispatch(self, event: WebhookEvent) -> int:
        """Run the handlers for ``event``; returns how many ran (0: nobody was interested)."""
        if _undecodable(event) and not self._undecodable:
            logger.warning(
                "webhook %s/%s not handled: its payload did not decode (%s); register a fallback with "
                "WebhookRouter.on_undecodable() to handle such events",
                event.topic,
                event.trigger,
                event.decode_error,
            )
        handlers = self.handlers_for(event)
        for handler in handlers:
            await handler(event)
        return len(handlers)


def _undecodable(event: WebhookEvent) -> TypeGuard[UnknownWebhookEvent]:
    """A known topic whose payload did not decode (an unknown topic is not: it has no typed class)."""
    return isinstance(event, UnknownWebhookEvent) and event.decode_error is not None
