"""Receiving webhooks: signatures, typed events, the router, and the aiohttp.web handler over loopback."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from loop_async import LoopClient
from loop_async.models import Link, ReturnState
from loop_async.models.webhook_events import WebhookTopic, WebhookTrigger
from loop_async.testing import FakeLoopServer
from loop_async.webhooks import (
    SIGNATURE_HEADER,
    GiftcardEvent,
    InvalidWebhookError,
    LabelEvent,
    RestockEvent,
    RetryLater,
    ReturnEvent,
    ReturnProcessingEvent,
    UnknownWebhookEvent,
    WebhookEvent,
    WebhookRouter,
    parse_event,
    verify_signature,
    webhook_handler,
)

SECRET = "whsec_test"
BODY = b'{"topic":"return","trigger":"return.closed","id":1}'
# Computed once with `openssl dgst -sha256 -hmac whsec_test -binary | base64`.
LITERAL_SIGNATURE = "j8yuq1wVdIJWLQGktfgie1tpngEeOM3r29M6rsinssY="


def reference_signature(secret: bytes, body: bytes) -> str:
    """Loop's signature, written out independently of the SDK."""
    return base64.b64encode(hmac.new(secret, body, hashlib.sha256).digest()).decode("ascii")


# -- verify_signature ----------------------------------------------------------------------


def test_literal_known_answer_vector() -> None:
    assert verify_signature(SECRET, BODY, LITERAL_SIGNATURE)
    assert verify_signature(SECRET.encode(), BODY, LITERAL_SIGNATURE.encode())


@pytest.mark.parametrize(
    ("secret", "body"),
    [
        (b"whsec_test", b""),
        (b"s3cr3t", '{"topic":"giftcard","amount":"12.50","note":"caf\u00e9 \u2713"}'.encode()),
        (bytes(range(64)), bytes(range(256)) * 4),
    ],
)
def test_computed_known_answer_vectors(secret: bytes, body: bytes) -> None:
    assert verify_signature(secret, body, reference_signature(secret, body))
    assert verify_signature(secret, bytearray(body), reference_signature(secret, body))


def test_tampered_body_is_rejected() -> None:
    assert not verify_signature(SECRET, BODY.replace(b'"id":1', b'"id":2'), LITERAL_SIGNATURE)
    assert not verify_signature(SECRET, BODY + b" ", LITERAL_SIGNATURE)


def test_wrong_secret_is_rejected() -> None:
    assert not verify_signature("whsec_other", BODY, LITERAL_SIGNATURE)
    assert not verify_signature("", BODY, reference_signature(b"", BODY))


@pytest.mark.parametrize("header", [None, "", b""])
def test_missing_header_is_rejected(header: str | bytes | None) -> None:
    assert not verify_signature(SECRET, BODY, header)


@pytest.mark.parametrize(
    "header",
    [
        " " + LITERAL_SIGNATURE,
        LITERAL_SIGNATURE + " ",
        LITERAL_SIGNATURE + "\n",
        LITERAL_SIGNATURE[:20] + " " + LITERAL_SIGNATURE[20:],
        "\t" + LITERAL_SIGNATURE,
    ],
)
def test_header_with_whitespace_is_rejected(header: str) -> None:
    assert not verify_signature(SECRET, BODY, header)


@pytest.mark.parametrize(
    "header",
    [
        LITERAL_SIGNATURE.rstrip("="),  # padding dropped
        LITERAL_SIGNATURE[:-2] + "Z=",  # non-canonical: differs only in padding bits, decodes to the same bytes
        base64.urlsafe_b64encode(b"\xfb" * 32).decode(),  # other alphabet
        hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest(),  # hex, not base64
        "sha256=" + LITERAL_SIGNATURE,
        "!!!!",
        "caf\u00e9",  # not ASCII
        LITERAL_SIGNATURE[:-4],
    ],
)
def test_wrong_base64_is_rejected(header: str) -> None:
    assert not verify_signature(SECRET, BODY, header)


def test_comparison_is_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    assert verify_signature(SECRET, BODY, LITERAL_SIGNATURE)
    assert not verify_signature(SECRET, BODY, "A" * 44)
    assert len(calls) == 2


def test_a_str_body_is_a_programming_error() -> None:
    with pytest.raises(TypeError, match="raw request bytes"):
        verify_signature(SECRET, BODY.decode(), LITERAL_SIGNATURE)  # type: ignore[arg-type]


# -- parse_event ---------------------------------------------------------------------------


def test_return_event_carries_a_typed_return() -> None:
    event = parse_event(
        b'{"topic":"return","trigger":"return.closed","id":42,"state":"closed","total":"19.99",'
        b'"currency":"EUR","line_items":[{"id":1,"price":"19.99"}],"brand_new":1}'
    )
    assert isinstance(event, ReturnEvent)
    assert event.trigger is WebhookTrigger.RETURN_CLOSED
    assert event.return_id == 42
    assert event.return_.state is ReturnState.CLOSED
    assert event.return_.total == Decimal("19.99")
    assert event.return_.line_items[0].price == Decimal("19.99")
    assert event.raw["brand_new"] == 1


def test_processing_failed_event() -> None:
    event = parse_event(
        b'{"topic":"return.processing","trigger":"return.processing.failed","return_id":7,'
        b'"return_state":"review","message":null,"source":"api"}'
    )
    assert event == ReturnProcessingEvent(
        topic=WebhookTopic.RETURN_PROCESSING,
        trigger=WebhookTrigger.RETURN_PROCESSING_FAILED,
        return_id=7,
        return_state=ReturnState.REVIEW,
        message=None,
        source="api",
    )


def test_label_restock_and_giftcard_events() -> None:
    # The field-by-field known-answer tests are in test_fidelity_webhooks.py.
    label = parse_event(b'{"topic":"label","trigger":"label.created","id":1,"label_status":"delivered"}')
    assert isinstance(label, LabelEvent)
    assert (label.return_id, label.label_status) == (1, "delivered")
    restock = parse_event(
        b'{"topic":"restock","trigger":"restock.requested","id":2,"restock_items":[{"variant_id":5}]}'
    )
    assert isinstance(restock, RestockEvent)
    assert [(i.variant_id, i.available_adjustment) for i in restock.restock_items] == [(5, None)]
    gift = parse_event(
        b'{"topic":"giftcard","trigger":"giftcard.requested","return_id":"3","total_credit_issued":"12.50",'
        b'"currency":"USD"}'
    )
    assert isinstance(gift, GiftcardEvent)
    assert gift.total_credit is not None
    assert (gift.total_credit.amount, gift.total_credit.currency) == (Decimal("12.50"), "USD")
    assert not isinstance(gift.total_credit_issued, float)


def test_unknown_topic_keeps_the_raw_dict() -> None:
    event = parse_event(b'{"topic":"happy.returns.shipment","trigger":"shipment.processed","box":{"id":9}}')
    assert isinstance(event, UnknownWebhookEvent)
    assert event.topic == "happy.returns.shipment"
    assert event.raw == {"topic": "happy.returns.shipment", "trigger": "shipment.processed", "box": {"id": 9}}


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"\xff\xfe",
        b"[1, 2]",
        b'{"trigger":"return.closed","id":1}',
        b'{"topic":"return","id":1}',
        b'{"topic":5,"trigger":"x"}',
    ],
)
def test_bodies_that_are_not_webhooks(body: bytes) -> None:
    with pytest.raises(InvalidWebhookError):
        parse_event(body)


@pytest.mark.parametrize(
    "body",
    [
        b'{"topic":"return","trigger":"return.closed"}',  # a return event without a return id
        b'{"topic":"giftcard","trigger":"giftcard.requested","total_credit_issued":"lots"}',
    ],
)
def test_known_topic_whose_payload_changed_shape_is_kept_untyped(body: bytes) -> None:
    # Loop never redelivers after a 4xx: a payload change must not lose the event.
    event = parse_event(body)
    assert isinstance(event, UnknownWebhookEvent)
    assert event.decode_error is not None
    assert event.raw == json.loads(body)


# -- router --------------------------------------------------------------------------------


async def test_router_dispatches_by_topic_and_trigger_in_order() -> None:
    router = WebhookRouter()
    seen: list[str] = []

    @router.on("return", trigger="return.closed")
    async def closed(event: ReturnEvent) -> None:
        seen.append(f"closed:{event.return_id}")

    @router.on(WebhookTopic.RETURN)
    async def any_return(event: ReturnEvent) -> None:
        seen.append(f"return:{event.trigger}")

    @router.on("return", trigger=WebhookTrigger.RETURN_CREATED)
    async def created(event: ReturnEvent) -> None:
        seen.append("created")

    @router.on_any()
    async def everything(event: WebhookEvent) -> None:
        seen.append(f"any:{event.topic}")

    ran = await router.dispatch(parse_event(BODY))
    assert ran == 3
    assert seen == ["closed:1", "return:return.closed", "any:return"]
    seen.clear()
    assert await router.dispatch(parse_event(b'{"topic":"label","trigger":"label.created"}')) == 1
    assert seen == ["any:label"]


async def test_router_with_no_match_runs_nothing() -> None:
    router = WebhookRouter()
    assert await router.dispatch(parse_event(BODY)) == 0


def test_router_rejects_bad_registrations() -> None:
    router = WebhookRouter()
    with pytest.raises(ValueError, match="topic"):
        router.on("")
    with pytest.raises(ValueError, match="trigger"):
        router.on("return", trigger="")
    with pytest.raises(TypeError):
        router.on("return")(42)  # type: ignore[arg-type]


def test_retry_later_validates_and_caps() -> None:
    assert RetryLater(0.2).header_value == "1"
    assert RetryLater(120).header_value == "120"
    assert RetryLater(10**6).header_value == "1800"
    for bad in (-1, float("nan"), float("inf"), True, "5"):
        with pytest.raises(ValueError, match="retry_after"):
            RetryLater(bad)  # type: ignore[arg-type]


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

# A signed "return" delivery whose payload no longer decodes as a ReturnEvent (no ``id``).
DRIFTED = b'{"topic":"return","trigger":"return.closed","return":{"id":1},"shop_id":9}'


def typed_return_handler(router: WebhookRouter) -> list[int]:
    """A handler written for ReturnEvent: it would fail (500, redelivered forever) on anything else."""
    seen: list[int] = []

    @router.on("return", trigger="return.closed")
    async def closed(event: ReturnEvent) -> None:
        seen.append(event.return_id)

    return seen


async def test_an_undecodable_event_skips_its_topic_handlers_and_reaches_the_fallback() -> None:
    router = WebhookRouter()
    typed = typed_return_handler(router)
    order: list[str] = []

    @router.on_undecodable()
    async def drifted(event: UnknownWebhookEvent) -> None:
        order.append(f"fallback:{event.raw['shop_id']}:{event.decode_error is not None}")

    @router.on_any()
    async def everything(event: WebhookEvent) -> None:
        order.append(f"any:{type(event).__name__}")

    event = parse_event(DRIFTED)
    assert router.handlers_for(event) == [drifted, everything]
    assert await router.dispatch(event) == 2
    assert typed == [] and order == ["fallback:9:True", "any:UnknownWebhookEvent"]
    # A well-formed event still goes to its typed handler, never to the fallback.
    order.clear()
    assert await router.dispatch(parse_event(BODY)) == 2
    assert typed == [1] and order == ["any:ReturnEvent"]


async def test_an_unknown_topic_still_reaches_its_own_handlers() -> None:
    # No typed class exists for it, so nobody expects one: it is not "undecodable".
    router = WebhookRouter()
    seen: list[UnknownWebhookEvent] = []

    @router.on("ship-by-loop")
    async def ship(event: UnknownWebhookEvent) -> None:
        seen.append(event)

    @router.on_undecodable()
    async def drifted(event: UnknownWebhookEvent) -> None:
        raise AssertionError("not a drifted event")

    assert await router.dispatch(parse_event(b'{"topic":"ship-by-loop","trigger":"x.requested"}')) == 1
    assert len(seen) == 1 and seen[0].decode_error is None


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
