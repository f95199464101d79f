"""Typed models of every object in the Loop API reference (attrs classes, decoded by cattrs).

Decode with :func:`loop_async.models.decode`; the SDK does it for you on every call.
"""

from __future__ import annotations

from loop_async.models._enum import OpenEnum
from loop_async.models.common import Address, ApiErrorEntry, Customer, DecimalMoney, Money
from loop_async.models.draft_returns import (
    CartItem,
    CartProduct,
    ChildReturnReason,
    CreditTotals,
    DraftReturn,
    DraftReturnContext,
    DraftReturnResponse,
    EligibleItem,
    Fees,
    IneligibleItem,
    Order,
    OrderLineItem,
    ProductVariant,
    ReturningItem,
    ReturningItemReason,
    ReturnMethod,
    ReturnPolicy,
    ReturnReason,
    Totals,
    UserInput,
)
from loop_async.models.enums import (
    CreditType,
    DraftReturnState,
    ExchangeType,
    FieldType,
    IneligibilityCode,
    ProcessingType,
    Resolution,
    ReturnMethodType,
    ReturnState,
    ReturnType,
    StoreCreditType,
)
from loop_async.models.links import Field, Link
from loop_async.models.return_data import AsnRow, Return, ReturnExchange, ReturnLineItem, ReturnRefund, ReturnsPage
from loop_async.models.returns import DeepLink, DeepLinkQR, Note

__all__ = [
    "Address",
    "ApiErrorEntry",
    "AsnRow",
    "CartItem",
    "CartProduct",
    "ChildReturnReason",
    "CreditTotals",
    "CreditType",
    "Customer",
    "DecimalMoney",
    "DeepLink",
    "DeepLinkQR",
    "DraftReturn",
    "DraftReturnContext",
    "DraftReturnResponse",
    "DraftReturnState",
    "EligibleItem",
    "ExchangeType",
    "Fees",
    "Field",
    "FieldType",
    "IneligibilityCode",
    "IneligibleItem",
    "Link",
    "Money",
    "Note",
    "OpenEnum",
    "Order",
    "OrderLineItem",
    "ProcessingType",
    "ProductVariant",
    "Resolution",
    "Return",
    "ReturnExchange",
    "ReturnLineItem",
    "ReturnMethod",
    "ReturnMethodType",
    "ReturnPolicy",
    "ReturnReason",
    "ReturnRefund",
    "ReturnState",
    "ReturnType",
    "ReturningItem",
    "ReturningItemReason",
    "ReturnsPage",
    "StoreCreditType",
    "Totals",
    "UserInput",
]
