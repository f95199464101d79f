"""The draft-return envelope and everything in it, as in Loop's draft-returns reference.

Money here is integer minor units (Loop sends integers). Every field that may be absent or
``null`` defaults to ``None`` (or an empty tuple), so a sparse or growing payload decodes.
"""

from __future__ import annotations

from typing import Any

import attrs

from loop_async.models.common import Address, ApiErrorEntry, Customer, Money
from loop_async.models.enums import (
    CreditType,
    DraftReturnState,
    ExchangeType,
    IneligibilityCode,
    ProcessingType,
    Resolution,
    ReturnMethodType,
    ReturnType,
    StoreCreditType,
)
from loop_async.models.links import Link

__all__ = [
    "CartItem",
    "CartProduct",
    "ChildReturnReason",
    "CreditTotals",
    "DraftReturn",
    "DraftReturnContext",
    "DraftReturnResponse",
    "EligibleItem",
    "Fees",
    "IneligibleItem",
    "Order",
    "OrderLineItem",
    "ProcessingTypeOption",
    "ProductVariant",
    "ReturnMethod",
    "ReturnPolicy",
    "ReturnReason",
    "ReturningItem",
    "ReturningItemReason",
    "Totals",
    "UserInput",
]


@attrs.frozen(kw_only=True)
class ReturnPolicy:
    """The return policy applied to a draft return."""

    id: int
    name: str | None = None
    return_window_days: int | None = None


@attrs.frozen(kw_only=True)
class Fees:
    """Fees on a return, by kind."""

    applied: Money | None = None
    refund: Money | None = None
    credit: Money | None = None
    exchange: Money | None = None


@attrs.frozen(kw_only=True)
class CreditTotals:
    """Credit amounts of a return."""

    remaining_credit: Money | None = None
    refund_credit: Money | None = None
    store_credit: Money | None = None


@attrs.frozen(kw_only=True)
class Totals:
    """Totals of a draft return, recomputed by Loop on every change."""

    return_total: Money | None = None
    new_item_total: Money | None = None
    total_bonus_offered: Money | None = None
    bonus_used: Money | None = None
    fees: Fees | None = None
    amount_due: Money | None = None
    credit: CreditTotals | None = None
    net: Money | None = None


@attrs.frozen(kw_only=True)
class ReturningItemReason:
    """The reason chosen for a returning item."""

    id: int
    name: str | None = None
    comment: str | None = None


@attrs.frozen(kw_only=True)
class UserInput:
    """An answer to a merchant question about a returning item (the value may be any JSON)."""

    id: int
    prompt: str | None = None
    value: Any = None


@attrs.frozen(kw_only=True)
class ReturningItem:
    """An item being returned in a draft return."""

    id: int
    order_line_item_id: int
    return_type: ReturnType | None = None
    resolution: Resolution | None = None
    reason: ReturningItemReason | None = None
    user_input: tuple[UserInput, ...] = ()
    image_uploads: tuple[str, ...] = ()
    has_exchange_item: bool = False


@attrs.frozen(kw_only=True)
class CartItem:
    """An item in the cart of a draft return (an exchange or shop-now item)."""

    id: int
    variant_id: int | None = None
    product_id: int | None = None
    sku: str | None = None
    title: str | None = None
    variant_title: str | None = None
    product_type: str | None = None
    price: Money | None = None
    price_currency_code: str | None = None
    image: str | None = None
    exchange_type: ExchangeType | None = None
    exchange_for_returning_item_id: int | None = None


@attrs.frozen(kw_only=True)
class DraftReturn:
    """A return being built. ``return_id`` is set once it is submitted."""

    id: int
    state: DraftReturnState
    return_id: int | None = None
    currency: str | None = None
    language: str | None = None
    credit_type: CreditType | None = None
    store_credit_type: StoreCreditType | None = None
    processing_type: ProcessingType | None = None
    return_policy: ReturnPolicy | None = None
    totals: Totals | None = None
    customer: Customer | None = None
    shipping_address: Address | None = None
    returning_items: tuple[ReturningItem, ...] = ()
    cart_items: tuple[CartItem, ...] = ()
    selected_return_method: str | None = None
    payment_intent: Any = None
    return_policy_accepted: bool | None = None


@attrs.frozen(kw_only=True)
class OrderLineItem:
    """A line item of the order a draft return is for. ``price`` is in minor units."""

    id: int
    provider_product_id: int | None = None
    provider_variant_id: int | None = None
    title: str | None = None
    variant_title: str | None = None
    price: int | None = None
    image: str | None = None


@attrs.frozen(kw_only=True)
class Order:
    """The order a draft return is for."""

    id: int
    currency: str | None = None
    line_items: tuple[OrderLineItem, ...] = ()


@attrs.frozen(kw_only=True)
class EligibleItem:
    """A line item that may be added to the draft return."""

    order_line_item_id: int


@attrs.frozen(kw_only=True)
class IneligibleItem:
    """A line item that may not be returned, and why."""

    order_line_item_id: int
    ineligibility_code: IneligibilityCode | None = None


@attrs.frozen(kw_only=True)
class ChildReturnReason:
    """A more specific reason under a return reason."""

    id: int
    name: str | None = None


@attrs.frozen(kw_only=True)
class ReturnReason:
    """A return reason the customer may choose."""

    id: int
    name: str | None = None
    requires_comment: bool = False
    child_reasons: tuple[ChildReturnReason, ...] = ()


@attrs.frozen(kw_only=True)
class ReturnMethod:
    """A return shipping method. ``cost`` is in minor units (0 is free)."""

    id: int
    name: str | None = None
    type: ReturnMethodType | None = None
    cost: int | None = None
    carrier: str | None = None


@attrs.frozen(kw_only=True)
class ProductVariant:
    """A variant of a product offered for exchange. ``price`` is in minor units."""

    id: int
    title: str | None = None
    sku: str | None = None
    price: int | None = None
    available: bool = False


@attrs.frozen(kw_only=True)
class CartProduct:
    """A product offered for exchange or shop-now."""

    id: int
    title: str | None = None
    product_type: str | None = None
    image: str | None = None
    variants: tuple[ProductVariant, ...] = ()


@attrs.frozen(kw_only=True)
class DraftReturnContext:
    """What the next actions need: eligible items, reasons, methods, credit types, products."""

    order: Order | None = None
    items_eligible_to_return: tuple[EligibleItem, ...] = ()
    items_not_eligible_to_return: tuple[IneligibleItem, ...] = ()
    return_reasons: tuple[ReturnReason, ...] = ()
    return_methods: tuple[ReturnMethod, ...] = ()
    available_credit_types: tuple[CreditType, ...] = ()
    cart_products: tuple[CartProduct, ...] = ()


@attrs.frozen(kw_only=True)
class ProcessingTypeOption:
    """A processing type the draft may be set to (HAL-FORMS ``_embedded.processing_type_options``).

    Loop documents the list, not the shape of its items: ``type`` and ``name`` are a guess.
    """

    type: ProcessingType | None = None
    name: str | None = None


@attrs.frozen(kw_only=True)
class DraftReturnResponse:
    """Every draft-return answer: the draft, its context, the links available now, errors.

    A non-empty ``errors`` on a 2xx is a partial failure: the data is still the new state.
    From ``2026-10`` (HAL-FORMS) the envelope also carries ``processing_type_options`` (from
    ``_embedded``) and ``client_application`` (how the client should identify itself; its
    shape is not documented, so it is kept as the raw JSON).
    """

    draft_return: DraftReturn
    context: DraftReturnContext | None = None
    links: tuple[Link, ...] = ()
    errors: tuple[ApiErrorEntry, ...] = ()
    processing_type_options: tuple[ProcessingTypeOption, ...] = ()
    client_application: Any = None
