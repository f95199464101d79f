"""Webhook subscriptions (scope Developer Tools): list, create, update, delete."""

from __future__ import annotations

import builtins
from typing import Any

from yarl import URL

from loop_async._convert import structure
from loop_async.models.webhooks import Webhook, WebhookStatus, WebhookTopic, WebhookTrigger
from loop_async.resources._validate import Problems
from loop_async.transport import Transport

__all__ = ["WebhooksResource"]


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
        """Subscribe ``url`` to ``topic``/``trigger`` (e.g. ``"return"``, ``"return.closed"``)."""
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
    ) -> None:
        """Change a subscription; only the fields given are sent (at least one)."""
        problems = Problems("webhooks.update")
        problems.positive_id("webhook_id", webhook_id)
        problems.text("topic", topic, required=False)
        problems.text("trigger", trigger, required=False)
        if url is not None:
            _check_url(problems, url)
        if active is not None and not isinstance(active, bool):
            problems.add("active", f"must be a bool, got {type(active).__name__}")
        body: dict[str, Any] = {}
        if topic is not None:
            body["topic"] = str(topic)
        if trigger is not None:
            body["trigger"] = str(trigger)
        if url is not None:
            body["url"] = url
        if active is not None:
            body["status"] = _status(active)
        if not body:
            problems.add("topic/trigger/url/active", "give at least one field to change")
        problems.raise_if_any()
        await self._transport.request("PUT", self._transport.url("webhooks", webhook_id), json=body)

    async def delete(self, webhook_id: int) -> None:
        """Remove a subscription."""
        problems = Problems("webhooks.delete")
        problems.positive_id("webhook_id", webhook_id)
        problems.raise_if_any()
        await self._transport.request("DELETE", self._transport.url("webhooks", webhook_id))


def _status(active: bool) -> str:
    return str(WebhookStatus.ACTIVE if active else WebhookStatus.INACTIVE)
