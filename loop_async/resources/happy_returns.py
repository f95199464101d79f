"""Happy Returns shipments (scope Happy Returns Shipments (Read)): ``loop.happy_returns.shipments``.

Consolidated boxes of bagged returns on their way to a warehouse. The lists are Laravel pages
(``current_page``, ``data``, ``next_page_url``), walked by ``async for``.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import datetime, timezone

from loop_async._sansio.problems import Problems
from loop_async._transport import Transport
from loop_async.models._convert import structure
from loop_async.models.warehouse import Shipment, ShipmentItem
from loop_async.resources._pages import laravel_items

__all__ = ["HappyReturnsResource", "ShipmentsResource"]

_ID = re.compile(r"[A-Za-z0-9_-]+")


def _page_size(problems: Problems, page_size: object) -> None:
    if page_size is not None and (isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1):
        problems.add("page_size", f"must be a positive integer, got {page_size!r}")


class ShipmentsResource:
    """``loop.happy_returns.shipments``: list, get, and the items of a shipment."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def list(
        self, start: datetime | None = None, end: datetime | None = None, *, page_size: int | None = None
    ) -> AsyncIterator[Shipment]:
        """Every shipment (created between ``start`` and ``end`` when given), page after page.

        ``start``/``end`` are timezone-aware and sent as ISO 8601 (UTC); ``page_size`` is sent as
        ``per_page`` (not documented by Loop: a guess). Arguments are checked before any request.
        """
        problems = Problems("happy_returns.shipments.list")
        params: dict[str, str] = {}
        for name, value in (("from", start), ("to", end)):
            if value is None:
                continue
            if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
                problems.add("start" if name == "from" else "end", "must be a timezone-aware datetime")
            else:
                params[name] = value.astimezone(timezone.utc).isoformat()
        if len(params) == 2 and start is not None and end is not None and start > end:
            problems.add("start", "must not be after end")
        _page_size(problems, page_size)
        problems.raise_if_any()
        if page_size is not None:
            params["per_page"] = str(page_size)
        url = self._transport.url("happy-returns", "shipments")
        return laravel_items(self._transport, url, params, Shipment, "shipments")

    async def get(self, shipment_id: str | int) -> Shipment:
        """One shipment, by its Happy Returns shipment id (Loop's path parameter)."""
        problems = Problems("happy_returns.shipments.get")
        # Letters, digits, "-" and "_" only: a "/" or ".." would reach another path of the API.
        if (
            isinstance(shipment_id, bool)
            or not isinstance(shipment_id, str | int)
            or not _ID.fullmatch(str(shipment_id))
        ):
            problems.add("shipment_id", f"must be an id of letters, digits, '-' or '_', got {shipment_id!r}")
        problems.raise_if_any()
        url = self._transport.url("happy-returns", "shipments", str(shipment_id))
        response = await self._transport.request("GET", url)
        return structure(response.data, Shipment, what="shipment")

    def items(self, shipment_id: int, *, page_size: int | None = None) -> AsyncIterator[ShipmentItem]:
        """Every item of a shipment (by ``loop_shipment_id``), page after page."""
        problems = Problems("happy_returns.shipments.items")
        problems.positive_id("shipment_id", shipment_id)
        _page_size(problems, page_size)
        problems.raise_if_any()
        params = {"per_page": str(page_size)} if page_size is not None else None
        url = self._transport.url("happy-returns", "shipments", shipment_id, "items")
        return laravel_items(self._transport, url, params, ShipmentItem, "shipment items")


class HappyReturnsResource:
    """``loop.happy_returns``: the Happy Returns integration (``.shipments``)."""

    def __init__(self, transport: Transport) -> None:
        self.shipments = ShipmentsResource(transport)
