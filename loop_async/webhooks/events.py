"""Decoding a webhook body into the typed events of :mod:`loop_async.models.webhook_events`.

Sans-I/O: bytes in, an event out. It does not check the signature (do that first, on the same
raw bytes) and does not dispatch; the event classes themselves live in the models.
"""

from __future__ import annotations

import logging

from loop_async._sansio import json as _json
from loop_async.errors import DecodeError, InvalidWebhookError
from loop_async.models._convert import structure
from loop_async.models.webhook_events import (
    EVENT_TYPES,
    UnknownWebhookEvent,
    WebhookEvent,
    WebhookTopic,
    WebhookTrigger,
)

__all__ = ["InvalidWebhookError", "parse_event"]

logger = logging.getLogger("loop_async.webhooks")  # one logger for the whole webhooks package


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
