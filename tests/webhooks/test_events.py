"""parse_event: bodies decoded into the typed events, and bodies that are not webhooks."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from loop_async.models import ReturnState
from loop_async.models.webhook_events import WebhookTopic, WebhookTrigger
from loop_async.webhooks import (
    GiftcardEvent,
    InvalidWebhookError,
    LabelEvent,
    RestockEvent,
    ReturnEvent,
    ReturnProcessingEvent,
    UnknownWebhookEvent,
    parse_event,
)

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
