"""Happy Returns shipments: ``GET /happy-returns/shipments[/{id}[/items]]``, seeded and test-driven.

A few shipments are seeded; :meth:`Shipments.seed_shipment` builds one from returns and
:meth:`Shipments.process_shipment` sends the signed ``shipment.processed`` webhook.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from typing import Any

import attrs
from aiohttp import web

from loop_async.testing.catalog import SHOP_ID
from loop_async.testing.error_bodies import action_error, json_response, validation_error
from loop_async.testing.handlers._laravel_page import laravel_page
from loop_async.testing.handlers._request import Route
from loop_async.testing.store import FakeOrder, Store
from loop_async.testing.webhook_sender import WebhookDispatcher

__all__ = ["SHIPMENTS_PER_PAGE", "FakeShipment", "Shipments"]

SHIPMENTS_PER_PAGE = 200  # Loop's documented page size for shipments


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


class Shipments:
    """The seeded shipments, their handlers and test controls."""

    def __init__(self, store: Store, dispatcher: WebhookDispatcher, *, seeded: int = 3) -> None:
        self.store = store
        self.dispatcher = dispatcher
        self._ids = itertools.count(12345)
        self.shipments: dict[int, FakeShipment] = {}
        self._seed(seeded)

    def routes(self, scope: str) -> list[Route]:
        """The routes, all needing ``scope``."""
        return [
            ("GET", "/happy-returns/shipments", scope, self._list_shipments),
            ("GET", "/happy-returns/shipments/{shipment_id}", scope, self._get_shipment),
            ("GET", "/happy-returns/shipments/{shipment_id}/items", scope, self._shipment_items),
        ]

    def _seed(self, shipments: int) -> None:
        now = self.store.clock()
        orders = self.store.orders
        for index in range(shipments):
            lines = [(orders[(index + k) % len(orders)], k) for k in range(5)]
            items = [self._item(order, order.eligible_line_items[k % 3], None, 0) for order, k in lines]
            self._add_shipment(items, now - timedelta(days=shipments - index))

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
        shipment_id = next(self._ids)
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

    # -- handlers ----------------------------------------------------------------------------

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
        return json_response(laravel_page(chosen, request.query, request.url, SHIPMENTS_PER_PAGE))

    async def _get_shipment(self, request: web.Request) -> web.StreamResponse:
        return json_response(self._shipment(request).as_json())

    async def _shipment_items(self, request: web.Request) -> web.StreamResponse:
        shipment = self._shipment(request)
        return json_response(laravel_page(list(shipment.items), request.query, request.url, SHIPMENTS_PER_PAGE))
