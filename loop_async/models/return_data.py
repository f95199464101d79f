"""Returns as the return-data endpoints (list, details) and webhooks send them.

Money in these objects arrives as **strings** ("12.50"): it decodes to ``Decimal``, never
``float``; the currency is the return's ``currency``.
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
    """A refund issued for a return."""

    id: int | None = None
    amount: Decimal | None = None
    currency: str | None = None
    gateway: str | None = None
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
    """One package row of the advanced shipping notice report. Unlisted columns are in ``extra``."""

    return_id: int | None = None
    order_name: str | None = None
    tracking_number: str | None = None
    carrier: str | None = None
    status: str | None = None
    sku: str | None = None
    quantity: int | None = None
    extra: dict[str, Any] = attrs.field(factory=dict)
