"""What the webhook tests share: the secret, a signed body, Loop's signature written out independently."""

from __future__ import annotations

import base64
import hashlib
import hmac

from loop_async.models.webhook_events import ReturnEvent
from loop_async.webhooks import WebhookRouter

SECRET = "whsec_test"
BODY = b'{"topic":"return","trigger":"return.closed","id":1}'
# Computed once with `openssl dgst -sha256 -hmac whsec_test -binary | base64`.
LITERAL_SIGNATURE = "j8yuq1wVdIJWLQGktfgie1tpngEeOM3r29M6rsinssY="


def reference_signature(secret: bytes, body: bytes) -> str:
    """Loop's signature, written out independently of the SDK."""
    return base64.b64encode(hmac.new(secret, body, hashlib.sha256).digest()).decode("ascii")


# A signed "return" delivery whose payload no longer decodes as a ReturnEvent (no ``id``).
DRIFTED = b'{"topic":"return","trigger":"return.closed","return":{"id":1},"shop_id":9}'


def typed_return_handler(router: WebhookRouter) -> list[int]:
    """A handler written for ReturnEvent: it would fail (500, redelivered forever) on anything else."""
    seen: list[int] = []

    @router.on("return", trigger="return.closed")
    async def closed(event: ReturnEvent) -> None:
        seen.append(event.return_id)

    return seen
