"""Receiving Loop's webhooks: signature check, typed events, a router, an ``aiohttp.web`` handler.

::

    router = WebhookRouter()

    @router.on("return", trigger="return.closed")
    async def closed(event: ReturnEvent) -> None:
        ...

    app.router.add_post("/loop/webhooks", webhook_handler(router, secret))

Loop signs each delivery: header ``X-Loop-Signature`` = base64(HMAC-SHA256(secret, raw body)).
:func:`verify_signature` takes the raw bytes exactly as received, so it works in any framework.

Delivery rules (Loop retries on 500, 503 and network errors, never on 4xx, and honours a
``Retry-After`` up to 30 minutes): the handler answers 401 for a bad signature, 400 for a body
that is not a webhook, 200 once every matching handler ran (also when none matched), 503 with
``Retry-After`` when a handler raised :class:`RetryLater`, and 500 without details when a handler
failed (the exception is logged). Loop may deliver an event more than once: make handlers
idempotent.

Schema drift: an event of a known topic whose payload no longer decodes (Loop changed its
shape) is never given to the handlers of that topic, which expect the typed event and would fail
on every redelivery. It goes to the :meth:`WebhookRouter.on_undecodable` handlers (and the
:meth:`~WebhookRouter.on_any` ones); without one it is logged at WARNING. Either way it is
answered 200 unless a handler fails.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import math
from collections.abc import Awaitable, Callable
from typing import Any, Final, TypeGuard, TypeVar

from aiohttp import web

from loop_async._sansio import json as _json
from loop_async.errors import DecodeError
from loop_async.models._convert import structure
from loop_async.models.webhook_events import (
    EVENT_TYPES,
    GiftcardEvent,
    LabelEvent,
    RestockEvent,
    ReturnEvent,
    ReturnProcessingEvent,
    UnknownWebhookEvent,
    WebhookEvent,
    WebhookTopic,
    WebhookTrigger,
)

__all__ = [
    "MAX_RETRY_AFTER",
    "SIGNATURE_HEADER",
    "GiftcardEvent",
    "InvalidWebhookError",
    "LabelEvent",
    "RestockEvent",
    "RetryLater",
    "ReturnEvent",
    "ReturnProcessingEvent",
    "UnknownWebhookEvent",
    "WebhookEvent",
    "WebhookHandler",
    "WebhookRouter",
    "compute_signature",
    "parse_event",
    "verify_signature",
    "webhook_handler",
]

logger = logging.getLogger("loop_async.webhooks")

#: The header that carries Loop's signature.
SIGNATURE_HEADER: Final = "X-Loop-Signature"
#: Loop honours a receiver's ``Retry-After`` up to 30 minutes; longer values are capped.
MAX_RETRY_AFTER: Final = 1800

E = TypeVar("E")
#: An async function that handles one event.
WebhookHandler = Callable[[Any], Awaitable[None]]
_Fallback = Callable[[UnknownWebhookEvent], Awaitable[None]]


def _secret_bytes(secret: str | bytes) -> bytes:
    return secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)


def compute_signature(secret: str | bytes, raw_body: bytes | bytearray | memoryview) -> str:
    """The signature Loop sends for ``raw_body``: base64(HMAC-SHA256(secret, raw_body))."""
    digest = hmac.new(_secret_bytes(secret), bytes(raw_body), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def verify_signature(
    secret: str | bytes, raw_body: bytes | bytearray | memoryview, header_value: str | bytes | None
) -> bool:
    """Whether ``header_value`` is Loop's signature of ``raw_body`` under ``secret``.

    ``raw_body`` must be the bytes exactly as received (not re-encoded JSON). Fails closed: a
    missing, empty or non-ASCII header, any whitespace or non-canonical base64, or an empty
    secret gives ``False``. The comparison is constant-time (:func:`hmac.compare_digest`).
    """
    if not isinstance(raw_body, bytes | bytearray | memoryview):
        raise TypeError(f"raw_body must be the raw request bytes, got {type(raw_body).__name__}")
    if not secret or not header_value:
        return False
    try:
        provided = header_value.encode("ascii") if isinstance(header_value, str) else bytes(header_value)
    except UnicodeEncodeError:
        return False
    # Comparing the canonical encoding rejects whitespace, other alphabets and odd padding too.
    expected = compute_signature(secret, bytes(raw_body)).encode("ascii")
    return hmac.compare_digest(expected, provided)


class InvalidWebhookError(DecodeError):
    """The body is not a Loop webhook: not a JSON object with ``topic`` and ``trigger``, or a
    known topic whose payload does not decode."""


def parse_event(raw_body: bytes | str) -> WebhookEvent:
    """Decode a (verified) webhook body into its typed event.

    The topic picks the class (:data:`~loop_async.models.webhook_events.EVENT_TYPES`); an unknown
    topic gives :class:`UnknownWebhookEvent`, and so does a known topic whose payload does not
    decode (with ``decode_error`` set). Raises :class:`InvalidWebhookError` for a body that is
    not a JSON object with a ``topic`` and a ``trigger``.
    """
    try:
        data = _json.loads(raw_body)
    except ValueError:
        raise InvalidWebhookError("webhook body is not JSON") from None
    if not isinstance(data, dict):
        raise InvalidWebhookError(f"webhook body must be a JSON object, got {type(data).__name__}")
    missing = [key for key in ("topic", "trigger") if not isinstance(data.get(key), str) or not data[key]]
    if missing:
        raise InvalidWebhookError(f"webhook body lacks {' and '.join(missing)}")
    cls = EVENT_TYPES.get(data["topic"], UnknownWebhookEvent)
    try:
        event: WebhookEvent = structure(data, cls, what=f"{data['topic']!r} webhook")
    except DecodeError as exc:
        # A signed event of a known topic whose payload changed shape: keep it, untyped. The
        # router logs it at WARNING when nobody registered for such events.
        logger.info("webhook %s/%s did not decode as %s: %s", data["topic"], data["trigger"], cls.__name__, exc)
        event = UnknownWebhookEvent(
            topic=WebhookTopic(data["topic"]), trigger=WebhookTrigger(data["trigger"]), raw=data, decode_error=str(exc)
        )
    return event


class RetryLater(Exception):
    """Raised by a handler to ask Loop to deliver the event again later (answer 503).

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


def webhook_handler(router: WebhookRouter, secret: str | bytes) -> Callable[[web.Request], Awaitable[web.Response]]:
    """An ``aiohttp.web`` request handler that verifies, decodes and dispatches Loop's webhooks.

    Mount it on a POST route: ``app.router.add_post("/loop/webhooks", webhook_handler(router,
    secret))``. Answers: 401 bad or missing signature, 400 not a webhook, 200 handled, 503 with
    ``Retry-After`` on :class:`RetryLater`, 500 (no details; logged) when a handler failed.
    """
    if not secret:
        raise ValueError("the webhook secret must not be empty")
    key = _secret_bytes(secret)

    async def handle(request: web.Request) -> web.Response:
        raw = await request.read()
        if not verify_signature(key, raw, request.headers.get(SIGNATURE_HEADER)):
            logger.warning("webhook rejected: bad or missing %s (from %s)", SIGNATURE_HEADER, request.remote)
            return web.Response(status=401, text="invalid signature")
        try:
            event = parse_event(raw)
        except InvalidWebhookError as exc:
            logger.warning("webhook rejected: %s", exc)
            return web.Response(status=400, text="not a Loop webhook")
        try:
            await router.dispatch(event)
        except RetryLater as retry:
            logger.info(
                "webhook %s/%s: handler asked for a retry in %ss", event.topic, event.trigger, retry.retry_after
            )
            return web.Response(status=503, text="retry later", headers={"Retry-After": retry.header_value})
        except Exception:
            logger.exception("webhook %s/%s: handler failed", event.topic, event.trigger)
            return web.Response(status=500, text="internal error")
        return web.Response(status=200, text="ok")

    return handle
