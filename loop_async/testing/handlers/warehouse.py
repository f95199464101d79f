"""The fake server's warehouse and support endpoints: grading and dispositioning, order return
eligibility, Happy Returns shipments, destinations, fraud reports, the block and allow lists.

Handlers over the shared :class:`~loop_async.testing.store.Store`, registered by
:meth:`FakeLoopServer.make_app` through :meth:`Warehouse.routes`. Grades and dispositions are
recorded on the return line item that carries the order line item (the latest return when
several do), so they show in the return's ``line_items``. Eligibility is computed from the
order's line items and the two lists (an allowlisted order or email overrides every rule; a
blocklisted one makes every item ineligible with the code ``blocked``, a guess). Shipments and
destinations are seeded; :meth:`Warehouse.seed_shipment` builds one from returns and
:meth:`Warehouse.process_shipment` delivers the signed ``shipment.processed`` webhook.
Error shapes are Loop's (:mod:`.error_bodies`); shapes Loop does not document are guesses, listed
in the fidelity table (``docs/fidelity.md``).
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

import attrs
from aiohttp import web
from multidict import MultiMapping
from yarl import URL

from loop_async.testing.error_bodies import action_error, json_response, validation_error
from loop_async.testing.handlers._request import Handler, Route, int_param, parse_object
from loop_async.testing.store import SHOP_ID, FakeOrder, FakeReturnLineItem, Store
from loop_async.testing.webhook_sender import WebhookDispatcher

__all__ = [
    "CONDITION_CATEGORIES",
    "DISPOSITION_OUTCOMES",
    "FRAUD_CATEGORIES",
    "MAX_DESTINATIONS",
    "MAX_ITEMS",
    "FakeListEntry",
    "FakeShipment",
    "Warehouse",
]

MAX_ITEMS = 30
MAX_DESTINATIONS = 10
DISPOSITION_OUTCOMES = frozenset({"back_to_stock", "resale_hold", "recycle", "donate", "missing"})
CONDITION_CATEGORIES = frozenset({"grade_a", "grade_b", "grade_c", "grade_d", "incorrect_item", "missing", "junk"})
FRAUD_CATEGORIES = frozenset(
    {
        "package-never-received",
        "package-is-empty",
        "package-is-missing-items",
        "instant-return-charge-failed",
        "keep-item-abuse",
        "splitting-returns-to-avoid-restrictions",
        "item-is-worn",
        "other",
    }
)
LIST_TYPES = {"blocklists": ("order", "email", "product", "product_tag"), "allowlists": ("order", "email")}
DESTINATION_TYPES = frozenset({"warehouse", "donate"})
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
SHIPMENTS_PER_PAGE = 200  # Loop's documented page size for shipments
LIST_PER_PAGE = 15  # Loop's documented page size for the block/allow lists


@attrs.define
class FakeShipment:
    """A consolidated Happy Returns shipment and its items (JSON objects as Loop sends them)."""

    id: int
    happy_returns_id: str
    created_at: datetime
    updated_at: datetime
    items: list[dict[str, Any]]
    processed: bool = False

    def as_json(self) -> dict[str, Any]:
        """Loop's shipment object."""
        return {
            "loop_shipment_id": self.id,
            "happy_returns_shipment_id": self.happy_returns_id,
            "line_item_count": len(self.items),
            "return_count": len({item["return_id"] for item in self.items if item["return_id"] is not None}),
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }


@attrs.define
class FakeListEntry:
    """An entry of the blocklist or the allowlist."""

    id: int
    type: str
    value: str
    secondary_value: str | None
    created_at: datetime

    def as_json(self) -> dict[str, Any]:
        """Loop's entry object."""
        return {
            "id": self.id,
            "type": self.type,
            "value": self.value,
            "secondary_value": self.secondary_value,
            "created_at": self.created_at.strftime(TIME_FORMAT),
        }


def _page(items: list[dict[str, Any]], query: MultiMapping[str], url: URL, default_size: int) -> dict[str, Any]:
    """A Laravel length-aware page of ``items`` (``?page=``, and ``?per_page=`` for tests)."""
    errors: dict[str, list[str]] = {}
    page_text, size_text = query.get("page", "1"), query.get("per_page", str(default_size))
    if not page_text.isdigit() or int(page_text) < 1:
        errors["page"] = ["The page must be a positive integer."]
    if not size_text.isdigit() or not 1 <= int(size_text) <= 1000:
        errors["per_page"] = ["The per page must be between 1 and 1000."]
    if errors:
        raise validation_error(errors)
    page, size = int(page_text), int(size_text)
    last = max(1, -(-len(items) // size))
    start = (page - 1) * size
    chunk = items[start : start + size]
    base = url.with_query({k: v for k, v in query.items() if k != "page"})

    def link(number: int) -> str:
        return str(base.update_query(page=str(number)))

    return {
        "current_page": page,
        "data": chunk,
        "first_page_url": link(1),
        "from": start + 1 if chunk else None,
        "last_page": last,
        "last_page_url": link(last),
        "next_page_url": link(page + 1) if page < last else None,
        "path": str(url.with_query(None)),
        "per_page": size,
        "prev_page_url": link(page - 1) if page > 1 else None,
        "to": start + len(chunk) if chunk else None,
        "total": len(items),
    }


def _check_time(errors: dict[str, list[str]], key: str, value: Any, *, iso: bool = False) -> None:
    if value is None:
        return
    if isinstance(value, str) and _TIMESTAMP.fullmatch(value):
        try:
            datetime.strptime(value, TIME_FORMAT)
            return
        except ValueError:
            pass
    elif iso and isinstance(value, str):
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
            return
        except ValueError:
            pass
    errors[key] = [f"The {key} does not match the format Y-m-d H:i:s."]


def _check_processor(errors: dict[str, list[str]], key: str, value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, str) or len(value) > 100:
        errors[key] = [f"The {key} may not be greater than 100 characters."]
    elif not _EMAIL.fullmatch(value):
        errors[key] = [f"The {key} must be a valid email address."]


class Warehouse:
    """The warehouse and support state of one fake server, and its route handlers."""

    def __init__(
        self, store: Store, dispatcher: WebhookDispatcher, side_effects: Counter[tuple[str, int]], *, shipments: int = 3
    ) -> None:
        self.store = store
        self.dispatcher = dispatcher
        self.side_effects = side_effects
        self._ids = {
            kind: itertools.count(start)
            for kind, start in (("shipment", 12345), ("destination", 1), ("list", 1), ("fraud", 87))
        }
        #: Every grade and disposition Loop accepted, in order: ``(kind, item JSON)``.
        self.records: list[tuple[str, dict[str, Any]]] = []
        #: Order line item ids that belong to another shop (grade/assess answer 403).
        self.foreign_line_item_ids: set[int] = set()
        self.shipments: dict[int, FakeShipment] = {}
        self.destinations: dict[int, dict[str, Any]] = {}
        self.lists: dict[str, dict[int, FakeListEntry]] = {"blocklists": {}, "allowlists": {}}
        self.fraud_reports: list[dict[str, Any]] = []
        self._seed(shipments)

    def _next(self, kind: str) -> int:
        return next(self._ids[kind])

    def _seed(self, shipments: int) -> None:
        now = self.store.clock()
        orders = self.store.orders
        for index in range(shipments):
            lines = [(orders[(index + k) % len(orders)], k) for k in range(5)]
            items = [self._item(order, order.eligible_line_items[k % 3], None, 0) for order, k in lines]
            self._add_shipment(items, now - timedelta(days=shipments - index))
        for name, kind in (("Main warehouse", "warehouse"), ("Donation partner", "donate")):
            destination_id = self._next("destination")
            self.destinations[destination_id] = {
                "id": destination_id,
                "type": kind,
                "name": name,
                "enabled": True,
                "address": {
                    "address1": f"{100 + destination_id} Dock Street",
                    "address2": None,
                    "city": "Columbus",
                    "state": "Ohio",
                    "zip": "43210",
                    "country": "United States",
                    "country_code": "US",
                },
            }

    def _item(self, order: FakeOrder, line: Any, return_id: int | None, shipment_id: int) -> dict[str, Any]:
        rma = f"HR{order.id:06d}"
        return {
            "carrier": "ups",
            "happy_returns_return_bag_barcodes": [f"{rma}-{line.id}-1"],
            "happy_returns_rma_id": rma,
            "happy_returns_shipment_id": None,  # filled by _add_shipment
            "item_title": line.title,
            "order_name": order.name,
            "po_number": f"PO-{order.id}",
            "return_id": return_id,
            "shipment_id": shipment_id,
            "shipping_box_barcode": None,
            "sku": line.sku,
            "tracking_number": None,
            "variant_title": line.variant_title,
        }

    def _add_shipment(self, items: list[dict[str, Any]], created_at: datetime) -> FakeShipment:
        shipment_id = self._next("shipment")
        shipment = FakeShipment(shipment_id, f"{shipment_id * 10 + 6}", created_at, created_at, items)
        for item in items:
            item.update(
                shipment_id=shipment_id,
                happy_returns_shipment_id=shipment.happy_returns_id,
                shipping_box_barcode=f"SB-{shipment_id:08d}",
                tracking_number=f"1Z{shipment_id:012d}",
            )
        self.shipments[shipment_id] = shipment
        return shipment

    # -- test controls ---------------------------------------------------------------------

    def seed_shipment(self, return_ids: Iterable[int]) -> int:
        """A shipment holding every item of these returns; returns its ``loop_shipment_id``."""
        items = []
        for return_id in return_ids:
            ret = self.store.returns[return_id]
            items += [self._item(ret.order, item.line_item, ret.id, 0) for item in ret.line_items]
        return self._add_shipment(items, self.store.clock()).id

    def process_shipment(self, shipment_id: int) -> None:
        """Mark a shipment processed: the signed webhook ``shipment.processed`` goes to its subscribers."""
        shipment = self.shipments[shipment_id]
        shipment.processed = True
        shipment.updated_at = self.store.clock()
        payload = {"shop_id": SHOP_ID, **shipment.as_json()}
        self.dispatcher.emit("happy.returns.shipment", "shipment.processed", payload)

    def return_line_item(self, line_item_id: int) -> FakeReturnLineItem | None:
        """The return line item carrying order line item ``line_item_id`` (the latest return's)."""
        for ret in sorted(self.store.returns.values(), key=lambda r: -r.id):
            for item in ret.line_items:
                if item.line_item.id == line_item_id:
                    return item
        return None

    # -- routes ----------------------------------------------------------------------------

    def routes(self, *, returns: str, orders: str, happy_returns: str) -> list[Route]:
        """``(method, path template, scope, handler)`` for every endpoint, given the scope names."""
        return [
            ("POST", "/dispositioning/grade", returns, self._grade),
            ("POST", "/dispositioning/assess", returns, self._assess),
            ("POST", "/orders/return-eligibility", orders, self._eligibility),
            ("GET", "/happy-returns/shipments", happy_returns, self._list_shipments),
            ("GET", "/happy-returns/shipments/{shipment_id}", happy_returns, self._get_shipment),
            ("GET", "/happy-returns/shipments/{shipment_id}/items", happy_returns, self._shipment_items),
            ("GET", "/destinations", returns, self._list_destinations),
            ("POST", "/destinations", returns, self._create_destination),
            ("GET", "/destinations/{destination_id}", returns, self._get_destination),
            ("PUT", "/destinations/{destination_id}", returns, self._update_destination),
            ("DELETE", "/destinations/{destination_id}", returns, self._delete_destination),
            ("POST", "/returns/{return_id}/fraud-report", returns, self._fraud_report),
            *(
                route
                for path in ("blocklists", "allowlists")
                for route in (
                    ("GET", f"/{path}", orders, self._list_handler(path, "list")),
                    ("POST", f"/{path}", orders, self._list_handler(path, "create")),
                    ("GET", f"/{path}/{{entry_id}}", orders, self._list_handler(path, "get")),
                    ("DELETE", f"/{path}/{{entry_id}}", orders, self._list_handler(path, "delete")),
                )
            ),
        ]

    # -- grading and dispositioning --------------------------------------------------------

    def _items(self, body: Mapping[str, Any]) -> list[Any]:
        items = body.get("items")
        if not isinstance(items, list) or not items:
            raise validation_error({"items": ["The items field is required."]})
        if len(items) > MAX_ITEMS:
            raise validation_error({"items": [f"The items may not have more than {MAX_ITEMS} items."]})
        return items

    def _line_items(self, items: list[Any], errors: dict[str, list[str]]) -> list[FakeReturnLineItem | None]:
        found: list[FakeReturnLineItem | None] = []
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                errors[f"items.{index}"] = [f"The items.{index} must be an object."]
                found.append(None)
                continue
            line_item_id = item.get("line_item_id")
            key = f"items.{index}.line_item_id"
            if type(line_item_id) is not int:
                errors[key] = [f"The {key} field is required."]
                found.append(None)
            elif line_item_id in self.foreign_line_item_ids:
                raise action_error(403, "NOT_AUTHORIZED", f"Line item {line_item_id} belongs to another shop.")
            else:
                target = self.return_line_item(line_item_id)
                if target is None:
                    errors[key] = [f"The selected {key} is invalid."]
                found.append(target)
        return found

    async def _grade(self, request: web.Request) -> web.StreamResponse:
        items = self._items(parse_object(await request.read(), required=True))
        errors: dict[str, list[str]] = {}
        targets = self._line_items(items, errors)
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                continue
            where = f"items.{index}"
            description = item.get("description")
            if not isinstance(description, str) or not description.strip():
                errors[f"{where}.description"] = [f"The {where}.description field is required."]
            elif len(description) > 255:
                errors[f"{where}.description"] = [f"The {where}.description may not be greater than 255 characters."]
            category = item.get("condition_category")
            if category is not None and category not in CONDITION_CATEGORIES:
                errors[f"{where}.condition_category"] = [f"The selected {where}.condition_category is invalid."]
            _check_processor(errors, f"{where}.return_processor", item.get("return_processor"))
            images = item.get("images", [])
            if not isinstance(images, list) or len(images) > 5 or not all(isinstance(i, str) for i in images):
                errors[f"{where}.images"] = [f"The {where}.images must be a list of at most 5 URLs."]
            _check_time(errors, f"{where}.inspected_at", item.get("inspected_at"), iso=True)
        if errors:
            raise validation_error(errors)
        for item, target in zip(items, targets, strict=True):
            assert target is not None
            target.condition_category = item.get("condition_category")
            self.records.append(("grade", dict(item)))
            self.side_effects[("grade", item["line_item_id"])] += 1
        return json_response([self._echo(item, "grade") for item in items])

    async def _assess(self, request: web.Request) -> web.StreamResponse:
        items = self._items(parse_object(await request.read(), required=True))
        errors: dict[str, list[str]] = {}
        targets = self._line_items(items, errors)
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                continue
            where = f"items.{index}"
            if item.get("disposition_outcome") not in DISPOSITION_OUTCOMES:
                errors[f"{where}.disposition_outcome"] = [f"The selected {where}.disposition_outcome is invalid."]
            _check_processor(errors, f"{where}.return_processor", item.get("return_processor"))
            note = item.get("note")
            if note is not None and (not isinstance(note, str) or len(note) > 65535):
                errors[f"{where}.note"] = [f"The {where}.note may not be greater than 65535 characters."]
            _check_time(errors, f"{where}.inspected_at", item.get("inspected_at"))
        if errors:
            raise validation_error(errors)
        for item, target in zip(items, targets, strict=True):
            assert target is not None
            target.disposition_outcome = item["disposition_outcome"]
            self.records.append(("assess", dict(item)))
            self.side_effects[("assess", item["line_item_id"])] += 1
        return json_response([self._echo(item, "assess") for item in items])

    @staticmethod
    def _echo(item: dict[str, Any], kind: str) -> dict[str, Any]:
        keys = (
            ("line_item_id", "description", "condition_category", "return_processor", "note", "images", "inspected_at")
            if kind == "grade"
            else ("line_item_id", "disposition_outcome", "return_processor", "note", "inspected_at")
        )
        return {key: item.get(key) for key in keys if key in item}

    # -- order return eligibility ----------------------------------------------------------

    def _listed(self, path: str, order: FakeOrder) -> set[str]:
        """The types of ``path``'s entries that match the order (its name, email or a variant)."""
        matches = set()
        variants = {str(li.variant_id) for li in order.line_items}
        for entry in self.lists[path].values():
            values = {entry.value, entry.secondary_value}
            if (
                (entry.type == "order" and order.name in values)
                or (entry.type == "email" and order.email in values)
                or (entry.type == "product" and values & variants)
            ):
                matches.add(entry.type)
        return matches

    async def _eligibility(self, request: web.Request) -> web.StreamResponse:
        body = parse_object(await request.read(), required=True)
        name = body.get("order_name")
        if not isinstance(name, str) or not name.strip():
            raise validation_error({"order_name": ["The order name field is required."]})
        order = self.store.order(name)
        if order is None:
            raise action_error(404, "ORDER_NOT_FOUND", f"Order {name} was not found.")
        allowed = bool(self._listed("allowlists", order) & {"order", "email"})
        blocked = bool(self._listed("blocklists", order))
        items = []
        for line in order.line_items:
            code = None if allowed else ("blocked" if blocked else line.ineligibility_code)
            items.append({"id": line.id, "external_id": str(line.id + 9_000_000_000), "eligible": code is None,
                          "ineligibility_code": code})  # fmt: skip
        return json_response({"order_id": order.id, "order_name": order.name, "items": items})

    # -- Happy Returns shipments -----------------------------------------------------------

    def _shipment(self, request: web.Request) -> FakeShipment:
        value = request.match_info["shipment_id"]
        shipment = next(
            (s for s in self.shipments.values() if value in (str(s.id), s.happy_returns_id)),
            None,
        )
        if shipment is None:
            raise action_error(404, "NOT_FOUND", f"Shipment {value} was not found.")
        return shipment

    async def _list_shipments(self, request: web.Request) -> web.StreamResponse:
        bounds: dict[str, datetime] = {}
        for name in ("from", "to"):
            text = request.query.get(name)
            if text:
                try:
                    parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "T"))
                except ValueError:
                    raise validation_error({name: [f"The {name} is not a valid date."]}) from None
                bounds[name] = parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
        chosen = [
            s.as_json()
            for s in sorted(self.shipments.values(), key=lambda s: s.id)
            if bounds.get("from", s.created_at) <= s.created_at <= bounds.get("to", s.created_at)
        ]
        return json_response(_page(chosen, request.query, request.url, SHIPMENTS_PER_PAGE))

    async def _get_shipment(self, request: web.Request) -> web.StreamResponse:
        return json_response(self._shipment(request).as_json())

    async def _shipment_items(self, request: web.Request) -> web.StreamResponse:
        shipment = self._shipment(request)
        return json_response(_page(list(shipment.items), request.query, request.url, SHIPMENTS_PER_PAGE))

    # -- destinations ----------------------------------------------------------------------

    def _destination(self, request: web.Request) -> dict[str, Any]:
        destination_id = int_param(request, "destination_id")
        destination = self.destinations.get(destination_id)
        if destination is None:
            raise action_error(404, "NOT_FOUND", f"Destination {destination_id} was not found.")
        return destination

    @staticmethod
    def _destination_problems(body: Mapping[str, Any], *, partial: bool) -> dict[str, list[str]]:
        errors: dict[str, list[str]] = {}
        if "name" in body or not partial:
            name = body.get("name")
            if not isinstance(name, str) or not name.strip():
                errors["name"] = ["The name field is required."]
        if ("type" in body or not partial) and body.get("type") not in DESTINATION_TYPES:
            errors["type"] = ["The selected type is invalid."]
        if "address" in body or not partial:
            address = body.get("address")
            if not isinstance(address, dict) or not all(v is None or isinstance(v, str) for v in address.values()):
                errors["address"] = ["The address field is required."]
        if "enabled" in body and not isinstance(body["enabled"], bool):
            errors["enabled"] = ["The enabled field must be true or false."]
        return errors

    async def _list_destinations(self, request: web.Request) -> web.StreamResponse:
        return json_response({"destinations": list(self.destinations.values())})

    async def _create_destination(self, request: web.Request) -> web.StreamResponse:
        body = parse_object(await request.read(), required=True)
        errors = self._destination_problems(body, partial=False)
        if errors:
            raise validation_error(errors)
        if len(self.destinations) >= MAX_DESTINATIONS:
            raise action_error(422, "DESTINATION_LIMIT_EXCEEDED", f"At most {MAX_DESTINATIONS} destinations.")
        destination_id = self._next("destination")
        destination = {
            "id": destination_id,
            "type": body["type"],
            "name": body["name"],
            "enabled": body.get("enabled", True),
            "address": body["address"],
        }
        self.destinations[destination_id] = destination
        self.side_effects[("destination", destination_id)] += 1
        return json_response(destination)

    async def _get_destination(self, request: web.Request) -> web.StreamResponse:
        return json_response(self._destination(request))

    async def _update_destination(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        destination = self._destination(request)
        body = parse_object(raw, required=True)
        errors = self._destination_problems(body, partial=True)
        if errors:
            raise validation_error(errors)
        destination.update({k: body[k] for k in ("name", "type", "address", "enabled") if k in body})
        return json_response(destination)

    async def _delete_destination(self, request: web.Request) -> web.StreamResponse:
        destination = self._destination(request)
        del self.destinations[destination["id"]]
        return web.Response(status=204)

    # -- fraud reports ---------------------------------------------------------------------

    async def _fraud_report(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        return_id = int_param(request, "return_id")
        if return_id not in self.store.returns:
            raise action_error(404, "NOT_FOUND", f"Return {return_id} was not found.")
        body = parse_object(raw, required=True)
        category, comment = body.get("category"), body.get("comment")
        errors: dict[str, list[str]] = {}
        if category not in FRAUD_CATEGORIES:
            errors["category"] = ["The selected category is invalid."]
        if comment is not None and not isinstance(comment, str):
            errors["comment"] = ["The comment must be a string."]
        elif category == "other" and not (comment or "").strip():
            errors["comment"] = ["The comment field is required when category is other."]
        if errors:
            raise validation_error(errors)
        report = {
            "id": self._next("fraud"),
            "return_id": return_id,
            "category": category,
            "comment": comment,
            "created_at": self.store.clock().isoformat(),
        }
        self.fraud_reports.append(report)
        self.side_effects[("fraud_report", return_id)] += 1
        return json_response(report, status=201)

    # -- block and allow lists -------------------------------------------------------------

    def _list_handler(self, path: str, action: str) -> Handler:
        entries = self.lists[path]

        def entry(request: web.Request) -> FakeListEntry:
            entry_id = int_param(request, "entry_id")
            found = entries.get(entry_id)
            if found is None:
                raise action_error(404, "NOT_FOUND", f"Entry {entry_id} was not found.")
            return found

        async def handle(request: web.Request) -> web.StreamResponse:
            if action == "list":
                data = [e.as_json() for e in sorted(entries.values(), key=lambda e: e.id)]
                return json_response(_page(data, request.query, request.url, LIST_PER_PAGE))
            if action == "get":
                return json_response(entry(request).as_json())
            if action == "delete":
                del entries[entry(request).id]
                return web.Response(status=204)
            body = parse_object(await request.read(), required=True)
            kind, value, secondary = body.get("type"), body.get("value"), body.get("secondary_value")
            errors: dict[str, list[str]] = {}
            if kind not in LIST_TYPES[path]:
                errors["type"] = ["The selected type is invalid."]
            if not isinstance(value, str) or not value.strip():
                errors["value"] = ["The value field is required."]
            elif any(e.type == kind and e.value == value for e in entries.values()):
                errors["value"] = ["The value has already been taken."]
            if secondary is not None and not isinstance(secondary, str):
                errors["secondary_value"] = ["The secondary value must be a string."]
            if errors:
                raise validation_error(errors)
            created = FakeListEntry(self._next("list"), str(kind), str(value), secondary, self.store.clock())
            entries[created.id] = created
            self.side_effects[(path, created.id)] += 1
            return json_response(created.as_json())

        return handle
