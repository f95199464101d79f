"""Webhook subscriptions and the events Loop delivers to them, one typed payload per topic.

Every event keeps the decoded JSON object it came from in ``raw`` (fields this SDK does not
model are there). A topic the SDK does not know decodes to :class:`UnknownWebhookEvent`.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, TypeAlias

import attrs

from loop_async.models._enum import OpenEnum
from loop_async.models.common import DecimalMoney
from loop_async.models.enums import ReturnState
from loop_async.models.return_data import Return, ReturnLineItem

__all__ = [
    "EVENT_TYPES",
    "GiftcardEvent",
    "LabelEvent",
    "RestockEvent",
    "ReturnEvent",
    "ReturnProcessingEvent",
    "UnknownWebhookEvent",
    "Webhook",
    "WebhookEvent",
    "WebhookStatus",
    "WebhookTopic",
    "WebhookTrigger",
]


class WebhookTopic(OpenEnum):
    """What a webhook is about (Loop's list is open: unknown topics keep their string)."""

    RETURN = "return"
    LABEL = "label"
    RESTOCK = "restock"
    GIFTCARD = "giftcard"
    HAPPY_RETURNS_SHIPMENT = "happy.returns.shipment"
    LABEL_REQUEST = "label.request"
    RETURN_PROCESSING = "return.processing"


class WebhookTrigger(OpenEnum):
    """The event that fired a webhook."""

    RETURN_CREATED = "return.created"
    RETURN_UPDATED = "return.updated"
    RETURN_CLOSED = "return.closed"
    LABEL_CREATED = "label.created"
    LABEL_UPDATED = "label.updated"
    RESTOCK_REQUESTED = "restock.requested"
    GIFTCARD_REQUESTED = "giftcard.requested"
    SHIPMENT_PROCESSED = "shipment.processed"
    RETURN_PROCESSING_FAILED = "return.processing.failed"


class WebhookStatus(OpenEnum):
    """Whether Loop delivers to a webhook subscription."""

    ACTIVE = "active"
    INACTIVE = "inactive"


@attrs.frozen(kw_only=True)
class Webhook:
    """A webhook subscription (``loop.webhooks``)."""

    id: int
    shop_id: int | None = None
    topic: WebhookTopic | None = None
    trigger: WebhookTrigger | None = None
    url: str | None = None
    status: WebhookStatus | None = None

    @property
    def active(self) -> bool:
        """Whether Loop delivers events to this subscription."""
        return self.status == WebhookStatus.ACTIVE


# The event classes share ``topic``, ``trigger`` and ``raw``; ``raw`` is filled by the converter
# with the whole JSON object, and left out of repr/eq (it duplicates the typed fields).


@attrs.frozen(kw_only=True)
class ReturnEvent:
    """Topic ``return`` (``return.created``, ``return.updated``, ``return.closed``).

    Loop sends the return object's fields at the top level, next to topic and trigger; they
    are decoded into :attr:`return_` (a :class:`~loop_async.models.Return`).
    """

    topic: WebhookTopic
    trigger: WebhookTrigger
    return_: Return
    raw: dict[str, Any] = attrs.field(factory=dict, repr=False, eq=False)

    @property
    def return_id(self) -> int:
        """The id of the return the event is about."""
        return self.return_.id


@attrs.frozen(kw_only=True)
class ReturnProcessingEvent:
    """Topic ``return.processing``: trigger ``return.processing.failed`` after a queued ``process``.

    ``return_state`` is the state the return stays in (``open`` or ``review``); ``message``
    says why (may be ``None``); ``source`` is ``warehouse``, ``admin``, ``api`` or ``None``.
    """

    topic: WebhookTopic
    trigger: WebhookTrigger
    return_id: int
    return_state: ReturnState | None = None
    message: str | None = None
    source: str | None = None
    raw: dict[str, Any] = attrs.field(factory=dict, repr=False, eq=False)


@attrs.frozen(kw_only=True)
class LabelEvent:
    """Topic ``label`` (``label.created``, ``label.updated``). ``label`` is Loop's label object as sent."""

    topic: WebhookTopic
    trigger: WebhookTrigger
    return_id: int | None = None
    label: dict[str, Any] = attrs.field(factory=dict)
    raw: dict[str, Any] = attrs.field(factory=dict, repr=False, eq=False)


@attrs.frozen(kw_only=True)
class RestockEvent:
    """Topic ``restock`` (``restock.requested``): the line items to put back in stock."""

    topic: WebhookTopic
    trigger: WebhookTrigger
    return_id: int | None = None
    line_items: tuple[ReturnLineItem, ...] = ()
    raw: dict[str, Any] = attrs.field(factory=dict, repr=False, eq=False)


@attrs.frozen(kw_only=True)
class GiftcardEvent:
    """Topic ``giftcard`` (``giftcard.requested``): an exact decimal ``amount`` and its currency."""

    topic: WebhookTopic
    trigger: WebhookTrigger
    return_id: int | None = None
    amount: Decimal | None = None
    currency: str | None = None
    raw: dict[str, Any] = attrs.field(factory=dict, repr=False, eq=False)

    @property
    def money(self) -> DecimalMoney | None:
        """``amount`` with its currency, or ``None`` when Loop sent no amount."""
        return None if self.amount is None else DecimalMoney(amount=self.amount, currency=self.currency)


@attrs.frozen(kw_only=True)
class UnknownWebhookEvent:
    """A topic this SDK does not model (yet), or a known one whose payload did not decode.

    ``raw`` holds the whole JSON object. ``decode_error`` says why a known topic's payload
    could not be typed (``None`` for an unknown topic): such an event is still delivered, so
    that a change in Loop's payload never loses it (Loop does not redeliver after a 4xx).
    """

    topic: WebhookTopic
    trigger: WebhookTrigger
    raw: dict[str, Any] = attrs.field(factory=dict, repr=False, eq=False)
    decode_error: str | None = None


#: Any decoded webhook event.
WebhookEvent: TypeAlias = (
    ReturnEvent | ReturnProcessingEvent | LabelEvent | RestockEvent | GiftcardEvent | UnknownWebhookEvent
)

#: The event class for each topic; any other topic decodes to :class:`UnknownWebhookEvent`.
EVENT_TYPES: Mapping[str, type[Any]] = {
    WebhookTopic.RETURN.value: ReturnEvent,
    WebhookTopic.RETURN_PROCESSING.value: ReturnProcessingEvent,
    WebhookTopic.LABEL.value: LabelEvent,
    WebhookTopic.RESTOCK.value: RestockEvent,
    WebhookTopic.GIFTCARD.value: GiftcardEvent,
}
