"""The thin ``aiohttp.web`` adapter: one request handler that verifies, decodes and dispatches.

It only maps a request to :mod:`~loop_async.webhooks.signature`, :mod:`~loop_async.webhooks.events`
and a :class:`~loop_async.webhooks.WebhookRouter`, and their results to Loop's status codes; any
rule of its own belongs in those modules. Other frameworks use them directly (``docs/webhooks.md``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from loop_async.webhooks.events import InvalidWebhookError, parse_event
from loop_async.webhooks.router import RetryLater, WebhookRouter
from loop_async.webhooks.signature import SIGNATURE_HEADER, secret_bytes, verify_signature

__all__ = ["webhook_handler"]

logger = logging.getLogger("loop_async.webhooks")  # one logger for the whole webhooks package


def webhook_handler(router: WebhookRouter, secret: str | bytes) -> Callable[[web.Request], Awaitable[web.Response]]:
    """An ``aiohttp.web`` request handler that verifies, decodes and dispatches Loop's webhooks.

    Mount it on a POST route: ``app.router.add_post("/loop/webhooks", webhook_handler(router,
    secret))``. Answers: 401 bad or missing signature, 400 not a webhook, 200 handled, 503 with
    ``Retry-After`` on :class:`RetryLater`, 500 (no details; logged) when a handler failed.
    """
    if not secret:
        raise ValueError("the webhook secret must not be empty")
    key = secret_bytes(secret)

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
