"""Support endpoints: destinations, fraud reports, the block and allow lists, order return eligibility.

Eligibility is computed from the order's line items and the two lists: an allowlisted order or
email overrides every rule; a blocklisted one makes every item ineligible with the code
``blocked`` (a guess, listed in ``docs/fidelity.md``). The same concept as
:mod:`loop_async.models.support`, served instead of decoded.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs
from aiohttp import web

from loop_async.testing.error_bodies import action_error, json_response, validation_error
from loop_async.testing.handlers._laravel_page import laravel_page
from loop_async.testing.handlers._request import Handler, Route, int_param, parse_object
from loop_async.testing.store import FakeOrder, Store

__all__ = ["FRAUD_CATEGORIES", "MAX_DESTINATIONS", "FakeListEntry", "Support"]

MAX_DESTINATIONS = 10
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
LIST_PER_PAGE = 15  # Loop's documented page size for the block/allow lists


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


class Support:
    """The support handlers and their state (destinations, lists, fraud reports)."""

    def __init__(self, store: Store, side_effects: Counter[tuple[str, int]]) -> None:
        self.store = store
        self.side_effects = side_effects
        self._ids = {kind: itertools.count(start) for kind, start in (("destination", 1), ("list", 1), ("fraud", 87))}
        self.destinations: dict[int, dict[str, Any]] = {}
        self.lists: dict[str, dict[int, FakeListEntry]] = {"blocklists": {}, "allowlists": {}}
        self.fraud_reports: list[dict[str, Any]] = []
        self._seed()

    def _next(self, kind: str) -> int:
        return next(self._ids[kind])

    def _seed(self) -> None:
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

    def routes(self, *, returns: str, orders: str) -> list[Route]:
        """The routes: destinations and fraud reports need ``returns``, eligibility and the lists ``orders``."""
        return [
            ("POST", "/orders/return-eligibility", orders, self._eligibility),
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
                return json_response(laravel_page(data, request.query, request.url, LIST_PER_PAGE))
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
