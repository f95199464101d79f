"""Return data: the returns list (windows, filters, keyset cursors), a return's details, the ASN report.

Read-only over the store; returns are rendered by :mod:`..return_objects`. The range and
paging rules, as Loop documents them, are in ``docs/testing.md`` ("Return data").
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from aiohttp import web
from multidict import MultiMapping
from yarl import URL

from loop_async._sansio import json as _json
from loop_async.testing.error_bodies import json_response, validation_error
from loop_async.testing.handlers._request import Route
from loop_async.testing.return_objects import render_return
from loop_async.testing.store import FakeReturn, Store, minor_to_decimal

__all__ = ["MAX_PAGE_SIZE", "MAX_RANGE", "ReturnData", "asn_rows", "find_return", "list_returns"]

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
MAX_RANGE = timedelta(days=120)
MAX_PAGE_SIZE = 750
DEFAULT_PAGE_SIZE = 100
STATES = frozenset({"open", "closed", "cancelled", "expired", "review"})
#: What Loop lists when no ``state`` is given.
DEFAULT_STATES = frozenset({"open", "closed", "expired"})


def _parse_time(name: str, value: str) -> datetime:
    try:
        return datetime.strptime(value, TIME_FORMAT).replace(tzinfo=timezone.utc)
    except ValueError:
        pass
    try:  # third-party clients send ISO 8601 ("2022-01-01T00:00:00.000Z"), which Loop accepts
        text = value.strip()
        if "T" not in text:
            raise ValueError(text)
        parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:
        raise validation_error({name: [f"The {name} does not match the format Y-m-d H:i:s."]}) from None
    utc = (parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)
    return utc.replace(microsecond=0)


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


_Key = tuple[datetime, int]


def _decode_cursor(cursor: str, field: str) -> tuple[_Key, bool]:
    """The keyset position and direction (``True``: the items after it) of a cursor."""
    invalid = validation_error({"cursor": ["The cursor is invalid."]})
    try:
        data = _json.loads(base64.urlsafe_b64decode(cursor.encode() + b"=" * (-len(cursor) % 4)))
        stamp = datetime.strptime(data[field], TIME_FORMAT).replace(tzinfo=timezone.utc)
        return_id, forward = data["id"], data["_pointsToNextItems"]
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise invalid from None
    if not isinstance(return_id, int) or not isinstance(forward, bool):
        raise invalid
    return (stamp, return_id), forward


def _encode_cursor(field: str, key: _Key, forward: bool) -> str:
    data = {field: key[0].strftime(TIME_FORMAT), "id": key[1], "_pointsToNextItems": forward}
    return base64.urlsafe_b64encode(_json.dumps(data)).decode().rstrip("=")


def list_returns(store: Store, query: MultiMapping[str], request_url: URL) -> Any:
    """``GET /warehouse/return/list``: an array, or with ``paginate=true`` a page with cursors."""
    start, end = parse_range(query, store.clock())
    field = query.get("filter", "created_at")
    if field not in ("created_at", "updated_at"):
        raise validation_error({"filter": ["The filter must be created_at or updated_at."]})
    states = _states(query) or DEFAULT_STATES
    cursor = query.get("cursor")
    position = _decode_cursor(cursor, field) if cursor else None
    paginate = query.get("paginate", "").lower() in ("true", "1") or position is not None
    size_text = query.get("pageSize", str(DEFAULT_PAGE_SIZE))
    if not size_text.isdigit() or not 1 <= int(size_text) <= MAX_PAGE_SIZE:
        raise validation_error({"pageSize": [f"The page size must be between 1 and {MAX_PAGE_SIZE}."]})
    page_size = int(size_text)

    def key(ret: FakeReturn) -> _Key:
        value = ret.created_at if field == "created_at" else ret.updated_at
        return value.astimezone(timezone.utc).replace(microsecond=0), ret.id

    matching = sorted(
        (r for r in store.returns.values() if start <= key(r)[0] <= end and r.state in states),
        key=key,
    )
    if not paginate:
        return [render_return(r) for r in matching]
    if position is None:
        page = matching[:page_size]
    elif position[1]:
        page = [r for r in matching if key(r) > position[0]][:page_size]
    else:
        page = [r for r in matching if key(r) < position[0]][-page_size:]
    next_url = prev_url = None
    if page and key(matching[-1]) > key(page[-1]):
        next_url = _page_url(request_url, page_size, field, end, _encode_cursor(field, key(page[-1]), True))
    if page and key(matching[0]) < key(page[0]):
        prev_url = _page_url(request_url, page_size, field, end, _encode_cursor(field, key(page[0]), False))
    return {"returns": [render_return(r) for r in page], "nextPageUrl": next_url, "previousPageUrl": prev_url}


def _page_url(request_url: URL, page_size: int, field: str, end: datetime, cursor: str) -> str:
    """A page link as Loop writes it: ``to``, ``filter``, ``pageSize``, ``cursor`` (no ``from``, ``state``)."""
    params = {"to": end.strftime(TIME_FORMAT), "filter": field, "pageSize": str(page_size), "cursor": cursor}
    return str(request_url.with_query(params))


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
    """``GET /warehouse/reporting/asn``: one row per item of the open returns created in range.

    The columns are those Loop's ASN page documents; which returns are listed (open ones,
    by creation time) is a guess, and so is ``id`` (the return's, so it repeats across a
    return's items; Loop calls it the identifier of the ASN report).
    """
    start, end = parse_range(query, store.clock())
    rows = []
    for ret in sorted(store.returns.values(), key=lambda r: r.id):
        if ret.state != "open" or not start <= ret.created_at.replace(microsecond=0) <= end:
            continue
        order = ret.order
        for item in ret.line_items:
            rows.append(
                {
                    "id": ret.id,
                    "return_line_item_id": item.id,
                    "order_id": order.id,
                    "order_name": order.name,
                    "order_number": order.name.lstrip("#"),
                    "provider_order_number": order.name.lstrip("#"),
                    "state": ret.state,
                    "customer_email": order.email,
                    "title": item.line_item.title,
                    "purchase_price": str(minor_to_decimal(item.line_item.price)),
                    "sku": item.line_item.sku,
                    "barcode": None,
                    "carrier": "UPS",
                    "service": "Ground",
                    "label_status": ret.label_status or "N/A",
                    "tracking_number": f"1Z{ret.id:012d}",
                    "integration_tracking_url": None,
                    "restock_status": None,
                    "currency": order.currency,
                    "label_updated_at": (ret.label_updated_at or ret.created_at).strftime(TIME_FORMAT),
                    "label_url": f"https://labels.example.com/{ret.id}.pdf",
                    "label_rate": "0.00",
                    "closed_at": None,
                    "updated_at": ret.updated_at.strftime(TIME_FORMAT),
                    "created_at": ret.created_at.strftime(TIME_FORMAT),
                    "return_reason": item.reason,
                    "actioned_by": None,
                    "return_method": ret.return_method or "label",
                    "return_method_rma_code": None,
                    "return_method_state": None,
                    "date_delivered": None,
                    "outcome": item.outcome,
                    "scannable_id": None,
                    "package_reference": None,
                    "shipping_box_barcode": None,
                    "provider_created_at": order.created_at.strftime(TIME_FORMAT),
                    "destination_id": None,
                    "destination_name": None,
                }
            )
    return rows


class ReturnData:
    """The return-data handlers over the store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def routes(self, scope: str) -> list[Route]:
        """The routes, all needing ``scope``."""
        return [
            ("GET", "/warehouse/return/list", scope, self._list_returns),
            ("GET", "/warehouse/return/details", scope, self._return_details),
            ("GET", "/warehouse/reporting/asn", scope, self._asn),
        ]

    async def _list_returns(self, request: web.Request) -> web.StreamResponse:
        return json_response(list_returns(self.store, request.query, request.url))

    async def _return_details(self, request: web.Request) -> web.StreamResponse:
        ret = find_return(self.store, request.query)
        if ret is None:
            return json_response({"error": {"message": "Return not found."}})  # Loop's "no match", status 200
        return json_response(render_return(ret))

    async def _asn(self, request: web.Request) -> web.StreamResponse:
        return json_response(asn_rows(self.store, request.query))
