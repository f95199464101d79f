"""Webhook management (``loop.webhooks``) against the fake server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from loop_async import LoopClient
from loop_async.errors import FieldValidationError, NotFoundError, UnprocessableEntityError
from loop_async.models.webhook_events import Webhook, WebhookStatus, WebhookTopic, WebhookTrigger
from loop_async.testing import FakeLoopServer


@pytest.fixture
async def server() -> AsyncIterator[FakeLoopServer]:
    async with FakeLoopServer(orders=3) as srv:
        yield srv


@pytest.fixture
async def loop(server: FakeLoopServer) -> AsyncIterator[LoopClient]:
    async with LoopClient(server.api_key, base_url=server.url, rate_limit=None, max_retries=0) as client:
        yield client


async def test_create_list_update_delete(loop: LoopClient, server: FakeLoopServer) -> None:
    assert await loop.webhooks.list() == []
    hook = await loop.webhooks.create("return", "return.closed", "https://example.test/hooks")
    assert isinstance(hook, Webhook)
    assert hook.topic is WebhookTopic.RETURN
    assert hook.trigger is WebhookTrigger.RETURN_CLOSED
    assert hook.url == "https://example.test/hooks"
    assert hook.active
    assert server.webhooks[hook.id].status == "active"

    other = await loop.webhooks.create(
        WebhookTopic.RETURN_PROCESSING, WebhookTrigger.RETURN_PROCESSING_FAILED, "https://example.test/f", active=False
    )
    assert not other.active
    assert [w.id for w in await loop.webhooks.list()] == [hook.id, other.id]

    await loop.webhooks.update(other.id, active=True, url="https://example.test/g")
    updated = {w.id: w for w in await loop.webhooks.list()}[other.id]
    assert updated.status is WebhookStatus.ACTIVE
    assert updated.url == "https://example.test/g"
    assert updated.topic is WebhookTopic.RETURN_PROCESSING  # untouched fields kept

    await loop.webhooks.delete(hook.id)
    assert [w.id for w in await loop.webhooks.list()] == [other.id]


async def test_unknown_webhook_is_not_found(loop: LoopClient) -> None:
    with pytest.raises(NotFoundError):
        await loop.webhooks.delete(424242)


async def test_server_side_refusal_is_typed(loop: LoopClient) -> None:
    with pytest.raises(UnprocessableEntityError) as info:
        await loop.webhooks.create("return", "no.such.trigger", "https://example.test/h")
    assert info.value.code == "FAILED_TO_CREATE_WEBHOOK"


@pytest.mark.parametrize(
    ("call", "kwargs", "names"),
    [
        ("create", {"topic": "", "trigger": "return.closed", "url": "https://x.test/"}, ("topic",)),
        ("create", {"topic": "return", "trigger": "return.closed", "url": "/relative"}, ("url",)),
        ("create", {"topic": "return", "trigger": "return.closed", "url": "ftp://x.test/"}, ("url",)),
        ("create", {"topic": "return", "trigger": "x", "url": "https://x.test/", "active": "yes"}, ("active",)),
        ("update", {"webhook_id": 1}, ("topic/trigger/url/active",)),
        ("update", {"webhook_id": 0, "active": True}, ("webhook_id",)),
        ("update", {"webhook_id": 1, "url": "nope"}, ("url",)),
        ("delete", {"webhook_id": -3}, ("webhook_id",)),
    ],
)
async def test_bad_arguments_are_rejected_before_sending(
    loop: LoopClient, server: FakeLoopServer, call: str, kwargs: dict[str, Any], names: tuple[str, ...]
) -> None:
    method = getattr(loop.webhooks, call)
    positional = ("topic", "trigger", "url") if call == "create" else ("webhook_id",)
    args = [kwargs.pop(name) for name in positional]
    with pytest.raises(FieldValidationError) as info:
        await method(*args, **kwargs)
    assert info.value.names == names
    assert sum(server.request_counts.values()) == 0
