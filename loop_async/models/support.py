"""Support endpoints: order return eligibility, fraud reports, the block and allow lists.

Shapes follow Loop's reference pages (the warehouse and support endpoints).
The per-item eligibility fields past ``id``, ``external_id`` and ``eligible`` are not
documented: ``ineligibility_code`` is a guess (see the fidelity table, ``docs/fidelity.md``).
"""

from __future__ import annotations

from datetime import datetime

import attrs

from loop_async.models._open_enum import OpenEnum
from loop_async.models.enums import IneligibilityCode

__all__ = [
    "FraudCategory",
    "FraudReport",
    "ItemEligibility",
    "ListEntry",
    "ListEntryType",
    "ReturnEligibility",
]


class FraudCategory(OpenEnum):
    """Why a return is reported as fraudulent."""

    PACKAGE_NEVER_RECEIVED = "package-never-received"
    PACKAGE_IS_EMPTY = "package-is-empty"
    PACKAGE_IS_MISSING_ITEMS = "package-is-missing-items"
    INSTANT_RETURN_CHARGE_FAILED = "instant-return-charge-failed"
    KEEP_ITEM_ABUSE = "keep-item-abuse"
    SPLITTING_RETURNS_TO_AVOID_RESTRICTIONS = "splitting-returns-to-avoid-restrictions"
    ITEM_IS_WORN = "item-is-worn"
    OTHER = "other"


class ListEntryType(OpenEnum):
    """What a block- or allowlist entry matches: an order name, an email, a variant id, a product tag."""

    ORDER = "order"
    EMAIL = "email"
    PRODUCT = "product"
    PRODUCT_TAG = "product_tag"


@attrs.frozen(kw_only=True)
class ItemEligibility:
    """Whether one line item of an order may be returned (advisory: a draft return decides)."""

    id: int
    external_id: str | None = None
    eligible: bool | None = None
    ineligibility_code: IneligibilityCode | None = None


@attrs.frozen(kw_only=True)
class ReturnEligibility:
    """``POST /orders/return-eligibility``: per line item, creates no draft return."""

    order_id: int | None = None
    order_name: str | None = None
    items: tuple[ItemEligibility, ...] = ()

    @property
    def eligible_items(self) -> tuple[ItemEligibility, ...]:
        """The items reported eligible."""
        return tuple(item for item in self.items if item.eligible)


@attrs.frozen(kw_only=True)
class FraudReport:
    """A fraud report attached to a return."""

    id: int
    return_id: int | None = None
    category: FraudCategory | None = None
    comment: str | None = None
    created_at: datetime | None = None


@attrs.frozen(kw_only=True)
class ListEntry:
    """An entry of the blocklist or the allowlist."""

    id: int
    type: ListEntryType | None = None
    value: str | None = None
    secondary_value: str | None = None
    created_at: datetime | None = None
