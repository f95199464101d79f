"""Webhook delivery as Loop does it: signed JSON POSTs, retried on 500, 503 and network errors.

The body is signed with ``X-Loop-Signature: base64(HMAC-SHA256(secret, raw body))``. A 4xx is
final; a 500/503 or a connection error is retried after the next of ``retry_delays`` (fast by
default so that tests stay fast), or after the receiver's ``Retry-After`` when it sent one
(capped at Loop's 30 minutes, and at ``max_retry_after`` for tests).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple

import aiohttp

from loop_async import _json
from loop_async.retry import parse_retry_after
from loop_async.testing.store import FakeWebhook

__all__ = ["SIGNATURE_HEADER", "WebhookDelivery", "WebhookDispatcher", "sign"]

logger = logging.getLogger("loop_async.testing")

SIGNATURE_HEADER = "X-Loop-Signature"
_RETRY_STATUSES = frozenset({500, 503})
_LOOP_MAX_RETRY_AFTER = 30 * 60.0


class WebhookDelivery(NamedTuple):
    """One delivery attempt: ``status_code`` is ``None`` when the connection failed."""

    url: str
    topic: str
    trigger: str
    status_code: int | None
    attempt: int


def sign(secret: str, body: bytes) -> str:
    """Loop's signature of a raw body."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


class WebhookDispatcher:
    """Sends events to the matching active subscriptions in background tasks."""

    def __init__(
        self,
        secret: str,
        subscriptions: Callable[[], Iterable[FakeWebhook]],
        *,
        retry_delays: Sequence[float] = (0.01, 0.05, 0.1),
        max_retry_after: float = 1.0,
        timeout: float = 10.0,
    ) -> None:
        self.secret = secret
        self.subscriptions = subscriptions
        self.retry_delays = tuple(retry_delays)
        self.max_retry_after = min(max_retry_after, _LOOP_MAX_RETRY_AFTER)
        self.timeout = timeout
        self.deliveries: list[WebhookDelivery] = []
        self.delivered = asyncio.Condition()
        self._session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def emit(self, topic: str, trigger: str, payload: dict[str, Any]) -> int:
        """Queue ``payload`` (topic and trigger are added) for every matching subscription."""
        body = _json.dumps({"topic": topic, "trigger": trigger, **payload})
        targets = [
            w for w in self.subscriptions() if w.status == "active" and w.topic == topic and w.trigger == trigger
        ]
        for hook in targets:
            task = asyncio.get_running_loop().create_task(self._deliver(hook.url, topic, trigger, body))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return len(targets)

    async def _deliver(self, url: str, topic: str, trigger: str, body: bytes) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout), trust_env=False)
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(self.secret, body)}
        attempt = 0
        while True:
            attempt += 1
            status: int | None = None
            retry_after: float | None = None
            try:
                async with self._session.post(url, data=body, headers=headers, allow_redirects=False) as resp:
                    await resp.read()
                    status = resp.status
                    retry_after = parse_retry_after(resp.headers.get("Retry-After"))
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                logger.info("webhook %s to %s failed: %s", trigger, url, type(exc).__name__)
            await self._record(WebhookDelivery(url, topic, trigger, status, attempt))
            retryable = status is None or status in _RETRY_STATUSES
            if not retryable or attempt > len(self.retry_delays):
                return
            delay = self.retry_delays[attempt - 1]
            if retry_after is not None:
                delay = min(retry_after, self.max_retry_after)
            await asyncio.sleep(delay)

    async def _record(self, delivery: WebhookDelivery) -> None:
        async with self.delivered:
            self.deliveries.append(delivery)
            self.delivered.notify_all()

    async def wait_for(self, predicate: Callable[[list[WebhookDelivery]], bool]) -> list[WebhookDelivery]:
        """Wait until ``predicate(deliveries)`` holds; returns the deliveries."""
        async with self.delivered:
            await self.delivered.wait_for(lambda: predicate(self.deliveries))
            return list(self.deliveries)

    @property
    def in_flight(self) -> int:
        """Deliveries not finished yet (including those waiting to retry)."""
        return len(self._tasks)

    async def idle(self) -> None:
        """Wait until every delivery in flight (retries included) has finished."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def aclose(self) -> None:
        """Cancel deliveries in flight, wait for them, close the HTTP session."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None
