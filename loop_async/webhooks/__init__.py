"""Receiving Loop's webhooks: signature check, typed events, a router, an ``aiohttp.web`` handler.

::

    router = WebhookRouter()

    @router.on("return", trigger="return.closed")
    async def closed(event: ReturnEvent) -> None:
        ...

    app.router.add_post("/loop/webhooks", webhook_handler(router, secret))

The facade: :mod:`~loop_async.webhooks.signature` (sans-I/O), :mod:`~loop_async.webhooks.events`
(decoding), :mod:`~loop_async.webhooks.router` and the thin :mod:`~loop_async.webhooks.aiohttp`
adapter. Delivery rules and schema drift: ``docs/webhooks.md``.
"""

from __future__ import annotations

from loop_async.models.webhook_events import (
    GiftcardEvent,
    LabelEvent,
    RestockEvent,
    ReturnEvent,
    ReturnProcessingEvent,
    UnknownWebhookEvent,
    WebhookEvent,
)
from loop_async.webhooks.aiohttp import webhook_handler
from loop_async.webhooks.events import InvalidWebhookError, parse_event
from loop_async.webhooks.router import MAX_RETRY_AFTER, RetryLater, WebhookHandler, WebhookRouter
from loop_async.webhooks.signature import SIGNATURE_HEADER, compute_signature, verify_signature

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
