"""The JSON objects of a draft-return answer: ``draft_return``, ``context`` and the totals.

Written by the fake's own code in the shapes of Loop's draft-returns reference (money as
integer minor units), never through the SDK's models or converter. The totals rules are in
``docs/testing.md`` ("Draft returns").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from loop_async.testing.catalog import CART_PRODUCTS, RETURN_METHODS, RETURN_REASONS
from loop_async.testing.drafts.states import REASON_NAMES, credit_types
from loop_async.testing.error_bodies import validation_error
from loop_async.testing.store import FakeDraft, Store

__all__ = ["ADDRESS_KEYS", "context_json", "draft_return_json", "normalize_address", "totals_json"]

#: The keys of Loop's address object, in its order.
ADDRESS_KEYS = ("name", "company", "address1", "address2", "city", "state", "zip", "country", "country_code", "phone")


def normalize_address(raw: Mapping[str, Any]) -> dict[str, str | None]:
    """The address object with exactly :data:`ADDRESS_KEYS`; numbers (a zip) become text."""
    address: dict[str, str | None] = {}
    for key in ADDRESS_KEYS:
        value = raw.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)
        if value is not None and not isinstance(value, str):
            raise validation_error({f"address.{key}": [f"The address {key} must be a string."]})
        address[key] = value
    return address


def _money(amount: int, currency: str, *, key: str = "currency") -> dict[str, Any]:
    return {"amount": amount, key: currency}


def totals_json(store: Store, draft: FakeDraft, *, currency_key: str = "currency") -> dict[str, Any]:
    """Totals in minor units, recomputed from the draft; ``currency_key`` names the currency's key."""
    cur = draft.order.currency

    def money(amount: int) -> dict[str, Any]:
        return _money(amount, cur, key=currency_key)

    return_total = sum(item.line_item.price for item in draft.returning_items)
    new_item_total = 0
    for cart_item in draft.cart_items:
        found = store.variant(cart_item.variant_id)
        new_item_total += found[4] if found else 0
    offered = return_total // 10
    bonus_used = offered if draft.credit_type == "gift" else 0
    fee = next((m[3] for m in RETURN_METHODS if m[0] == draft.return_method_id), 0)
    value = return_total + bonus_used - fee
    net = max(0, value - new_item_total)
    return {
        "return_total": money(return_total),
        "new_item_total": money(new_item_total),
        "total_bonus_offered": money(offered),
        "bonus_used": money(bonus_used),
        "fees": {
            "applied": money(fee),
            "refund": money(fee if draft.credit_type == "refund" else 0),
            "credit": money(fee if draft.credit_type == "gift" else 0),
            "exchange": money(fee if draft.credit_type == "exchange" else 0),
        },
        "amount_due": money(max(0, new_item_total - value)),
        "credit": {
            "remaining_credit": money(net),
            "refund_credit": money(net if draft.credit_type == "refund" else 0),
            "store_credit": money(net if draft.credit_type == "gift" else 0),
        },
        "net": money(net),
    }


def _returning_items(draft: FakeDraft) -> list[dict[str, Any]]:
    items = []
    for item in draft.returning_items:
        reason = None
        if item.reason_id is not None:
            reason = {"id": item.reason_id, "name": REASON_NAMES[item.reason_id], "comment": item.reason_comment}
        items.append(
            {
                "id": item.id,
                "order_line_item_id": item.line_item.id,
                "return_type": "exchange" if item.exchange_variant_id else "credit",
                "resolution": "return",
                "reason": reason,
                "user_input": [{"id": k, "prompt": None, "value": v} for k, v in item.user_input.items()],
                "image_uploads": [],
                "has_exchange_item": item.exchange_variant_id is not None,
            }
        )
    return items


def _cart_items(store: Store, draft: FakeDraft) -> list[dict[str, Any]]:
    cur = draft.order.currency
    cart = []
    for cart_item in draft.cart_items:
        product_id, vid, title, sku, price, _ = store.variant(cart_item.variant_id) or (0, 0, "", "", 0, False)
        cart.append(
            {
                "id": cart_item.id,
                "variant_id": vid,
                "product_id": product_id,
                "sku": sku,
                "title": title,
                "variant_title": None,
                "product_type": None,
                "price": _money(price, cur),
                "price_currency_code": cur,
                "image": None,
                "exchange_type": "exchange" if cart_item.exchange_for_returning_item_id else "storefront",
                "exchange_for_returning_item_id": cart_item.exchange_for_returning_item_id,
            }
        )
    return cart


def draft_return_json(store: Store, draft: FakeDraft) -> dict[str, Any]:
    """The ``draft_return`` object (``payment_intent`` only once there is one)."""
    method = next((m[1] for m in RETURN_METHODS if m[0] == draft.return_method_id), None)
    body: dict[str, Any] = {
        "id": draft.id,
        "state": draft.state,
        "return_id": draft.return_id,
        "currency": draft.order.currency,
        "language": "en",
        "credit_type": draft.credit_type or None,
        "store_credit_type": "gift-card" if draft.credit_type == "gift" else None,
        "processing_type": draft.processing_type,
        "return_policy": {"id": 1, "name": "Standard 30-day return", "return_window_days": 30},
        "totals": totals_json(store, draft),
        "customer": {"email": draft.customer_email},
        "shipping_address": None if not draft.shipping_address else normalize_address(draft.shipping_address),
        "returning_items": _returning_items(draft),
        "cart_items": _cart_items(store, draft),
        "selected_return_method": method,
    }
    if draft.payment_intent is not None:
        body["payment_intent"] = draft.payment_intent
    body["return_policy_accepted"] = draft.return_policy_accepted
    return body


def context_json(draft: FakeDraft, price_shift: int) -> dict[str, Any]:
    """Everything the next actions need, from the order and the shop's catalog.

    ``price_shift`` moves every catalog price (the ``volatile_context`` fault).
    """
    order = draft.order
    return {
        "order": {
            "id": order.id,
            "currency": order.currency,
            "line_items": [
                {
                    "id": li.id,
                    "provider_product_id": li.product_id,
                    "provider_variant_id": li.variant_id,
                    "title": li.title,
                    "variant_title": li.variant_title,
                    "price": li.price,
                    "image": f"https://cdn.example.com/products/{li.sku.lower()}.jpg",
                }
                for li in order.line_items
            ],
        },
        "items_eligible_to_return": [{"order_line_item_id": li.id} for li in order.eligible_line_items],
        "items_not_eligible_to_return": [
            {"order_line_item_id": li.id, "ineligibility_code": li.ineligibility_code}
            for li in order.line_items
            if li.ineligibility_code is not None
        ],
        "return_reasons": [
            {
                "id": rid,
                "name": name,
                "requires_comment": needs,
                "child_reasons": [{"id": cid, "name": cname} for cid, cname in children],
            }
            for rid, name, needs, children in RETURN_REASONS
        ],
        "return_methods": [
            {"id": mid, "name": name, "type": kind, "cost": cost, "carrier": carrier}
            for mid, name, kind, cost, carrier in RETURN_METHODS
        ],
        "available_credit_types": list(credit_types(draft)),
        "cart_products": [
            {
                "id": pid,
                "title": title,
                "product_type": ptype,
                "image": f"https://cdn.example.com/products/{pid}.jpg",
                "variants": [
                    {"id": vid, "title": vtitle, "sku": sku, "price": price + price_shift, "available": ok}
                    for vid, vtitle, sku, price, ok in variants
                ],
            }
            for pid, title, ptype, variants in CART_PRODUCTS
        ],
    }
