"""The aiohttp.web handler over loopback: status codes, end to end with the fake server, drifted deliveries."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from loop_async import LoopClient
from loop_async.models import Link, ReturnState
from loop_async.testing import FakeLoopServer
from loop_async.webhooks import (
    SIGNATURE_HEADER,
    RetryLater,
    ReturnEvent,
    ReturnProcessingEvent,
    UnknownWebhookEvent,
    WebhookEvent,
    WebhookRouter,
    webhook_handler,
)
from tests.webhooks._support import BODY, DRIFTED, LITERAL_SIGNATURE, SECRET, reference_signature, typed_return_handler

# -- the aiohttp.web handler over loopback ---------------------------------------------------


class Receiver:
    """A running aiohttp app with the webhook handler mounted, and an HTTP client for it."""

    def __init__(self, router: WebhookRouter) -> None:
        app = web.Application()
        app.router.add_post("/loop/webhooks", webhook_handler(router, SECRET))
        self.server = TestServer(app, host="127.0.0.1", port=0)
        self.session: aiohttp.ClientSession | None = None

    async def post(self, body: bytes, signature: str | None = "auto") -> tuple[int, str, dict[str, str]]:
        headers = {"Content-Type": "application/json"}
        if signature == "auto":
            headers[SIGNATURE_HEADER] = reference_signature(SECRET.encode(), body)
        elif signature is not None:
            headers[SIGNATURE_HEADER] = signature
        assert self.session is not None
        async with self.session.post(self.server.make_url("/loop/webhooks"), data=body, headers=headers) as resp:
            return resp.status, await resp.text(), dict(resp.headers)


@pytest.fixture
def router() -> WebhookRouter:
    return WebhookRouter()


@pytest.fixture
async def receiver(router: WebhookRouter) -> AsyncIterator[Receiver]:
    rec = Receiver(router)
    await rec.server.start_server()
    async with aiohttp.ClientSession() as session:
        rec.session = session
        yield rec
    await rec.server.close()


def recording(router: WebhookRouter, topic: str = "return") -> list[WebhookEvent]:
    events: list[WebhookEvent] = []

    @router.on(topic)
    async def record(event: WebhookEvent) -> None:
        events.append(event)

    return events


async def test_valid_delivery_is_dispatched_and_answered_200(router: WebhookRouter, receiver: Receiver) -> None:
    events = recording(router)
    status, _, _ = await receiver.post(BODY, LITERAL_SIGNATURE)
    assert status == 200
    assert len(events) == 1
    assert isinstance(events[0], ReturnEvent)
    assert events[0].return_id == 1


async def test_event_nobody_handles_is_still_200(router: WebhookRouter, receiver: Receiver) -> None:
    events = recording(router, topic="label")
    status, _, _ = await receiver.post(BODY)
    assert status == 200
    assert events == []


@pytest.mark.parametrize(
    ("body", "signature"),
    [
        (BODY, None),
        (BODY, ""),
        (BODY, reference_signature(b"whsec_other", BODY)),
        (BODY.replace(b"1", b"2"), LITERAL_SIGNATURE),
        (BODY, "not-base64"),
    ],
)
async def test_bad_signature_is_401_and_nothing_dispatched(
    router: WebhookRouter, receiver: Receiver, body: bytes, signature: str | None
) -> None:
    events = recording(router)
    status, text, _ = await receiver.post(body, signature)
    assert status == 401
    assert "signature" in text
    assert events == []


async def test_signed_body_that_is_not_a_webhook_is_400(router: WebhookRouter, receiver: Receiver) -> None:
    events = recording(router)
    for body in (b"[]", b"hello", b'{"topic":"return"}'):
        status, _, _ = await receiver.post(body)
        assert status == 400
    assert events == []


async def test_retry_later_is_503_with_retry_after(router: WebhookRouter, receiver: Receiver) -> None:
    @router.on("return")
    async def busy(event: ReturnEvent) -> None:
        raise RetryLater(119.2)

    status, _, headers = await receiver.post(BODY)
    assert status == 503
    assert headers["Retry-After"] == "120"


async def test_handler_failure_is_500_without_details(
    router: WebhookRouter, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    @router.on("return", trigger="return.closed")
    async def broken(event: ReturnEvent) -> None:
        raise RuntimeError("database password is hunter2")

    with caplog.at_level(logging.ERROR, logger="loop_async.webhooks"):
        status, text, _ = await receiver.post(BODY)
    assert status == 500
    assert "hunter2" not in text
    assert "RuntimeError" not in text
    assert any(r.exc_info and "hunter2" in str(r.exc_info[1]) for r in caplog.records)


def test_handler_factory_refuses_an_empty_secret(router: WebhookRouter) -> None:
    with pytest.raises(ValueError, match="secret"):
        webhook_handler(router, "")


# -- end to end with the fake server ----------------------------------------------------------


def _first_allowed(link: Link) -> Any:
    """The first value the link's first field allows (the server always offers some here)."""
    allowed = link.fields[0].allowed_values
    assert allowed
    return allowed[0]


async def _submit_draft(loop: LoopClient, server: FakeLoopServer) -> int:
    """Build and submit a draft return through the navigator; returns the new return's id."""
    order = server.orders[0]
    nav = await loop.draft_returns.create(order.name, order.zip)
    nav = await nav.follow("add-returning-item", order_line_item_id=_first_allowed(nav.link("add-returning-item")))
    for link in nav.links.family("set-returning-item-return-reason").values():
        nav = await nav.follow_link(link, return_reason_id=_first_allowed(link))
    nav = await nav.follow("finalize-items")
    nav = await nav.follow("set-credit-type", credit_type=_first_allowed(nav.link("set-credit-type")))
    nav = await nav.follow("select-return-method", return_method_id=_first_allowed(nav.link("select-return-method")))
    nav = await nav.follow("submit-draft-return")
    assert nav.is_terminal
    return_id = nav.resource.draft_return.return_id
    assert isinstance(return_id, int)
    return return_id


@pytest.fixture
async def fake() -> AsyncIterator[FakeLoopServer]:
    async with FakeLoopServer(orders=3, webhook_secret=SECRET) as srv:
        yield srv


@pytest.fixture
async def fake_loop(fake: FakeLoopServer) -> AsyncIterator[LoopClient]:
    async with LoopClient(fake.api_key, base_url=fake.url, rate_limit=None, max_retries=0) as client:
        yield client


async def test_process_then_return_closed_webhook_end_to_end(
    fake: FakeLoopServer, fake_loop: LoopClient, router: WebhookRouter, receiver: Receiver
) -> None:
    hook_url = str(receiver.server.make_url("/loop/webhooks"))
    for trigger in ("return.created", "return.closed"):
        await fake_loop.webhooks.create("return", trigger, hook_url)
    created: asyncio.Future[ReturnEvent] = asyncio.get_running_loop().create_future()
    closed: asyncio.Future[ReturnEvent] = asyncio.get_running_loop().create_future()

    @router.on("return", trigger="return.created")
    async def on_created(event: ReturnEvent) -> None:
        created.set_result(event)

    @router.on("return", trigger="return.closed")
    async def on_closed(event: ReturnEvent) -> None:
        closed.set_result(event)

    return_id = await _submit_draft(fake_loop, fake)
    assert (await asyncio.wait_for(created, 10)).return_id == return_id
    assert (await fake_loop.returns.get(return_id=return_id)).state is ReturnState.OPEN

    result = await fake_loop.returns.process(return_id)
    assert result.queued
    event = await asyncio.wait_for(closed, 10)  # the outcome of the queued process
    assert event.return_id == return_id
    assert event.return_.state is ReturnState.CLOSED
    assert (await fake_loop.returns.get(return_id=return_id)).state is ReturnState.CLOSED
    await fake.wait_idle()
    assert [(d.trigger, d.status_code) for d in fake.webhook_deliveries] == [
        ("return.created", 200),
        ("return.closed", 200),
    ]


async def test_processing_failure_webhook_and_retry_later(
    fake: FakeLoopServer, fake_loop: LoopClient, router: WebhookRouter, receiver: Receiver
) -> None:
    hook_url = str(receiver.server.make_url("/loop/webhooks"))
    await fake_loop.webhooks.create("return.processing", "return.processing.failed", hook_url)
    failed: asyncio.Future[ReturnProcessingEvent] = asyncio.get_running_loop().create_future()
    attempts = 0

    @router.on("return.processing")
    async def on_failed(event: ReturnProcessingEvent) -> None:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise RetryLater(0)  # Loop delivers again; the fake server retries at once
        failed.set_result(event)

    return_id = fake.seed_return()
    fake.fail_processing(return_id, "Payment gateway unavailable")
    await fake_loop.returns.process(return_id)
    event = await asyncio.wait_for(failed, 10)
    assert event.return_id == return_id
    assert event.message == "Payment gateway unavailable"
    assert event.return_state is ReturnState.OPEN
    await fake.wait_idle()
    assert [(d.status_code, d.attempt) for d in fake.webhook_deliveries] == [(503, 1), (200, 2)]


# -- schema drift (issue 12, point 15) ---------------------------------------------------------


async def test_a_drifted_delivery_without_a_fallback_is_answered_200_and_logged(
    router: WebhookRouter, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    typed = typed_return_handler(router)
    with caplog.at_level(logging.INFO, logger="loop_async.webhooks"):
        status, _, _ = await receiver.post(DRIFTED)
    assert status == 200
    assert typed == []
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    text = warnings[0].getMessage()
    assert "return/return.closed" in text and "on_undecodable" in text and "$.id" in text


async def test_a_drifted_delivery_goes_to_the_fallback_over_loopback(
    router: WebhookRouter, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    typed = typed_return_handler(router)
    received: list[UnknownWebhookEvent] = []

    @router.on_undecodable()
    async def drifted(event: UnknownWebhookEvent) -> None:
        received.append(event)
        if len(received) == 2:
            raise RetryLater(30)  # the fallback may still ask for a redelivery

    with caplog.at_level(logging.WARNING, logger="loop_async.webhooks"):
        status, _, _ = await receiver.post(DRIFTED)
    assert status == 200
    assert typed == [] and [e.raw for e in received] == [json.loads(DRIFTED)]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    status, _, headers = await receiver.post(DRIFTED)
    assert status == 503 and headers["Retry-After"] == "30"
