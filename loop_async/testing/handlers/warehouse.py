"""``server.warehouse``: the warehouse and support areas together, with their state and test controls.

One object for the tests to reach (``.shipments``, ``.records``, ``.seed_shipment(...)``, ...);
the handlers are :mod:`.dispositioning`, :mod:`.shipments` and :mod:`.support`. Shapes Loop does
not document are guesses, listed in the fidelity table (``docs/fidelity.md``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from loop_async.testing.handlers._request import Route
from loop_async.testing.handlers.dispositioning import Dispositioning
from loop_async.testing.handlers.shipments import FakeShipment, Shipments
from loop_async.testing.handlers.support import FakeListEntry, Support
from loop_async.testing.store import FakeReturnLineItem, Store
from loop_async.testing.webhook_sender import WebhookDispatcher

__all__ = ["Warehouse"]


class Warehouse:
    """The warehouse and support state of one fake server, and its routes."""

    def __init__(
        self, store: Store, dispatcher: WebhookDispatcher, side_effects: Counter[tuple[str, int]], *, shipments: int = 3
    ) -> None:
        self.dispositioning = Dispositioning(store, side_effects)
        self.happy_returns = Shipments(store, dispatcher, seeded=shipments)
        self.support = Support(store, side_effects)

    @property
    def records(self) -> list[tuple[str, dict[str, Any]]]:
        """Every grade and disposition Loop accepted, in order: ``(kind, item JSON)``."""
        return self.dispositioning.records

    @property
    def foreign_line_item_ids(self) -> set[int]:
        """Order line item ids that belong to another shop (grade/assess answer 403)."""
        return self.dispositioning.foreign_line_item_ids

    @property
    def shipments(self) -> dict[int, FakeShipment]:
        """Happy Returns shipments by ``loop_shipment_id``."""
        return self.happy_returns.shipments

    @property
    def destinations(self) -> dict[int, dict[str, Any]]:
        """Destinations by id (Loop's JSON objects)."""
        return self.support.destinations

    @property
    def lists(self) -> dict[str, dict[int, FakeListEntry]]:
        """``{"blocklists": {id: entry}, "allowlists": {id: entry}}``."""
        return self.support.lists

    @property
    def fraud_reports(self) -> list[dict[str, Any]]:
        """Every fraud report accepted, in order."""
        return self.support.fraud_reports

    def seed_shipment(self, return_ids: Iterable[int]) -> int:
        """A shipment holding every item of these returns; returns its ``loop_shipment_id``."""
        return self.happy_returns.seed_shipment(return_ids)

    def process_shipment(self, shipment_id: int) -> None:
        """Mark a shipment processed: the signed webhook ``shipment.processed`` goes to its subscribers."""
        self.happy_returns.process_shipment(shipment_id)

    def return_line_item(self, line_item_id: int) -> FakeReturnLineItem | None:
        """The return line item carrying order line item ``line_item_id`` (the latest return's)."""
        return self.dispositioning.return_line_item(line_item_id)

    def routes(self, *, returns: str, orders: str, happy_returns: str) -> list[Route]:
        """``(method, path template, scope, handler)`` for every endpoint, given the scope names."""
        return [
            *self.dispositioning.routes(returns),
            *self.happy_returns.routes(happy_returns),
            *self.support.routes(returns=returns, orders=orders),
        ]
