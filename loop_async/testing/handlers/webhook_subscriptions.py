"""Webhook subscription management: ``GET/POST /webhooks``, ``PUT/DELETE /webhooks/{id}``.

The same concept as :mod:`loop_async.resources.webhook_subscriptions`, served instead of called;
delivery is :mod:`loop_async.testing.webhook_sender`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import web
from yarl import URL

from loop_async.testing.error_bodies import action_error, json_response
from loop_async.testing.handlers._request import Route, json_object, parse_object
from loop_async.testing.store import FakeWebhook, Store

__all__ = ["MAX_WEBHOOKS", "WEBHOOK_PUT_REQUIRED", "WEBHOOK_TOPICS", "WEBHOOK_TRIGGERS", "WebhookSubscriptions"]

WEBHOOK_TOPICS = frozenset(
    {
        "return",
        "label",
        "restock",
        "giftcard",
        "happy.returns.shipment",
        "label.request",
        "return.processing",
        "ship-by-loop",  # a guess: Loop documents the triggers, not this topic's name
    }
)
WEBHOOK_TRIGGERS = frozenset(
    {
        "return.created",
        "return.updated",
        "return.closed",
        "label.created",
        "label.updated",
        "label.requested",
        "label.closed",
        "label.request.issued",
        "label.request.cancelled",
        "restock.requested",
        "giftcard.requested",
        "shipment.processed",
        "return.processing.failed",
        "ship-by-loop.services.requested",
        "ship-by-loop.purchase.requested",
        "ship-by-loop.cancellation.requested",
    }
)
#: Loop's PUT /webhooks/{id} requires these with every update.
WEBHOOK_PUT_REQUIRED = ("topic", "trigger", "url")
MAX_WEBHOOKS = 25


def _problems(body: Mapping[str, Any], *, partial: bool) -> list[str]:
    problems = []
    checks: list[tuple[str, Callable[[Any], bool], str]] = [
        ("topic", lambda v: v in WEBHOOK_TOPICS, "an unknown topic"),
        ("trigger", lambda v: v in WEBHOOK_TRIGGERS, "an unknown trigger"),
        (
            "url",
            lambda v: isinstance(v, str) and URL(v).scheme in ("http", "https") and bool(URL(v).host),
            "not a URL",
        ),
    ]
    for name, ok, what in checks:
        if (name in body or not partial) and not ok(body.get(name)):
            problems.append(f"{name} is {what}")
    if "status" in body and body["status"] not in ("active", "inactive"):
        problems.append("status must be active or inactive")
    return problems


class WebhookSubscriptions:
    """The subscription handlers over the store's webhooks."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def routes(self, scope: str) -> list[Route]:
        """The routes, all needing ``scope``."""
        return [
            ("GET", "/webhooks", scope, self._list),
            ("POST", "/webhooks", scope, self._create),
            ("PUT", "/webhooks/{webhook_id}", scope, self._update),
            ("DELETE", "/webhooks/{webhook_id}", scope, self._delete),
        ]

    async def _list(self, request: web.Request) -> web.StreamResponse:
        return json_response({"webhooks": [w.as_json() for w in self.store.webhooks.values()]})

    async def _create(self, request: web.Request) -> web.StreamResponse:
        body = await json_object(request, required=True)
        problems = _problems(body, partial=False)
        if problems:
            raise action_error(422, "FAILED_TO_CREATE_WEBHOOK", "; ".join(problems))
        if len(self.store.webhooks) >= MAX_WEBHOOKS:
            raise action_error(422, "DESTINATION_LIMIT_EXCEEDED", f"At most {MAX_WEBHOOKS} webhooks per shop.")
        hook = FakeWebhook(
            id=self.store.next_id("webhook"),
            topic=body["topic"],
            trigger=body["trigger"],
            url=body["url"],
            status=body.get("status", "inactive"),  # the default a third-party spec of Loop's API gives
        )
        self.store.webhooks[hook.id] = hook
        return json_response(hook.as_json(), status=201)

    def _webhook(self, request: web.Request, code: str) -> FakeWebhook:
        value = request.match_info["webhook_id"]
        hook = self.store.webhooks.get(int(value)) if value.isdigit() else None
        if hook is None:
            raise action_error(404, code, f"Webhook {value} was not found.")
        return hook

    async def _update(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        hook = self._webhook(request, "FAILED_TO_UPDATE_WEBHOOK")
        body = parse_object(raw, required=True)
        problems = [f"{name} is required" for name in WEBHOOK_PUT_REQUIRED if name not in body]
        problems += _problems(body, partial=True)
        if problems:
            raise action_error(422, "FAILED_TO_UPDATE_WEBHOOK", "; ".join(problems))
        for name in ("topic", "trigger", "url", "status"):
            if name in body:
                setattr(hook, name, body[name])
        return web.Response(status=204)

    async def _delete(self, request: web.Request) -> web.StreamResponse:
        hook = self._webhook(request, "FAILED_TO_DELETE_WEBHOOK")
        del self.store.webhooks[hook.id]
        return web.Response(status=204)
