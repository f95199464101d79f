"""Loop's return object, as the return-data endpoints and the ``return`` webhook send it.

Written by the fake's own code (money as decimal strings, times in ISO 8601), never through
the SDK's models or converter: the SDK's decoding is tested against it, not with it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from loop_async.testing.store import FakeReturn, FakeReturnLineItem, minor_to_decimal

__all__ = ["render_return"]


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _line_item(ret: FakeReturn, item: FakeReturnLineItem) -> dict[str, Any]:
    closed = ret.state == "closed"
    price = str(minor_to_decimal(item.line_item.price))
    return {
        "id": item.id,
        "line_item_id": item.line_item.id,
        "provider_line_item_id": None,
        "product_id": item.line_item.product_id,
        "variant_id": item.line_item.variant_id,
        "sku": item.line_item.sku,
        "title": item.line_item.title,
        "price": price,
        "discount": str(minor_to_decimal(0)),
        "tax": str(minor_to_decimal(0)),
        "refund": price if closed and item.outcome == "refund" else None,
        "returned_at": _time(ret.updated_at) if closed else None,
        "outcome": item.outcome,
        "reason": item.reason,
        "parent_reason": None,
        "condition_category": item.condition_category,
        "disposition_outcome": item.disposition_outcome,
    }


def render_return(ret: FakeReturn) -> dict[str, Any]:
    """A stored return as Loop's JSON object."""
    total = str(minor_to_decimal(ret.total))
    zero = str(minor_to_decimal(0))
    refunds: list[dict[str, Any]] = []
    if ret.state == "closed" and ret.credit_type == "refund" and ret.line_items:
        # The documented fields only.
        refunds.append(
            {
                "gateway": "shopify_payments",
                "amount": total,
                "currency": ret.order.currency,
                "provider_refund_id": str(8_800_000_000 + ret.id),
                "provider": "shopify",
            }
        )
    return {
        "id": ret.id,
        "state": ret.state,
        "created_at": _time(ret.created_at),
        "updated_at": _time(ret.updated_at),
        "order_id": ret.order.id,
        "order_name": ret.order.name,
        "customer": ret.order.email,
        "currency": ret.order.currency,
        "total": total,
        "refund": total if ret.credit_type == "refund" else zero,
        "gift_card": total if ret.credit_type == "gift" else zero,
        "exchange_total": total if ret.credit_type == "exchange" else zero,
        "handling_fee": zero,
        "carrier": "UPS",
        "tracking_number": f"1Z{ret.id:012d}",
        "return_method": ret.return_method,
        "line_items": [_line_item(ret, item) for item in ret.line_items],
        "refunds": refunds,
        "exchanges": [],
    }
