"""The return-data endpoints over the store: the returns list (windows, filters, cursors), details, ASN.

Returns are rendered through the SDK's :class:`~loop_async.models.Return` model, so money goes
out as strings. Range rules, as Loop documents them: ``from``/``to`` are ``YYYY-MM-DD HH:MM:SS``
(UTC), both inclusive at second precision; without them the last 24 hours; at most 120 days
per request (422 otherwise). Pages are ordered by the filtered timestamp, then id; the cursor
in ``nextPageUrl`` is opaque (base64 of an offset).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from multidict import MultiMapping
from yarl import URL

from loop_async import _json
from loop_async._convert import unstructure
from loop_async.models import (
    ConditionCategory,
    DispositionOutcome,
    Return,
    ReturnLineItem,
    ReturnRefund,
    ReturnState,
)
from loop_async.testing._shapes import validation_error
from loop_async.testing.store import FakeReturn, Store, minor_to_decimal

__all__ = ["MAX_PAGE_SIZE", "MAX_RANGE", "asn_rows", "find_return", "list_returns", "render_return"]

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
MAX_RANGE = timedelta(days=120)
MAX_PAGE_SIZE = 750
DEFAULT_PAGE_SIZE = 100
STATES = frozenset({"open", "closed", "cancelled", "expired", "review"})


def return_model(ret: FakeReturn) -> Return:
    """The SDK model of a stored return."""
    total = minor_to_decimal(ret.total)
    closed = ret.state == "closed"
    refunds: tuple[ReturnRefund, ...] = ()
    if closed and ret.credit_type == "refund" and ret.line_items:
        refunds = (
            ReturnRefund(
                id=ret.id * 10,
                amount=total,
                currency=ret.order.currency,
                gateway="shopify_payments",
                status="success",
                created_at=ret.updated_at,
            ),
        )
    return Return(
        id=ret.id,
        state=ReturnState(ret.state),
        created_at=ret.created_at,
        updated_at=ret.updated_at,
        order_id=ret.order.id,
        order_name=ret.order.name,
        customer=ret.order.email,
        currency=ret.order.currency,
        total=total,
        refund=total if ret.credit_type == "refund" else minor_to_decimal(0),
        gift_card=total if ret.credit_type == "gift" else minor_to_decimal(0),
        exchange_total=total if ret.credit_type == "exchange" else minor_to_decimal(0),
        handling_fee=minor_to_decimal(0),
        carrier="UPS",
        tracking_number=f"1Z{ret.id:012d}",
        return_method=ret.return_method,
        line_items=tuple(
            ReturnLineItem(
                id=item.id,
                line_item_id=item.line_item.id,
                product_id=item.line_item.product_id,
                variant_id=item.line_item.variant_id,
                sku=item.line_item.sku,
                title=item.line_item.title,
                price=minor_to_decimal(item.line_item.price),
                discount=minor_to_decimal(0),
                tax=minor_to_decimal(0),
                refund=minor_to_decimal(item.line_item.price) if closed and item.outcome == "refund" else None,
                returned_at=ret.updated_at if closed else None,
                outcome=item.outcome,
                reason=item.reason,
                condition_category=None
                if item.condition_category is None
                else ConditionCategory(item.condition_category),
                disposition_outcome=None
                if item.disposition_outcome is None
                else DispositionOutcome(item.disposition_outcome),
            )
            for item in ret.line_items
        ),
        refunds=refunds,
    )


def render_return(ret: FakeReturn) -> dict[str, Any]:
    """A return as Loop's JSON object (money as strings)."""
    data: dict[str, Any] = unstructure(return_model(ret))
    return data


def _parse_time(name: str, value: str) -> datetime:
    try:
        return datetime.strptime(value, TIME_FORMAT).replace(tzinfo=timezone.utc)
    except ValueError:
        raise validation_error({name: [f"The {name} does not match the format Y-m-d H:i:s."]}) from None


def parse_range(query: Mapping[str, str], now: datetime) -> tuple[datetime, datetime]:
    """``from``/``to`` with Loop's defaults and limits."""
    end = _parse_time("to", query["to"]) if query.get("to") else now.replace(microsecond=0)
    start = _parse_time("from", query["from"]) if query.get("from") else end - timedelta(hours=24)
    if start > end:
        raise validation_error({"from": ["The from must be a date before or equal to to."]})
    if end - start > MAX_RANGE:
        raise validation_error({"from": ["The date range may not be greater than 120 days."]})
    return start, end


def _states(query: MultiMapping[str]) -> set[str] | None:
    wanted = {s.strip() for value in query.getall("state", []) for s in value.split(",") if s.strip()}
    unknown = wanted - STATES
    if unknown:
        raise validation_error({"state": [f"The selected state {sorted(unknown)[0]} is invalid."]})
    return wanted or None


def _cursor_offset(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        data = _json.loads(base64.urlsafe_b64decode(cursor.encode() + b"=" * (-len(cursor) % 4)))
        offset = data["o"]
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise validation_error({"cursor": ["The cursor is invalid."]}) from None
    if not isinstance(offset, int) or offset < 0:
        raise validation_error({"cursor": ["The cursor is invalid."]})
    return offset


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(_json.dumps({"o": offset})).decode().rstrip("=")


def list_returns(store: Store, query: MultiMapping[str], request_url: URL) -> Any:
    """``GET /warehouse/return/list``: an array, or with ``paginate=true`` a page with cursors."""
    start, end = parse_range(query, store.clock())
    field = query.get("filter", "created_at")
    if field not in ("created_at", "updated_at"):
        raise validation_error({"filter": ["The filter must be created_at or updated_at."]})
    states = _states(query)
    paginate = query.get("paginate", "").lower() in ("true", "1")
    size_text = query.get("pageSize", str(DEFAULT_PAGE_SIZE))
    if not size_text.isdigit() or not 1 <= int(size_text) <= MAX_PAGE_SIZE:
        raise validation_error({"pageSize": [f"The page size must be between 1 and {MAX_PAGE_SIZE}."]})
    page_size = int(size_text)

    def stamp(ret: FakeReturn) -> datetime:
        value = ret.created_at if field == "created_at" else ret.updated_at
        return value.astimezone(timezone.utc).replace(microsecond=0)

    matching = sorted(
        (r for r in store.returns.values() if start <= stamp(r) <= end and (states is None or r.state in states)),
        key=lambda r: (stamp(r), r.id),
    )
    if not paginate:
        return [render_return(r) for r in matching]
    offset = _cursor_offset(query.get("cursor"))
    page = matching[offset : offset + page_size]
    next_url = prev_url = None
    if offset + page_size < len(matching):
        next_url = str(request_url.update_query(cursor=_cursor(offset + page_size)))
    if offset > 0:
        prev_url = str(request_url.update_query(cursor=_cursor(max(0, offset - page_size))))
    return {"returns": [render_return(r) for r in page], "nextPageUrl": next_url, "previousPageUrl": prev_url}


def find_return(store: Store, query: Mapping[str, str]) -> FakeReturn | None:
    """``GET /warehouse/return/details``: by ``return_id``, ``order_id`` or ``order_name`` (latest return)."""
    given = [k for k in ("return_id", "order_id", "order_name") if query.get(k)]
    if len(given) != 1:
        raise validation_error({"return_id": ["Exactly one of return_id, order_id or order_name is required."]})
    if query.get("currency_type", "shop") not in ("shop", "presentment"):
        raise validation_error({"currency_type": ["The currency type must be shop or presentment."]})
    key = given[0]
    value = query[key]
    if key in ("return_id", "order_id") and not value.isdigit():
        raise validation_error({key: [f"The {key} must be an integer."]})
    candidates: Sequence[FakeReturn]
    if key == "return_id":
        return store.returns.get(int(value))
    if key == "order_id":
        candidates = [r for r in store.returns.values() if r.order.id == int(value)]
    else:
        order = store.order(value)
        candidates = [r for r in store.returns.values() if order is not None and r.order is order]
    return max(candidates, key=lambda r: r.id, default=None)


def asn_rows(store: Store, query: Mapping[str, str]) -> list[dict[str, Any]]:
    """``GET /warehouse/reporting/asn``: one row per item of the open returns created in range."""
    start, end = parse_range(query, store.clock())
    rows = []
    for ret in sorted(store.returns.values(), key=lambda r: r.id):
        if ret.state != "open" or not start <= ret.created_at.replace(microsecond=0) <= end:
            continue
        for item in ret.line_items:
            rows.append(
                {
                    "return_id": ret.id,
                    "order_name": ret.order.name,
                    "tracking_number": f"1Z{ret.id:012d}",
                    "carrier": "UPS",
                    "status": "in_transit",
                    "sku": item.line_item.sku,
                    "quantity": 1,
                    "title": item.line_item.title,
                }
            )
    return rows
