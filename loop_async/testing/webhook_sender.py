"""Webhook delivery as Loop does it: signed JSON POSTs, retried on 500, 503 and network errors.

Six attempts in all with backoff, ``Retry-After`` honoured up to 30 minutes, bodies with Loop's
escaped slashes signed over their exact bytes (``X-Loop-Signature``); only the real waiting is
shortened for tests (``backoff``, ``max_retry_after``). The rules are in ``docs/testing.md``
("Webhooks").
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import random
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

import aiohttp

from loop_async._sansio import json as _json
from loop_async._sansio.retry import parse_retry_after
from loop_async.testing.store import FakeWebhook

__all__ = [
    "LOOP_ATTEMPTS",
    "LOOP_MAX_RETRY_AFTER",
    "SIGNATURE_HEADER",
    "WebhookDelivery",
    "WebhookDispatcher",
    "encode_body",
    "sign",
]

logger = logging.getLogger("loop_async.testing")

SIGNATURE_HEADER = "X-Loop-Signature"
_RETRY_STATUSES = frozenset({500, 503})
#: Loop's attempts per event: the first and five retries.
LOOP_ATTEMPTS = 6
#: The longest ``Retry-After`` (seconds) Loop respects; above it the webhook fails.
LOOP_MAX_RETRY_AFTER = 30 * 60.0


class WebhookDelivery(NamedTuple):
    """One delivery attempt: ``status_code`` is ``None`` when the connection failed.

    ``retry_in`` is how long Loop waits before the next attempt (the backoff, or the
    receiver's ``Retry-After``); ``None`` when there is none: delivered, refused (4xx), out of
    attempts, or failed by a ``Retry-After`` above 30 minutes.
    """

    url: str
    topic: str
    trigger: str
    status_code: int | None
    attempt: int
    retry_in: float | None = None

    @property
    def failed(self) -> bool:
        """The last attempt of a delivery that did not succeed."""
        return self.retry_in is None and not (self.status_code is not None and 200 <= self.status_code < 300)


def sign(secret: str, body: bytes) -> str:
    """Loop's signature of a raw body."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def encode_body(payload: dict[str, Any]) -> bytes:
    """A webhook body as Loop sends it: compact JSON with every ``/`` escaped as ``\\/``.

    ``/`` only occurs inside JSON strings, so escaping every one keeps the same JSON value;
    the bytes differ from a re-encoding, which is why a receiver must verify the raw body.
    """
    return _json.dumps(payload).replace(b"/", b"\\/")


class WebhookDispatcher:
    """Sends events to the matching active subscriptions in background tasks."""

    def __init__(
        self,
        secret: str,
        subscriptions: Callable[[], Iterable[FakeWebhook]],
        *,
        backoff: float = 0.01,
        max_retry_after: float = 1.0,
        timeout: float = 10.0,
        rng: random.Random | None = None,
    ) -> None:
        if backoff < 0 or max_retry_after < 0:
            raise ValueError("backoff and max_retry_after must not be negative")
        self.secret = secret
        self.subscriptions = subscriptions
        self.backoff = backoff
        self.max_retry_after = min(max_retry_after, LOOP_MAX_RETRY_AFTER)
        self.timeout = timeout
        self._rng = rng or random.Random()
        self.deliveries: list[WebhookDelivery] = []
        self.delivered = asyncio.Condition()
        self._session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def emit(self, topic: str, trigger: str, payload: dict[str, Any]) -> int:
        """Queue ``payload`` (topic and trigger are added) for every matching subscription."""
        body = encode_body({"topic": topic, "trigger": trigger, **payload})
        targets = [
            w for w in self.subscriptions() if w.status == "active" and w.topic == topic and w.trigger == trigger
        ]
        for hook in targets:
            task = asyncio.get_running_loop().create_task(self._deliver(hook.url, topic, trigger, body))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return len(targets)

    def backoff_delay(self, retry: int) -> float:
        """The wait before retry number ``retry`` (1-based): doubling, with equal jitter."""
        nominal: float = self.backoff * 2.0 ** (retry - 1)
        return nominal / 2 + self._rng.uniform(0, nominal / 2)

    async def _deliver(self, url: str, topic: str, trigger: str, body: bytes) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout), trust_env=False)
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(self.secret, body)}
        for attempt in range(1, LOOP_ATTEMPTS + 1):
            status: int | None = None
            retry_after: float | None = None
            try:
                async with self._session.post(url, data=body, headers=headers, allow_redirects=False) as resp:
                    await resp.read()
                    status = resp.status
                    retry_after = parse_retry_after(resp.headers.get("Retry-After"))
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                logger.info("webhook %s to %s failed: %s", trigger, url, type(exc).__name__)
            retryable = status is None or status in _RETRY_STATUSES
            wait: float | None = None
            if retryable and attempt < LOOP_ATTEMPTS:
                if retry_after is None:
                    wait = self.backoff_delay(attempt)
                elif retry_after <= LOOP_MAX_RETRY_AFTER:
                    wait = retry_after
                else:
                    logger.info("webhook %s to %s failed: Retry-After %ss is over 30 min", trigger, url, retry_after)
            await self._record(WebhookDelivery(url, topic, trigger, status, attempt, wait))
            if wait is None:
                return
            # Only the fake's real wait is shortened for tests; the decision above is Loop's.
            await asyncio.sleep(wait if retry_after is None else min(wait, self.max_retry_after))

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

    @property
    def busy(self) -> bool:
        """Whether a delivery is still running (or waiting to retry)."""
        return any(not task.done() for task in self._tasks)

    async def idle(self) -> None:
        """Wait until every delivery in flight (retries included) has finished."""
        # Only tasks not done: a done task leaves the set in a callback that has yet to run, and
        # gathering done tasks does not yield (Python 3.12), so the loop would spin.
        while pending := [task for task in self._tasks if not task.done()]:
            await asyncio.gather(*pending, return_exceptions=True)

    async def aclose(self) -> None:
        """Cancel deliveries in flight, wait for them, close the HTTP session."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None
