"""The fake server's in-memory data: seeded orders, returns, drafts, webhooks (the shop's fixed
configuration is :mod:`.catalog`).

Plain mutable records, no HTTP. Seed data is deterministic for a given ``seed``: every order
has three eligible line items and one ineligible item per documented ineligibility code.
Line-item eligibility is static (an item already in a return stays eligible), so any number
of drafts can be built against a small set of orders, as a load test or the demo needs.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import attrs

from loop_async.testing.catalog import (
    CURRENCY,
    INELIGIBILITY_CODES,
    PRODUCT_TITLES,
    SHOP_ID,
    VARIANT_TITLES,
    catalog_variant,
)

__all__ = [
    "FakeCartItem",
    "FakeDraft",
    "FakeLineItem",
    "FakeNote",
    "FakeOrder",
    "FakeReturn",
    "FakeReturnLineItem",
    "FakeReturningItem",
    "FakeWebhook",
    "Store",
    "minor_to_decimal",
]


def minor_to_decimal(amount: int) -> Decimal:
    """Minor units to an exact major-unit decimal (two places), as return-data money."""
    return Decimal(amount).scaleb(-2).quantize(Decimal("0.01"))


@attrs.define
class FakeLineItem:
    """A line item of a seeded order; ``ineligibility_code`` is set when it cannot be returned."""

    id: int
    product_id: int
    variant_id: int
    sku: str
    title: str
    variant_title: str
    price: int
    ineligibility_code: str | None = None


@attrs.define
class FakeOrder:
    """A seeded order: ``name`` ("#1001"), ``zip``, ``email`` and its line items."""

    id: int
    name: str
    zip: str
    email: str
    currency: str
    created_at: datetime
    line_items: list[FakeLineItem]

    @property
    def provider_order_id(self) -> int:
        """The order's id at the commerce provider (Shopify), derived from Loop's id."""
        return 5_000_000_000 + self.id

    @property
    def eligible_line_items(self) -> list[FakeLineItem]:
        """The line items that may be returned."""
        return [li for li in self.line_items if li.ineligibility_code is None]

    def line_item(self, line_item_id: int) -> FakeLineItem | None:
        """The line item with this id, or ``None``."""
        return next((li for li in self.line_items if li.id == line_item_id), None)


@attrs.define
class FakeNote:
    """A note on a return."""

    id: int
    content: str
    created_at: datetime


@attrs.define
class FakeReturnLineItem:
    """An item of a return; ``outcome`` is ``refund``, ``store-credit`` or ``exchange``."""

    id: int
    line_item: FakeLineItem
    outcome: str
    reason: str | None = None
    condition_category: str | None = None  # set by POST /dispositioning/grade
    disposition_outcome: str | None = None  # set by POST /dispositioning/assess


@attrs.define
class FakeReturn:
    """A return held by the fake server. ``state`` is Loop's (open, closed, cancelled, review...)."""

    id: int
    order: FakeOrder
    state: str
    created_at: datetime
    updated_at: datetime
    line_items: list[FakeReturnLineItem]
    credit_type: str = "refund"
    return_method: str | None = None
    flagged: bool = False
    notes: list[FakeNote] = attrs.field(factory=list)
    processing: bool = False
    cancel_reason: str | None = None
    process_details: dict[str, Any] | None = None
    #: The label's EasyPost status once a label exists (``None``: no label yet).
    label_status: str | None = None
    label_updated_at: datetime | None = None

    @property
    def total(self) -> int:
        """Sum of the returned items' prices, in minor units."""
        return sum(item.line_item.price for item in self.line_items)


@attrs.define
class FakeReturningItem:
    """An item being returned in a draft."""

    id: int
    line_item: FakeLineItem
    reason_id: int | None = None
    reason_comment: str | None = None
    user_input: dict[int, Any] = attrs.field(factory=dict)
    exchange_variant_id: int | None = None


@attrs.define
class FakeCartItem:
    """An item in a draft's cart (exchange or shop-now)."""

    id: int
    variant_id: int
    exchange_for_returning_item_id: int | None = None


@attrs.define
class FakeDraft:
    """A draft return; the transitions are in :mod:`loop_async.testing.drafts.machine`."""

    id: int
    order: FakeOrder
    state: str
    is_gift: bool
    created_at: datetime
    expires_at: datetime
    returning_items: list[FakeReturningItem] = attrs.field(factory=list)
    cart_items: list[FakeCartItem] = attrs.field(factory=list)
    customer_email: str | None = None
    shipping_address: dict[str, Any] | None = None
    credit_type: str | None = None
    return_method_id: int | None = None
    return_id: int | None = None
    return_policy_accepted: bool = False
    processing_type: str = "regular"
    payment_intent: dict[str, Any] | None = None


@attrs.define
class FakeWebhook:
    """A registered webhook subscription."""

    id: int
    topic: str
    trigger: str
    url: str
    status: str = "active"

    def as_json(self) -> dict[str, Any]:
        """Loop's webhook object."""
        return {
            "id": self.id,
            "shop_id": SHOP_ID,
            "topic": self.topic,
            "trigger": self.trigger,
            "url": self.url,
            "status": self.status,
        }


def _aware(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=timezone.utc)


class Store:
    """Everything the fake server holds, with the id sequences and the clock it uses."""

    def __init__(self, *, orders: int, seed: int, clock: Callable[[], datetime]) -> None:
        self.clock = clock
        self._rng = random.Random(seed)
        self._ids: dict[str, itertools.count[int]] = {
            "order": itertools.count(4001),
            "line_item": itertools.count(74),
            "return": itertools.count(67890),
            "return_line_item": itertools.count(1),
            "draft": itertools.count(12345),
            "returning_item": itertools.count(1),
            "cart_item": itertools.count(201),
            "note": itertools.count(1),
            "webhook": itertools.count(1),
            "gift_card": itertools.count(9001),
        }
        self.orders: list[FakeOrder] = [self._make_order(i) for i in range(orders)]
        self.orders_by_name = {o.name: o for o in self.orders}
        self.returns: dict[int, FakeReturn] = {}
        self.drafts: dict[int, FakeDraft] = {}
        self.webhooks: dict[int, FakeWebhook] = {}
        self._next_order = 0

    def next_id(self, kind: str) -> int:
        """The next id of ``kind`` (order, return, draft, note, ...)."""
        return next(self._ids[kind])

    def _make_order(self, index: int) -> FakeOrder:
        rng = self._rng
        items: list[FakeLineItem] = []
        codes: list[str | None] = [None, None, None, *INELIGIBILITY_CODES]
        for code in codes:
            line_id = self.next_id("line_item")
            items.append(
                FakeLineItem(
                    id=line_id,
                    product_id=7804939829000 + line_id,
                    variant_id=43045586894000 + line_id,
                    sku=f"SKU-{line_id}",
                    title=rng.choice(PRODUCT_TITLES),
                    variant_title=rng.choice(VARIANT_TITLES),
                    price=rng.randrange(1000, 12000, 50),
                    ineligibility_code=code,
                )
            )
        return FakeOrder(
            id=self.next_id("order"),
            name=f"#{1001 + index}",
            zip=f"{rng.randrange(10000, 99999)}",
            email=f"customer{1001 + index}@example.com",
            currency=CURRENCY,
            created_at=self.clock() - timedelta(days=10),
            line_items=items,
        )

    def order(self, name: str) -> FakeOrder | None:
        """The order called ``name`` ("#1001"; the leading ``#`` is optional)."""
        key = name.strip()
        return self.orders_by_name.get(key if key.startswith("#") else f"#{key}")

    def create_return(
        self,
        order: FakeOrder,
        line_items: Iterable[FakeLineItem],
        *,
        state: str = "open",
        credit_type: str = "refund",
        return_method: str | None = None,
        created_at: datetime | None = None,
        updated_at: datetime | None = None,
        reasons: dict[int, str] | None = None,
    ) -> FakeReturn:
        """Create and store a return for ``line_items`` of ``order``."""
        now = self.clock()
        # A naive datetime is taken as UTC, as Loop's "YYYY-MM-DD HH:MM:SS" is.
        created_at = _aware(created_at)
        updated_at = _aware(updated_at)
        outcome = {"refund": "refund", "gift": "store-credit", "exchange": "exchange"}.get(credit_type, "refund")
        created = created_at or now
        ret = FakeReturn(
            id=self.next_id("return"),
            order=order,
            state=state,
            created_at=created,
            updated_at=updated_at or created,
            line_items=[
                FakeReturnLineItem(
                    id=self.next_id("return_line_item"),
                    line_item=li,
                    outcome=outcome,
                    reason=(reasons or {}).get(li.id),
                )
                for li in line_items
            ],
            credit_type=credit_type,
            return_method=return_method,
            flagged=state == "review",
        )
        self.returns[ret.id] = ret
        return ret

    def pick_order(self) -> FakeOrder:
        """Orders in turn, for seeded returns that name none."""
        order = self.orders[self._next_order % len(self.orders)]
        self._next_order += 1
        return order

    @staticmethod
    def variant(variant_id: int) -> tuple[int, int, str, str, int, bool] | None:
        """(product id, variant id, title, sku, price, available) of a catalog variant."""
        return catalog_variant(variant_id)
