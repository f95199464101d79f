"""Returns as the return-data endpoints (list, details) and webhooks send them.

Money in these objects arrives as **strings** ("12.50"): it decodes to ``Decimal``, never
``float``; the currency is the return's ``currency``. The model side of
:mod:`loop_async.resources.return_data` (the same concept at two layers).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import attrs

from loop_async.models.common import DecimalMoney
from loop_async.models.enums import ReturnState
from loop_async.models.warehouse import ConditionCategory, DispositionOutcome

__all__ = ["AsnRow", "Return", "ReturnExchange", "ReturnLineItem", "ReturnRefund", "ReturnsPage"]


@attrs.frozen(kw_only=True)
class ReturnLineItem:
    """An item of a return. Amounts are exact decimals in the return's currency."""

    id: int | None = None
    line_item_id: int | None = None
    provider_line_item_id: int | None = None
    product_id: int | None = None
    variant_id: int | None = None
    sku: str | None = None
    title: str | None = None
    price: Decimal | None = None
    discount: Decimal | None = None
    tax: Decimal | None = None
    refund: Decimal | None = None
    returned_at: datetime | None = None
    outcome: str | None = None
    reason: str | None = None
    parent_reason: str | None = None
    # Set once the item is graded / dispositioned (not documented on return objects: a guess).
    condition_category: ConditionCategory | None = None
    disposition_outcome: DispositionOutcome | None = None


@attrs.frozen(kw_only=True)
class ReturnRefund:
    """A refund issued for a return.

    Loop documents ``gateway``, ``amount``, ``currency``, ``provider_refund_id`` (the refund's
    id at the commerce provider) and ``provider``; ``id``, ``status`` and ``created_at`` are
    kept for payloads that carry them (not documented).
    """

    gateway: str | None = None
    amount: Decimal | None = None
    currency: str | None = None
    provider_refund_id: str | None = None
    provider: str | None = None
    id: int | None = None
    status: str | None = None
    created_at: datetime | None = None


@attrs.frozen(kw_only=True)
class ReturnExchange:
    """A new item sent in exchange."""

    id: int | None = None
    product_id: int | None = None
    variant_id: int | None = None
    sku: str | None = None
    title: str | None = None
    price: Decimal | None = None
    tax: Decimal | None = None
    total: Decimal | None = None


@attrs.frozen(kw_only=True)
class Return:
    """A return, as the return-data endpoints describe it."""

    id: int
    state: ReturnState | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    order_id: int | None = None
    order_name: str | None = None
    customer: str | None = None
    currency: str | None = None
    total: Decimal | None = None
    refund: Decimal | None = None
    gift_card: Decimal | None = None
    exchange_total: Decimal | None = None
    handling_fee: Decimal | None = None
    carrier: str | None = None
    tracking_number: str | None = None
    return_method: str | None = None
    line_items: tuple[ReturnLineItem, ...] = ()
    refunds: tuple[ReturnRefund, ...] = ()
    exchanges: tuple[ReturnExchange, ...] = ()

    def money(self, amount: Decimal | None) -> DecimalMoney | None:
        """``amount`` (one of this return's amounts) with the return's currency."""
        return None if amount is None else DecimalMoney(amount=amount, currency=self.currency)


@attrs.frozen(kw_only=True)
class ReturnsPage:
    """One page of the paginated returns list (``paginate=true``)."""

    returns: tuple[Return, ...] = ()
    next_page_url: str | None = None
    previous_page_url: str | None = None


@attrs.frozen(kw_only=True)
class AsnRow:
    """One row of the advanced shipping notice report: a returned line item and its package.

    The fields are the documented columns; any other column is kept in ``extra``. ``id`` is
    "the unique identifier associated with the ASN report", not documented as unique per row:
    identify a row by :attr:`key`, ``(id, return_line_item_id)``. Amounts are exact decimals.
    """

    id: int | None = None
    return_line_item_id: int | None = None
    order_id: int | None = None
    order_name: str | None = None
    order_number: str | None = None
    provider_order_number: str | None = None
    state: ReturnState | None = None
    customer_email: str | None = None
    title: str | None = None
    purchase_price: Decimal | None = None
    sku: str | None = None
    barcode: str | None = None
    carrier: str | None = None
    service: str | None = None
    label_status: str | None = None
    tracking_number: str | None = None
    integration_tracking_url: str | None = None
    restock_status: str | None = None
    currency: str | None = None
    label_updated_at: datetime | None = None
    label_url: str | None = None
    label_rate: Decimal | None = None
    closed_at: datetime | None = None
    updated_at: datetime | None = None
    created_at: datetime | None = None
    return_reason: str | None = None
    actioned_by: str | None = None
    return_method: str | None = None
    return_method_rma_code: str | None = None
    return_method_state: str | None = None
    date_delivered: datetime | None = None
    outcome: str | None = None
    scannable_id: str | None = None
    package_reference: str | None = None
    shipping_box_barcode: str | None = None
    provider_created_at: datetime | None = None
    destination_id: str | None = None
    destination_name: str | None = None
    extra: dict[str, Any] = attrs.field(factory=dict)

    @property
    def key(self) -> tuple[int | None, int | None]:
        """``(id, return_line_item_id)``: what identifies a row (``id`` alone may repeat)."""
        return (self.id, self.return_line_item_id)
