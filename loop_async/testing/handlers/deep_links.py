"""Deep links into the shopper's returns portal: ``POST /order/link`` and ``POST /order/qr``.

The link's token is derived from the server's seed and the order, so it is stable per order.
"""

from __future__ import annotations

import hashlib
from typing import Any

from aiohttp import web

from loop_async.testing.error_bodies import LoopHTTPError, action_error, json_response
from loop_async.testing.handlers._request import Route, json_object
from loop_async.testing.store import FakeOrder, Store

__all__ = ["DeepLinks"]


class DeepLinks:
    """The deep-link handlers over the store's orders."""

    def __init__(self, store: Store, seed: int) -> None:
        self.store = store
        self._seed = seed

    def routes(self, scope: str) -> list[Route]:
        """The routes, all needing ``scope``."""
        return [("POST", "/order/link", scope, self._deep_link), ("POST", "/order/qr", scope, self._deep_link_qr)]

    async def _deep_link_order(self, request: web.Request) -> tuple[FakeOrder, dict[str, Any], str]:
        body = await json_object(request)
        errors = []
        name, zip_, gift = body.get("name"), body.get("zip"), body.get("gift", False)
        if not isinstance(name, str) or not name.strip():
            errors.append("The name field is required.")
        if not isinstance(zip_, str | int) or isinstance(zip_, bool) or not str(zip_).strip():
            errors.append("The zip field is required.")
        if not isinstance(gift, bool):
            errors.append("The gift field must be true or false.")
        if errors:
            raise LoopHTTPError(400, {"errors": errors})
        order = self.store.order(str(name))
        if order is None:
            raise action_error(404, "ORDER_NOT_FOUND", f"Order {name} was not found.")
        if str(zip_).strip().lower() not in (order.zip, order.email.lower()):
            raise LoopHTTPError(400, {"errors": ["The zip does not match the order."]})
        token = hashlib.sha256(f"{self._seed}:{order.name}".encode()).hexdigest()[:20]
        url = f"https://returns.example.com/#/link/{token}" + ("?gift=1" if gift else "")
        return order, body, url

    async def _deep_link(self, request: web.Request) -> web.StreamResponse:
        _, _, url = await self._deep_link_order(request)
        return json_response({"url": url})

    async def _deep_link_qr(self, request: web.Request) -> web.StreamResponse:
        _, body, url = await self._deep_link_order(request)
        kind, size = body.get("type", "png"), body.get("size", 300)
        errors = []
        if kind not in ("png", "eps", "svg"):
            errors.append("The type must be one of png, eps, svg.")
        if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
            errors.append("The size must be a positive integer.")
        if errors:
            raise LoopHTTPError(400, {"errors": errors})
        token = url.rsplit("/", 1)[-1].split("?")[0]
        return json_response({"qr": f"https://qr.example.com/{token}.{kind}?size={size}", "deeplink_url": url})
