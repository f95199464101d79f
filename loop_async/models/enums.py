"""The documented value sets of the Loop API, as open enums (unknown values keep their string)."""

from __future__ import annotations

from typing import ClassVar

from loop_async.models._open_enum import OpenEnum

__all__ = [
    "CreditType",
    "DraftReturnState",
    "ExchangeType",
    "FieldType",
    "IneligibilityCode",
    "ProcessingType",
    "Resolution",
    "ReturnMethodType",
    "ReturnState",
    "ReturnType",
    "StoreCreditType",
]


class DraftReturnState(OpenEnum):
    """State of a draft return. Terminal states carry no links; detect the end by that."""

    # The reference says "returning-items-finalized", the prose "items-finalized": both decode.
    __aliases__: ClassVar[dict[str, str]] = {"items-finalized": "returning-items-finalized"}

    CREATED = "created"
    RETURNING_ITEMS_FINALIZED = "returning-items-finalized"
    SUBMITTED = "submitted"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class CreditType(OpenEnum):
    """How the customer is credited."""

    REFUND = "refund"
    GIFT = "gift"
    EXCHANGE = "exchange"


class StoreCreditType(OpenEnum):
    """Kind of store credit when the credit type is ``gift``."""

    GIFT_CARD = "gift-card"
    RESHOP = "reshop"


class ProcessingType(OpenEnum):
    """How the return is processed."""

    REGULAR = "regular"
    INSTANT = "instant"


class ReturnType(OpenEnum):
    """Whether an item is returned for credit or exchange."""

    CREDIT = "credit"
    EXCHANGE = "exchange"


class Resolution(OpenEnum):
    """Final resolution of a returning item."""

    RETURN = "return"
    KEEP = "keep"
    DONATE = "donate"
    REJECT = "reject"
    EXCHANGE = "exchange"


class ExchangeType(OpenEnum):
    """Kind of exchange a cart item represents."""

    STOREFRONT = "storefront"
    POS_STOREFRONT = "pos-storefront"
    VARIANT_STOREFRONT = "variant-storefront"
    ADVANCED_STOREFRONT = "advanced-storefront"
    ADVANCED = "advanced"
    EXCHANGE = "exchange"
    POS_EXCHANGE = "pos-exchange"


class ReturnMethodType(OpenEnum):
    """Kind of return shipping method."""

    LABEL = "label"
    DROPOFF = "dropoff"
    PICKUP = "pickup"


class IneligibilityCode(OpenEnum):
    """Why a line item cannot be returned."""

    NOT_ELIGIBLE_FOR_RETURN = "not_eligible_for_return"
    PAST_RETURN_WINDOW = "past_return_window"
    FINAL_SALE = "final_sale"
    ALREADY_RETURNED = "already_returned"


class FieldType(OpenEnum):
    """Type of a hypermedia field. Servers may name others; they decode and are kept."""

    INT = "int"
    STRING = "string"
    BOOL = "bool"
    ENUM = "enum"


class ReturnState(OpenEnum):
    """State of a (non-draft) return."""

    OPEN = "open"
    CLOSED = "closed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    REVIEW = "review"
