"""Webhook subscriptions and the events Loop delivers to them, one typed payload per topic.

Every event keeps the decoded JSON object it came from in ``raw`` (fields this SDK does not
model are there). A topic the SDK does not know decodes to :class:`UnknownWebhookEvent`.

The payloads follow Loop's webhook reference (label, restock, gift card, return,
return.processing). Loop's own examples send the same id sometimes as a number and sometimes
as a string (``"id": "12345"``), so ids are :data:`LooseInt`: a JSON integer or a string of
digits, decoded to ``int``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, NewType, TypeAlias

import attrs

from loop_async.models._open_enum import OpenEnum
from loop_async.models.common import Address, DecimalMoney, Money
from loop_async.models.enums import ReturnState
from loop_async.models.return_data import Return

__all__ = [
    "EVENT_TYPES",
    "GiftcardEvent",
    "LabelEvent",
    "LabelRequestAddresses",
    "LabelRequestEvent",
    "LabelRequestParcel",
    "LabelRequestProduct",
    "LabelStatus",
    "LooseInt",
    "RestockEvent",
    "RestockItem",
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
    #: A guess: Loop documents the Ship by Loop triggers but not their topic's name.
    SHIP_BY_LOOP = "ship-by-loop"


class WebhookTrigger(OpenEnum):
    """The event that fired a webhook."""

    RETURN_CREATED = "return.created"
    RETURN_UPDATED = "return.updated"
    RETURN_CLOSED = "return.closed"
    LABEL_CREATED = "label.created"
    LABEL_UPDATED = "label.updated"
    LABEL_REQUESTED = "label.requested"
    LABEL_CLOSED = "label.closed"
    LABEL_REQUEST_ISSUED = "label.request.issued"
    LABEL_REQUEST_CANCELLED = "label.request.cancelled"
    RESTOCK_REQUESTED = "restock.requested"
    GIFTCARD_REQUESTED = "giftcard.requested"
    SHIPMENT_PROCESSED = "shipment.processed"
    RETURN_PROCESSING_FAILED = "return.processing.failed"
    SHIP_BY_LOOP_SERVICES_REQUESTED = "ship-by-loop.services.requested"
    SHIP_BY_LOOP_PURCHASE_REQUESTED = "ship-by-loop.purchase.requested"
    SHIP_BY_LOOP_CANCELLATION_REQUESTED = "ship-by-loop.cancellation.requested"


class LabelStatus(OpenEnum):
    """A label's shipment status, as EasyPost reports it (``N/A``: no status yet)."""

    NOT_AVAILABLE = "N/A"
    PRE_TRANSIT = "pre_transit"
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERED = "delivered"
    ERROR = "error"
    FAILURE = "failure"


#: An integer id that Loop may send as a JSON number or as a string of digits.
LooseInt = NewType("LooseInt", int)


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

    Loop sends the return object's fields at the top level, next to topic, trigger, ``shop_id``
    and ``edited_at``; they are decoded into :attr:`return_` (a :class:`~loop_async.models.Return`).
    """

    topic: WebhookTopic
    trigger: WebhookTrigger
    return_: Return
    shop_id: LooseInt | None = None
    edited_at: datetime | None = None
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
    """Topic ``label`` (``label.created``, ``label.updated``, ``label.requested``, ``label.closed``).

    Loop sends the label's fields flat: ``id`` is the **return** id (also :attr:`return_id`),
    ``order_id`` Loop's order id, ``provider_order_id`` Shopify's, ``shipment_id`` Loop's id of
    the shipment.
    """

    topic: WebhookTopic
    trigger: WebhookTrigger
    id: LooseInt | None = None
    shop_id: LooseInt | None = None
    order_id: LooseInt | None = None
    provider_order_id: LooseInt | None = None
    carrier: str | None = None
    tracking_number: str | None = None
    label_status: LabelStatus | None = None
    label_updated_at: datetime | None = None
    shipment_id: str | None = None
    raw: dict[str, Any] = attrs.field(factory=dict, repr=False, eq=False)

    @property
    def return_id(self) -> int | None:
        """The id of the return the label is for (Loop calls it ``id``)."""
        return self.id


@attrs.frozen(kw_only=True)
class LabelRequestAddresses:
    """Where a requested label ships from (the customer) and to (the destination)."""

    origin: Address | None = None
    destination: Address | None = None


@attrs.frozen(kw_only=True)
class LabelRequestParcel:
    """The parcel's dimensions and weight (Loop does not document the units)."""

    height: float | None = None
    width: float | None = None
    length: float | None = None
    weight: float | None = None


@attrs.frozen(kw_only=True)
class LabelRequestProduct:
    """A product in a requested label's parcel, for customs; ``price`` is in minor units."""

    name: str | None = None
    sku: str | None = None
    hs_code: str | None = None
    country_of_origin: str | None = None
    price: Money | None = None


@attrs.frozen(kw_only=True)
class LabelRequestEvent:
    """Topic ``label.request`` (``label.request.issued``, ``label.request.cancelled``).

    Loop asks a label provider for a shipping label: ``id`` is Loop's label request id (a
    string, a UUID in Loop's example), ``return_id`` the return it is for.
    """

    topic: WebhookTopic
    trigger: WebhookTrigger
    id: str | None = None
    return_id: LooseInt | None = None
    shop_id: LooseInt | None = None
    created_at: datetime | None = None
    addresses: LabelRequestAddresses | None = None
    parcel: LabelRequestParcel | None = None
    products: tuple[LabelRequestProduct, ...] = ()
    raw: dict[str, Any] = attrs.field(factory=dict, repr=False, eq=False)


@attrs.frozen(kw_only=True)
class RestockItem:
    """One inventory adjustment of a ``restock`` event (Shopify's location, variant, inventory item).

    ``line_item_id`` is set when Loop keys ``restock_items`` by Shopify order line item id
    (an object instead of a list, as an older page of its reference shows).
    """

    location_id: LooseInt | None = None
    variant_id: LooseInt | None = None
    inventory_item_id: LooseInt | None = None
    available_adjustment: LooseInt | None = None
    inventory_management: str | None = None
    line_item_id: LooseInt | None = None


@attrs.frozen(kw_only=True)
class RestockEvent:
    """Topic ``restock`` (``restock.requested``): the inventory to put back, per Shopify variant.

    ``id`` is the **return** id (also :attr:`return_id`).
    """

    topic: WebhookTopic
    trigger: WebhookTrigger
    id: LooseInt | None = None
    shop_id: LooseInt | None = None
    order_id: LooseInt | None = None
    provider_order_id: LooseInt | None = None
    restock_items: tuple[RestockItem, ...] = ()
    raw: dict[str, Any] = attrs.field(factory=dict, repr=False, eq=False)

    @property
    def return_id(self) -> int | None:
        """The id of the return being restocked (Loop calls it ``id``)."""
        return self.id


@attrs.frozen(kw_only=True)
class GiftcardEvent:
    """Topic ``giftcard`` (``giftcard.requested``): store credit to issue with a third-party provider.

    ``id`` is Loop's gift card id (``None`` for an automatic out-of-stock gift card). The amounts
    are exact decimals in ``currency``: ``total_credit_issued`` is the card's value,
    ``gift_card_subtotal`` the value before tax and bonus. ``return_id`` is a string, as Loop
    documents it. There is no ``amount`` field.
    """

    topic: WebhookTopic
    trigger: WebhookTrigger
    id: LooseInt | None = None
    total_credit_issued: Decimal | None = None
    gift_card_subtotal: Decimal | None = None
    gift_card_tax: Decimal | None = None
    gift_card_bonus_credit: Decimal | None = None
    currency: str | None = None
    return_id: str | None = None
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    external_order_id: LooseInt | None = None
    external_order_name: str | None = None
    external_order_number: LooseInt | None = None
    raw: dict[str, Any] = attrs.field(factory=dict, repr=False, eq=False)

    def money(self, amount: Decimal | None) -> DecimalMoney | None:
        """``amount`` (one of this event's amounts) with the event's currency."""
        return None if amount is None else DecimalMoney(amount=amount, currency=self.currency)

    @property
    def total_credit(self) -> DecimalMoney | None:
        """:attr:`total_credit_issued` with its currency, or ``None`` when Loop sent none."""
        return self.money(self.total_credit_issued)


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
    ReturnEvent
    | ReturnProcessingEvent
    | LabelEvent
    | LabelRequestEvent
    | RestockEvent
    | GiftcardEvent
    | UnknownWebhookEvent
)

#: The event class for each topic; any other topic decodes to :class:`UnknownWebhookEvent`.
EVENT_TYPES: Mapping[str, type[Any]] = {
    WebhookTopic.RETURN.value: ReturnEvent,
    WebhookTopic.RETURN_PROCESSING.value: ReturnProcessingEvent,
    WebhookTopic.LABEL.value: LabelEvent,
    WebhookTopic.LABEL_REQUEST.value: LabelRequestEvent,
    WebhookTopic.RESTOCK.value: RestockEvent,
    WebhookTopic.GIFTCARD.value: GiftcardEvent,
}
