"""The fake shop's fixed configuration: currency, return reasons and methods, credit types, catalog.

Plain data (what Loop's ``context`` lists), read by the store's seeding and the draft machine.
"""

from __future__ import annotations

__all__ = [
    "CART_PRODUCTS",
    "CREDIT_TYPES",
    "CURRENCY",
    "INELIGIBILITY_CODES",
    "PRODUCT_TITLES",
    "RETURN_METHODS",
    "RETURN_REASONS",
    "SHOP_ID",
    "VARIANT_TITLES",
    "catalog_variant",
]

CURRENCY = "USD"
SHOP_ID = 1
#: Loop's documented ineligibility codes: each seeded order has one line item per code.
INELIGIBILITY_CODES: tuple[str, ...] = (
    "not_eligible_for_return",
    "past_return_window",
    "final_sale",
    "already_returned",
)

#: (id, name, requires_comment, child reasons [(id, name)])
RETURN_REASONS: tuple[tuple[int, str, bool, tuple[tuple[int, str], ...]], ...] = (
    (1, "Too small", False, ((10, "Size too small"),)),
    (2, "Too large", False, ((20, "Size too large"),)),
    (3, "Changed my mind", False, ()),
    (4, "Arrived damaged", True, ()),
)
#: (id, name, type, cost in minor units, carrier)
RETURN_METHODS: tuple[tuple[int, str, str, int, str | None], ...] = (
    (1, "UPS Ground", "label", 0, "UPS"),
    (2, "Drop-off at a partner store", "dropoff", 300, None),
    (3, "Courier pickup", "pickup", 500, "DHL"),
)
CREDIT_TYPES: tuple[str, ...] = ("refund", "gift", "exchange")
#: product id, title, type, variants [(variant id, title, sku, price, available)]
CART_PRODUCTS: tuple[tuple[int, str, str, tuple[tuple[int, str, str, int, bool], ...]], ...] = (
    (
        100,
        "Red Shirt",
        "Apparel",
        ((501, "Small", "SHIRT-RED-S", 2500, True), (502, "Medium", "SHIRT-RED-M", 2500, False)),
    ),
    (110, "Blue Cap", "Accessories", ((511, "One size", "CAP-BLUE", 1500, True),)),
)
PRODUCT_TITLES = ("Linen Shirt", "Wool Socks", "Canvas Tote", "Denim Jacket", "Trail Shoes", "Silk Scarf")
VARIANT_TITLES = ("Small", "Medium", "Large", "Blue", "Black")


def catalog_variant(variant_id: int) -> tuple[int, int, str, str, int, bool] | None:
    for product_id, title, _type, variants in CART_PRODUCTS:
        for vid, vtitle, sku, price, available in variants:
            if vid == variant_id:
                return product_id, vid, f"{title} / {vtitle}", sku, price, available
    return None
