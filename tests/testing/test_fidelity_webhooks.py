"""Webhooks as Loop documents them: known-answer payloads, the fake's deliveries, retries, management.

The payloads in ``tests/data/loop-docs/`` are copied from Loop's documentation; the fake
server's deliveries go to a real receiver on loopback and are decoded by the SDK's models.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestServer

from loop_async import LoopClient
from loop_async.errors import NotFoundError, UnprocessableEntityError
from loop_async.models import (
    Address,
    GiftcardEvent,
    LabelEvent,
    LabelRequestEvent,
    LabelRequestParcel,
    LabelRequestProduct,
    LabelStatus,
    Money,
    RestockEvent,
    RestockItem,
    ReturnEvent,
    ReturnProcessingEvent,
    UnknownWebhookEvent,
    WebhookStatus,
    WebhookTopic,
    WebhookTrigger,
)
from loop_async.testing import FakeLoopServer
from loop_async.testing.handlers.webhook_subscriptions import WEBHOOK_TRIGGERS
from loop_async.testing.webhook_sender import LOOP_ATTEMPTS, WebhookDelivery
from loop_async.webhooks import parse_event, verify_signature

DOCS = Path(__file__).parent.parent / "data" / "loop-docs"
SECRET = "whsec_test"
UTC = timezone.utc


def doc(name: str) -> bytes:
    return (DOCS / name).read_bytes()


# -- known-answer payloads ---------------------------------------------------------------------


def test_label_created_as_documented() -> None:
    event = parse_event(doc("webhook-label-created.json"))
    assert isinstance(event, LabelEvent)
    assert event.topic is WebhookTopic.LABEL
    assert event.trigger is WebhookTrigger.LABEL_CREATED
    assert event.shop_id == 9876
    assert event.id == event.return_id == 12345  # ``id`` is the return id
    assert event.order_id == 1234567890
    assert event.provider_order_id == 1029384756
    assert event.carrier == "USPS"
    assert event.tracking_number == "28735625627856237856287"
    assert event.label_status is LabelStatus.IN_TRANSIT
    assert event.label_updated_at == datetime(2019, 4, 1, 12, 0, tzinfo=UTC)
    assert event.shipment_id == "6789998212"
    assert event.raw == json.loads(doc("webhook-label-created.json"))


def test_label_with_string_ids_as_in_the_older_example() -> None:
    event = parse_event(doc("webhook-label-updated-string-ids.json"))
    assert isinstance(event, LabelEvent)
    assert event.trigger is WebhookTrigger.LABEL_UPDATED
    assert (event.shop_id, event.return_id, event.order_id, event.provider_order_id) == (
        9876,
        12345,
        1234567890,
        1029384756,
    )
    assert event.label_updated_at == datetime(2019, 4, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("name", ["webhook-restock-requested.json", "webhook-restock-requested-string-ids.json"])
def test_restock_requested_as_documented(name: str) -> None:
    event = parse_event(doc(name))
    assert isinstance(event, RestockEvent)
    assert event.trigger is WebhookTrigger.RESTOCK_REQUESTED
    assert event.return_id == event.id == 12345
    assert (event.order_id, event.provider_order_id) == (1234567890, 1029384756)
    assert event.restock_items == (
        RestockItem(
            location_id=10123456789,
            variant_id=459875465,
            inventory_item_id=10987654321,
            available_adjustment=1,
            inventory_management="shopify",
        ),
    )


def test_restock_items_keyed_by_line_item_id() -> None:
    # An older page describes the items' "array key" as the Shopify order line item id.
    body = b'{"topic":"restock","trigger":"restock.requested","id":1,"restock_items":{"777":{"variant_id":5}}}'
    event = parse_event(body)
    assert isinstance(event, RestockEvent)
    assert event.restock_items == (RestockItem(variant_id=5, line_item_id=777),)


def test_giftcard_requested_as_documented() -> None:
    event = parse_event(doc("webhook-giftcard-requested.json"))
    assert isinstance(event, GiftcardEvent)
    assert event.trigger is WebhookTrigger.GIFTCARD_REQUESTED
    assert event.id == 12345
    assert event.total_credit_issued == Decimal("23.50")
    assert event.gift_card_subtotal == Decimal("25.00")
    assert event.gift_card_tax == Decimal("0.50")
    assert event.gift_card_bonus_credit == Decimal("1.00")
    for amount in (event.total_credit_issued, event.gift_card_subtotal, event.gift_card_tax):
        assert type(amount) is Decimal
    assert event.currency == "USD"
    assert event.return_id == "23456"  # a string, as documented
    assert (event.email, event.first_name, event.last_name) == ("eliza@example.com", "Eliza", "Strawberry")
    assert (event.external_order_id, event.external_order_name, event.external_order_number) == (
        1234567890,
        "#2234",
        1234,
    )
    assert event.total_credit is not None
    assert (event.total_credit.amount, event.total_credit.currency) == (Decimal("23.50"), "USD")
    assert not hasattr(event, "amount")


def test_giftcard_with_a_numeric_return_id_and_nulls() -> None:
    event = parse_event(doc("webhook-giftcard-requested-numeric-return-id.json"))
    assert isinstance(event, GiftcardEvent)
    assert (event.id, event.return_id, event.external_order_number) == (None, "23456", None)
    assert event.gift_card_bonus_credit == Decimal("1.00")


def test_label_request_issued_as_documented() -> None:
    event = parse_event(doc("webhook-label-request-issued.json"))
    assert isinstance(event, LabelRequestEvent)
    assert event.trigger is WebhookTrigger.LABEL_REQUEST_ISSUED
    assert (event.id, event.return_id, event.shop_id) == ("5fc3126e-68c5-45f8-81b5-35e3d67027c2", 1001, 50)
    assert event.created_at == datetime(2023, 11, 7, 5, 31, 56, tzinfo=UTC)
    assert event.addresses is not None
    assert event.addresses.origin == Address(
        name="Alice Returns",
        company="Example Co.",
        address1="123 Example Rd",
        address2="Apt A",
        city="Columbus",
        state="Ohio",
        zip="43215",
        country="United States",
        country_code="US",
        phone="12345678901",
    )
    assert event.addresses.destination is not None
    assert (event.addresses.destination.name, event.addresses.destination.address2) == (
        "My Domestic Warehouse",
        "Ste 100",
    )
    assert event.parcel == LabelRequestParcel(height=5, width=10.9, length=20.2, weight=65.9)
    assert event.products == (
        LabelRequestProduct(
            name="Green T-Shirt",
            sku="tshirt-g-2314-L",
            hs_code="61051000",
            country_of_origin="US",
            price=Money(amount=100, currency="USD"),
        ),
    )


@pytest.mark.parametrize(
    "trigger",
    [
        "ship-by-loop.services.requested",
        "ship-by-loop.purchase.requested",
        "ship-by-loop.cancellation.requested",
    ],
)
def test_ship_by_loop_triggers_are_known(trigger: str) -> None:
    event = parse_event(json.dumps({"topic": "ship-by-loop", "trigger": trigger, "x": 1}).encode())
    assert isinstance(event, UnknownWebhookEvent)
    assert event.trigger.is_known and event.topic.is_known
    assert event.raw["x"] == 1


def test_unknown_label_status_and_fields_do_not_break_the_decode() -> None:
    body = b'{"topic":"label","trigger":"label.teleported","id":3,"label_status":"in_orbit","new_field":[1]}'
    event = parse_event(body)
    assert isinstance(event, LabelEvent)
    assert event.label_status == "in_orbit" and not event.label_status.is_known  # type: ignore[union-attr]
    assert not event.trigger.is_known
    assert event.raw["new_field"] == [1]


# -- the fake's deliveries, decoded by the SDK --------------------------------------------------


@attrs.define
class Receiver:
    """Answers from a script (then 200) and keeps each raw body and its headers."""

    url: str = ""
    script: list[tuple[int, dict[str, str]]] = attrs.field(factory=list)
    received: list[tuple[dict[str, str], bytes]] = attrs.field(factory=list)

    def events(self) -> list[Any]:
        return [parse_event(body) for _, body in self.received]


@pytest_asyncio.fixture
async def receiver() -> AsyncIterator[Receiver]:
    state = Receiver()

    async def hook(request: web.Request) -> web.Response:
        state.received.append((dict(request.headers), await request.read()))
        status, headers = state.script.pop(0) if state.script else (200, {})
        return web.Response(status=status, headers=headers)

    app = web.Application()
    app.router.add_post("/hook", hook)
    async with TestServer(app, host="127.0.0.1") as server:
        state.url = str(server.make_url("/hook"))
        yield state


@pytest_asyncio.fixture
async def server() -> AsyncIterator[FakeLoopServer]:
    async with FakeLoopServer(orders=3) as srv:
        yield srv


@pytest_asyncio.fixture
async def loop(server: FakeLoopServer) -> AsyncIterator[LoopClient]:
    async with LoopClient(server.api_key, base_url=server.url, rate_limit=None, max_retries=0) as client:
        yield client


async def test_processing_sends_closed_restock_and_giftcard_as_documented(
    server: FakeLoopServer, loop: LoopClient, receiver: Receiver
) -> None:
    for topic, trigger in (
        ("return", "return.closed"),
        ("restock", "restock.requested"),
        ("giftcard", "giftcard.requested"),
    ):
        await loop.webhooks.create(topic, trigger, receiver.url)
    order = server.orders[0]
    items = order.eligible_line_items[:2]
    return_id = server.seed_return(order.name, line_item_ids=[i.id for i in items], credit_type="gift")
    await loop.returns.process(return_id)
    await server.wait_idle()
    events = {type(event): event for event in receiver.events()}
    assert len(receiver.received) == len(events) == 3
    closed, restock, gift = events[ReturnEvent], events[RestockEvent], events[GiftcardEvent]
    assert isinstance(closed, ReturnEvent)
    assert closed.return_id == return_id and closed.shop_id == 1 and closed.edited_at is not None
    assert isinstance(restock, RestockEvent)
    assert restock.return_id == return_id
    assert restock.order_id == order.id and restock.provider_order_id == order.provider_order_id
    assert [(i.variant_id, i.available_adjustment, i.inventory_management) for i in restock.restock_items] == [
        (i.variant_id, 1, "shopify") for i in items
    ]
    assert isinstance(gift, GiftcardEvent)
    total = sum((Decimal(i.price) for i in items), Decimal(0)) / 100
    assert gift.total_credit_issued == gift.gift_card_subtotal == total
    assert (gift.gift_card_tax, gift.gift_card_bonus_credit) == (Decimal("0.00"), Decimal("0.00"))
    assert gift.return_id == str(return_id)
    assert gift.external_order_name == order.name and gift.email == order.email
    for event in (closed, restock, gift):
        assert not isinstance(event, UnknownWebhookEvent)


async def test_label_webhook_is_flat_and_decodes(server: FakeLoopServer, loop: LoopClient, receiver: Receiver) -> None:
    await loop.webhooks.create("label", "label.updated", receiver.url)
    return_id = server.seed_return()
    server.set_label_status(return_id, "out_for_delivery")
    await server.wait_idle()
    [(_, body)] = receiver.received
    data = json.loads(body)
    assert "label" not in data and "return_id" not in data  # flat, the return id in ``id``
    event = parse_event(body)
    assert isinstance(event, LabelEvent)
    assert event.return_id == return_id
    assert event.label_status is LabelStatus.OUT_FOR_DELIVERY
    assert event.tracking_number and event.carrier and event.shipment_id
    assert event.label_updated_at is not None


async def test_bodies_escape_slashes_and_verify_only_over_the_raw_bytes(
    server: FakeLoopServer, loop: LoopClient, receiver: Receiver
) -> None:
    await loop.webhooks.create("return.processing", "return.processing.failed", receiver.url)
    return_id = server.seed_return()
    server.fail_processing(return_id, "Gateway https://pay.example/refunds/1 said 12/2026 is closed")
    await loop.returns.process(return_id)
    await server.wait_idle()
    [(headers, raw)] = receiver.received
    signature = headers["X-Loop-Signature"]
    # Loop's note on verification: "make sure slashes have been escaped".
    assert raw.count(b"\\/") == 5 and b"/" not in raw.replace(b"\\/", b"")
    assert verify_signature(SECRET, raw, signature)
    reencoded = json.dumps(json.loads(raw), separators=(",", ":")).encode()
    assert json.loads(reencoded) == json.loads(raw)  # the same JSON value ...
    assert not verify_signature(SECRET, reencoded, signature)  # ... but not the signed bytes
    event = parse_event(raw)
    assert isinstance(event, ReturnProcessingEvent) and event.return_id == return_id
    assert event.message == "Gateway https://pay.example/refunds/1 said 12/2026 is closed"


# -- delivery: Loop's count, backoff and Retry-After rule ---------------------------------------


async def test_six_attempts_with_exponential_backoff_and_jitter(receiver: Receiver) -> None:
    receiver.script = [(500, {})] * 10
    async with FakeLoopServer(orders=1, webhook_backoff=0.004) as server:
        async with LoopClient(server.api_key, base_url=server.url, rate_limit=None) as loop:
            await loop.webhooks.create("return", "return.closed", receiver.url)
            await loop.returns.close(server.seed_return())
            await server.wait_idle()
        deliveries = server.webhook_deliveries
    assert LOOP_ATTEMPTS == 6
    assert [(d.status_code, d.attempt) for d in deliveries] == [(500, n) for n in range(1, 7)]
    waits = [d.retry_in for d in deliveries[:-1]]
    for retry, wait in enumerate(waits, start=1):
        nominal = 0.004 * 2 ** (retry - 1)
        assert wait is not None and nominal / 2 <= wait <= nominal  # doubling, with jitter
    assert deliveries[-1].retry_in is None and deliveries[-1].failed
    assert len(receiver.received) == 6


async def test_retry_after_up_to_30_minutes_is_honoured(
    server: FakeLoopServer, loop: LoopClient, receiver: Receiver
) -> None:
    receiver.script = [(503, {"Retry-After": "1800"})]
    await loop.webhooks.create("return", "return.closed", receiver.url)
    await loop.returns.close(server.seed_return())
    await server.wait_idle()  # the fake waits webhook_max_retry_after at most; Loop would wait 30 min
    assert server.webhook_deliveries == [
        WebhookDelivery(receiver.url, "return", "return.closed", 503, 1, 1800.0),
        WebhookDelivery(receiver.url, "return", "return.closed", 200, 2, None),
    ]
    assert not server.webhook_deliveries[-1].failed


async def test_retry_after_above_30_minutes_fails_the_webhook(
    server: FakeLoopServer, loop: LoopClient, receiver: Receiver
) -> None:
    receiver.script = [(503, {"Retry-After": "1801"})]
    await loop.webhooks.create("return", "return.closed", receiver.url)
    await loop.returns.close(server.seed_return())
    await server.wait_idle()
    assert server.webhook_deliveries == [WebhookDelivery(receiver.url, "return", "return.closed", 503, 1, None)]
    assert server.webhook_deliveries[0].failed
    assert len(receiver.received) == 1


# -- management ---------------------------------------------------------------------------------


async def test_every_documented_trigger_can_be_subscribed(server: FakeLoopServer, loop: LoopClient) -> None:
    documented = {
        ("label", "label.requested"),
        ("label", "label.closed"),
        ("label.request", "label.request.issued"),
        ("label.request", "label.request.cancelled"),
        ("ship-by-loop", "ship-by-loop.services.requested"),
        ("ship-by-loop", "ship-by-loop.purchase.requested"),
        ("ship-by-loop", "ship-by-loop.cancellation.requested"),
    }
    for topic, trigger in sorted(documented):
        hook = await loop.webhooks.create(topic, trigger, "https://example.test/h")
        assert hook.trigger.is_known and str(hook.trigger) == trigger  # type: ignore[union-attr]
    assert {member.value for member in WebhookTrigger} == WEBHOOK_TRIGGERS


async def test_create_answers_201_and_status_defaults_to_inactive(loop: LoopClient) -> None:
    body = {"topic": "return", "trigger": "return.created", "url": "https://example.test/h"}
    response = await loop.request("POST", "webhooks", json=body)
    assert response.status == 201
    assert response.data["status"] == "inactive"
    hook = await loop.webhooks.create("return", "return.closed", "https://example.test/h")
    assert hook.status is WebhookStatus.ACTIVE  # the SDK always says which


async def test_put_without_topic_trigger_and_url_is_refused(server: FakeLoopServer, loop: LoopClient) -> None:
    hook = await loop.webhooks.create("return", "return.closed", "https://example.test/h")
    with pytest.raises(UnprocessableEntityError) as refused:
        await loop.request("PUT", f"webhooks/{hook.id}", json={"status": "inactive"})
    assert refused.value.code == "FAILED_TO_UPDATE_WEBHOOK"
    assert "topic is required" in refused.value.message
    assert server.webhooks[hook.id].status == "active"


async def test_update_of_one_field_sends_topic_trigger_and_url(server: FakeLoopServer, loop: LoopClient) -> None:
    hook = await loop.webhooks.create("label", "label.updated", "https://example.test/h")
    updated = await loop.webhooks.update(hook.id, active=False)
    assert (updated.topic, updated.trigger, updated.url, updated.status) == (
        WebhookTopic.LABEL,
        WebhookTrigger.LABEL_UPDATED,
        "https://example.test/h",
        WebhookStatus.INACTIVE,
    )
    stored = server.webhooks[hook.id]
    assert (stored.topic, stored.trigger, stored.url, stored.status) == (
        "label",
        "label.updated",
        "https://example.test/h",
        "inactive",
    )
    assert server.request_counts["GET /api/v1/webhooks"] == 1  # read ...
    assert server.request_counts["PUT /api/v1/webhooks/{webhook_id}"] == 1  # ... modify, write


async def test_update_with_all_three_fields_skips_the_read(server: FakeLoopServer, loop: LoopClient) -> None:
    hook = await loop.webhooks.create("return", "return.closed", "https://example.test/h")
    await loop.webhooks.update(hook.id, topic="return", trigger="return.updated", url="https://example.test/i")
    assert server.request_counts["GET /api/v1/webhooks"] == 0
    stored = server.webhooks[hook.id]
    assert (stored.trigger, stored.url, stored.status) == ("return.updated", "https://example.test/i", "active")


async def test_update_of_an_unknown_webhook_sends_no_put(server: FakeLoopServer, loop: LoopClient) -> None:
    with pytest.raises(NotFoundError, match="424242"):
        await loop.webhooks.update(424242, active=True)
    assert server.request_counts["PUT /api/v1/webhooks/{webhook_id}"] == 0
