"""The fake server's webhook payloads, in the shapes Loop's webhook reference documents.

``label`` and ``restock`` are flat objects whose ``id`` is the **return** id; ``giftcard``
carries its amounts as decimal strings and ``return_id`` as a string; ``return`` is the return
object with ``shop_id`` and ``edited_at`` added. Topic and trigger are added by the dispatcher.
Loop's ids for the shipment, the Shopify location and inventory items are not Loop's data
here: the fake derives stable ones from its own ids.
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from loop_async.testing.catalog import SHOP_ID
from loop_async.testing.return_objects import render_return
from loop_async.testing.store import FakeReturn, minor_to_decimal

__all__ = ["LOCATION_ID", "giftcard_payload", "label_payload", "restock_payload", "return_payload"]

#: The single Shopify location the fake restocks to.
LOCATION_ID = 10_123_456_789


def _iso(value: datetime) -> str:
    # Loop's examples: "2019-04-01T12:00:00.000Z".
    utc = value.astimezone(timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def return_payload(ret: FakeReturn, edited_at: datetime) -> dict[str, Any]:
    """Topic ``return``: the return object, plus ``shop_id`` and ``edited_at``."""
    return {**render_return(ret), "shop_id": SHOP_ID, "edited_at": _iso(edited_at)}


def label_payload(ret: FakeReturn) -> dict[str, Any]:
    """Topic ``label``: the return's label, flat."""
    return {
        "shop_id": SHOP_ID,
        "id": ret.id,
        "order_id": ret.order.id,
        "provider_order_id": ret.order.provider_order_id,
        "carrier": "UPS",
        "tracking_number": f"1Z{ret.id:012d}",
        "label_status": ret.label_status or "N/A",
        "label_updated_at": _iso(ret.label_updated_at or ret.updated_at),
        "shipment_id": str(6_789_000_000 + ret.id),
    }


def restock_payload(ret: FakeReturn) -> dict[str, Any]:
    """Topic ``restock``: one inventory adjustment per returned item."""
    return {
        "shop_id": SHOP_ID,
        "id": ret.id,
        "order_id": ret.order.id,
        "provider_order_id": ret.order.provider_order_id,
        "restock_items": [
            {
                "location_id": LOCATION_ID,
                "variant_id": item.line_item.variant_id,
                "inventory_item_id": 10_000_000_000 + item.line_item.id,
                "available_adjustment": 1,
                "inventory_management": "shopify",
            }
            for item in ret.line_items
        ],
    }


def giftcard_payload(ret: FakeReturn, gift_card_id: int | None) -> dict[str, Any]:
    """Topic ``giftcard``: the store credit of a processed return, amounts as decimal strings."""
    subtotal = minor_to_decimal(ret.total)
    zero = Decimal("0.00")
    order = ret.order
    number = order.name.lstrip("#")
    return {
        "id": gift_card_id,
        "total_credit_issued": str(subtotal),
        "gift_card_subtotal": str(subtotal),
        "gift_card_tax": str(zero),
        "gift_card_bonus_credit": str(zero),
        "currency": order.currency,
        "return_id": str(ret.id),
        "email": order.email,
        "first_name": "Customer",
        "last_name": number,
        "external_order_id": order.provider_order_id,
        "external_order_name": order.name,
        "external_order_number": int(number) if number.isdigit() else None,
    }
