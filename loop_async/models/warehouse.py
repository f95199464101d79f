"""Warehouse endpoints: item grading and dispositioning, Happy Returns shipments, destinations.

Shapes follow Loop's reference pages (the warehouse and support endpoints);
fields are optional unless Loop marks them required, so a sparse or grown answer still decodes.
"""

from __future__ import annotations

from datetime import datetime

import attrs

from loop_async.models._open_enum import OpenEnum
from loop_async.models.common import Address

__all__ = [
    "ConditionCategory",
    "Destination",
    "DestinationType",
    "Disposition",
    "DispositionOutcome",
    "Grade",
    "Shipment",
    "ShipmentItem",
]


class DispositionOutcome(OpenEnum):
    """What happens to an inspected item (``disposition_outcome``)."""

    BACK_TO_STOCK = "back_to_stock"
    RESALE_HOLD = "resale_hold"
    RECYCLE = "recycle"
    DONATE = "donate"
    MISSING = "missing"


class ConditionCategory(OpenEnum):
    """The graded condition of a returned item (``condition_category``)."""

    GRADE_A = "grade_a"
    GRADE_B = "grade_b"
    GRADE_C = "grade_c"
    GRADE_D = "grade_d"
    INCORRECT_ITEM = "incorrect_item"
    MISSING = "missing"
    JUNK = "junk"


class DestinationType(OpenEnum):
    """Kind of place returns are shipped to."""

    WAREHOUSE = "warehouse"
    DONATE = "donate"


@attrs.frozen(kw_only=True)
class Grade:
    """A graded line item, as ``POST /dispositioning/grade`` echoes it."""

    line_item_id: int
    description: str | None = None
    condition_category: ConditionCategory | None = None
    return_processor: str | None = None
    note: str | None = None
    images: tuple[str, ...] = ()
    inspected_at: datetime | None = None


@attrs.frozen(kw_only=True)
class Disposition:
    """An assessed line item, as ``POST /dispositioning/assess`` echoes it."""

    line_item_id: int
    disposition_outcome: DispositionOutcome | None = None
    return_processor: str | None = None
    note: str | None = None
    inspected_at: datetime | None = None


@attrs.frozen(kw_only=True)
class Shipment:
    """A consolidated Happy Returns shipment (a box or pallet of bagged returns)."""

    loop_shipment_id: int | None = None
    happy_returns_shipment_id: str | None = None
    line_item_count: int | None = None
    return_count: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


@attrs.frozen(kw_only=True)
class ShipmentItem:
    """One item of a Happy Returns shipment; ``happy_returns_return_bag_barcodes`` are what a warehouse scans."""

    return_id: int | None = None
    shipment_id: int | None = None
    happy_returns_shipment_id: str | None = None
    happy_returns_rma_id: str | None = None
    happy_returns_return_bag_barcodes: tuple[str, ...] = ()
    order_name: str | None = None
    item_title: str | None = None
    variant_title: str | None = None
    sku: str | None = None
    po_number: str | None = None
    carrier: str | None = None
    tracking_number: str | None = None
    shipping_box_barcode: str | None = None


@attrs.frozen(kw_only=True)
class Destination:
    """A place returns are shipped to (a warehouse or a donation center)."""

    id: int
    name: str | None = None
    type: DestinationType | None = None
    enabled: bool | None = None
    address: Address | None = None
