"""Webhook subscriptions (scope Developer Tools): list, create, update, delete."""

from __future__ import annotations

import builtins
from typing import Any

from yarl import URL

from loop_async._sansio.problems import Problems
from loop_async._transport import Transport
from loop_async.errors import NotFoundError
from loop_async.models._convert import structure
from loop_async.models.webhook_events import Webhook, WebhookStatus, WebhookTopic, WebhookTrigger

__all__ = ["WebhooksResource"]

#: What Loop's ``PUT /webhooks/{id}`` requires with every update.
_PUT_FIELDS = ("topic", "trigger", "url")


def _check_url(problems: Problems, url: object) -> None:
    if not isinstance(url, str) or not url.strip():
        problems.add("url", "must be an absolute http(s) URL")
        return
    parsed = URL(url)
    if parsed.scheme not in ("http", "https") or not parsed.host:
        problems.add("url", f"must be an absolute http(s) URL, got {url!r}")


class WebhooksResource:
    """``loop.webhooks``: the shop's webhook subscriptions."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    async def list(self) -> builtins.list[Webhook]:
        """Every webhook subscription of the shop."""
        response = await self._transport.request("GET", self._transport.url("webhooks"))
        data = response.data
        items = data.get("webhooks") if isinstance(data, dict) else data
        return builtins.list(structure(items, tuple[Webhook, ...], what="webhooks"))

    async def create(
        self, topic: str | WebhookTopic, trigger: str | WebhookTrigger, url: str, *, active: bool = True
    ) -> Webhook:
        """Subscribe ``url`` to ``topic``/``trigger`` (e.g. ``"return"``, ``"return.closed"``).

        ``status`` is always sent (``active`` by default): Loop's own default is said to be
        ``inactive``. Loop answers 201 with the new subscription.
        """
        problems = Problems("webhooks.create")
        problems.text("topic", topic)
        problems.text("trigger", trigger)
        _check_url(problems, url)
        if not isinstance(active, bool):
            problems.add("active", f"must be a bool, got {type(active).__name__}")
        problems.raise_if_any()
        body = {"topic": str(topic), "trigger": str(trigger), "url": url, "status": _status(active)}
        response = await self._transport.request("POST", self._transport.url("webhooks"), json=body)
        return structure(response.data, Webhook, what="webhook")

    async def update(
        self,
        webhook_id: int,
        *,
        topic: str | WebhookTopic | None = None,
        trigger: str | WebhookTrigger | None = None,
        url: str | None = None,
        active: bool | None = None,
    ) -> Webhook:
        """Change a subscription (at least one field); returns the subscription as sent.

        Loop's ``PUT /webhooks/{id}`` requires ``topic``, ``trigger`` and ``url`` with every
        update, so unless all three are given the current subscription is read first (``GET
        /webhooks``) and the fields not given are sent as they are; ``status`` is sent too, so
        that a PUT never resets it. This read-modify-write is not atomic: a change made by
        someone else between the read and the PUT is overwritten. An id that is not among the
        shop's webhooks raises :class:`~loop_async.errors.NotFoundError` before any PUT.
        """
        problems = Problems("webhooks.update")
        problems.positive_id("webhook_id", webhook_id)
        problems.text("topic", topic, required=False)
        problems.text("trigger", trigger, required=False)
        if url is not None:
            _check_url(problems, url)
        if active is not None and not isinstance(active, bool):
            problems.add("active", f"must be a bool, got {type(active).__name__}")
        if topic is None and trigger is None and url is None and active is None:
            problems.add("topic/trigger/url/active", "give at least one field to change")
        problems.raise_if_any()
        changes: dict[str, Any] = {}
        if topic is not None:
            changes["topic"] = str(topic)
        if trigger is not None:
            changes["trigger"] = str(trigger)
        if url is not None:
            changes["url"] = url
        if active is not None:
            changes["status"] = _status(active)
        body = changes
        if set(_PUT_FIELDS) - changes.keys():
            current = await self._current(webhook_id)
            body = {**current, **changes}
        await self._transport.request("PUT", self._transport.url("webhooks", webhook_id), json=body)
        return structure({"id": webhook_id, **body}, Webhook, what="webhook")

    async def _current(self, webhook_id: int) -> dict[str, Any]:
        """The fields of ``webhook_id`` that a PUT sends, as Loop lists them."""
        url = self._transport.url("webhooks")
        response = await self._transport.request("GET", url)
        data = response.data
        items = data.get("webhooks") if isinstance(data, dict) else data
        for item in items if isinstance(items, builtins.list) else ():
            if isinstance(item, dict) and item.get("id") == webhook_id:
                return {name: item[name] for name in (*_PUT_FIELDS, "status") if item.get(name) is not None}
        raise NotFoundError(
            f"webhook {webhook_id} is not among the shop's webhooks", status=response.status, method="GET", url=url
        )

    async def delete(self, webhook_id: int) -> None:
        """Remove a subscription."""
        problems = Problems("webhooks.delete")
        problems.positive_id("webhook_id", webhook_id)
        problems.raise_if_any()
        await self._transport.request("DELETE", self._transport.url("webhooks", webhook_id))


def _status(active: bool) -> str:
    return str(WebhookStatus.ACTIVE if active else WebhookStatus.INACTIVE)
