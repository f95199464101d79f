"""Webhook delivery from the fake server to a real receiver on loopback: signature, topics, Loop's retries."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import attrs
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestServer

from loop_async import LoopClient
from loop_async.models import Return
from loop_async.models._convert import structure
from loop_async.testing import SIGNATURE_HEADER, FakeLoopServer, sign
from loop_async.testing.webhook_sender import LOOP_ATTEMPTS

SECRET = "whsec_test"


@attrs.define
class Receiver:
    """A webhook receiver that answers from a script (then 200) and records what it got."""

    url: str = ""
    script: list[tuple[int, dict[str, str]]] = attrs.field(factory=list)
    received: list[tuple[dict[str, str], bytes]] = attrs.field(factory=list)

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.received]


@pytest_asyncio.fixture
async def receiver() -> AsyncIterator[Receiver]:
    state = Receiver()

    async def hook(request: web.Request) -> web.Response:
        state.received.append((dict(request.headers), await request.read()))
        status, headers = state.script.pop(0) if state.script else (200, {})
        return web.Response(status=status, headers=headers)

    app = web.Application()
    app.router.add_post("/hook", hook)
    async with TestServer(app, host="127.0.0.1") as server:
        state.url = str(server.make_url("/hook"))
        yield state


@pytest_asyncio.fixture
async def client(fake_loop_server: FakeLoopServer) -> AsyncIterator[LoopClient]:
    async with LoopClient(
        fake_loop_server.api_key, base_url=fake_loop_server.url, rate_limit=None, max_retries=0
    ) as loop:
        yield loop


async def subscribe(client: LoopClient, url: str, topic: str, trigger: str, status: str = "active") -> None:
    body = {"topic": topic, "trigger": trigger, "url": url, "status": status}
    await client.request("POST", "webhooks", json=body)


async def submit_draft(client: LoopClient, server: FakeLoopServer) -> int:
    order = server.orders[0]
    data = (
        await client.request("POST", "draft-returns", json={"order_name": order.name, "secondary_input": order.zip})
    ).data
    draft = f"draft-returns/{data['draft_return']['id']}"
    data = (
        await client.request("POST", f"{draft}/returning-items", json={"order_line_item_id": order.line_items[0].id})
    ).data
    item = data["draft_return"]["returning_items"][0]["id"]
    await client.request("POST", f"{draft}/returning-items/{item}/return-reason", json={"return_reason_id": 1})
    await client.request("POST", f"{draft}/finalize-items")
    await client.request("POST", f"{draft}/credit-type", json={"credit_type": "refund"})
    await client.request("POST", f"{draft}/return-method", json={"return_method_id": 1})
    data = (await client.request("POST", f"{draft}/submit")).data
    return int(data["draft_return"]["return_id"])


def check_signature(headers: dict[str, str], body: bytes) -> None:
    expected = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
    assert headers[SIGNATURE_HEADER] == expected
    assert sign(SECRET, body) == expected


async def test_submit_then_process_sends_signed_created_and_closed_events(
    client: LoopClient, fake_loop_server: FakeLoopServer, receiver: Receiver
) -> None:
    await subscribe(client, receiver.url, "return", "return.created")
    await subscribe(client, receiver.url, "return", "return.closed")
    return_id = await submit_draft(client, fake_loop_server)
    await client.returns.process(return_id)
    await asyncio.wait_for(fake_loop_server.wait_for_webhooks(lambda d: len(d) == 2), timeout=5)
    created, closed = receiver.bodies()
    assert (created["topic"], created["trigger"], created["id"], created["state"]) == (
        "return",
        "return.created",
        return_id,
        "open",
    )
    assert (closed["trigger"], closed["state"]) == ("return.closed", "closed")
    assert structure(closed, Return).refunds[0].amount == structure(closed, Return).total
    for headers, body in receiver.received:
        check_signature(headers, body)
    assert [(d.trigger, d.status_code, d.attempt) for d in fake_loop_server.webhook_deliveries] == [
        ("return.created", 200, 1),
        ("return.closed", 200, 1),
    ]


async def test_processing_failure_is_reported_by_webhook(
    client: LoopClient, fake_loop_server: FakeLoopServer, receiver: Receiver
) -> None:
    await subscribe(client, receiver.url, "return.processing", "return.processing.failed")
    return_id = fake_loop_server.seed_return()
    fake_loop_server.fail_processing(return_id, "Payment gateway declined the refund")
    await client.returns.process(return_id)
    await fake_loop_server.wait_idle()
    assert receiver.bodies() == [
        {
            "topic": "return.processing",
            "trigger": "return.processing.failed",
            "return_id": return_id,
            "return_state": "open",
            "message": "Payment gateway declined the refund",
            "source": "api",
        }
    ]
    assert fake_loop_server.returns[return_id].state == "open"
    await client.returns.process(return_id)  # the failure is consumed: the next one closes it
    await fake_loop_server.wait_idle()
    assert fake_loop_server.returns[return_id].state == "closed"


async def test_503_and_500_are_retried_until_delivered(
    client: LoopClient, fake_loop_server: FakeLoopServer, receiver: Receiver
) -> None:
    await subscribe(client, receiver.url, "return", "return.closed")
    receiver.script = [(503, {"Retry-After": "0"}), (500, {})]
    return_id = fake_loop_server.seed_return()
    await client.returns.close(return_id)
    await fake_loop_server.wait_idle()
    assert [(d.status_code, d.attempt) for d in fake_loop_server.webhook_deliveries] == [(503, 1), (500, 2), (200, 3)]
    assert fake_loop_server.webhook_deliveries[0].retry_in == 0  # the receiver's Retry-After
    bodies = {body for _, body in receiver.received}
    assert len(bodies) == 1  # the same signed body every time
    for headers, body in receiver.received:
        check_signature(headers, body)


async def test_4xx_is_not_retried(client: LoopClient, fake_loop_server: FakeLoopServer, receiver: Receiver) -> None:
    await subscribe(client, receiver.url, "return", "return.closed")
    receiver.script = [(401, {})]
    await client.returns.close(fake_loop_server.seed_return())
    await fake_loop_server.wait_idle()
    assert [(d.status_code, d.attempt) for d in fake_loop_server.webhook_deliveries] == [(401, 1)]


async def test_network_errors_are_retried_then_given_up(client: LoopClient, fake_loop_server: FakeLoopServer) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        dead_url = f"http://127.0.0.1:{sock.getsockname()[1]}/hook"
    await subscribe(client, dead_url, "return", "return.closed")
    await client.returns.close(fake_loop_server.seed_return())
    await fake_loop_server.wait_idle()
    deliveries = fake_loop_server.webhook_deliveries
    assert [d[:5] for d in deliveries] == [
        (dead_url, "return", "return.closed", None, attempt) for attempt in range(1, LOOP_ATTEMPTS + 1)
    ]
    assert [d.retry_in is None for d in deliveries] == [False] * (LOOP_ATTEMPTS - 1) + [True]
    assert deliveries[-1].failed


async def test_only_active_matching_subscriptions_receive(
    client: LoopClient, fake_loop_server: FakeLoopServer, receiver: Receiver
) -> None:
    await subscribe(client, receiver.url, "return", "return.closed", status="inactive")
    await subscribe(client, receiver.url, "return", "return.created")
    await client.returns.close(fake_loop_server.seed_return())
    await fake_loop_server.wait_idle()
    assert receiver.received == []
    assert fake_loop_server.webhook_deliveries == []


async def test_pending_deliveries_are_cancelled_on_close() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead_url = f"http://127.0.0.1:{sock.getsockname()[1]}/hook"
    async with (
        FakeLoopServer(orders=1, webhook_backoff=7200.0) as server,
        LoopClient(server.api_key, base_url=server.url, rate_limit=None) as loop,
    ):
        await subscribe(loop, dead_url, "return", "return.closed")
        await loop.returns.close(server.seed_return())
        await asyncio.wait_for(server.wait_for_webhooks(lambda d: len(d) == 1), timeout=5)
        assert server.background_tasks == 1  # the delivery now waits an hour before its retry
    # Closing the server cancelled and awaited it instead of waiting.
    assert server.background_tasks == 0
    assert len(server.webhook_deliveries) == 1


async def test_processing_dropped_by_a_cancel_is_reported_as_failed(receiver: Receiver) -> None:
    async with FakeLoopServer(orders=1, processing_delay=None) as server:
        async with LoopClient(server.api_key, base_url=server.url, rate_limit=None, max_retries=0) as client:
            await subscribe(client, receiver.url, "return.processing", "return.processing.failed")
            await subscribe(client, receiver.url, "return", "return.closed")
            return_id = server.seed_return()
            await client.returns.process(return_id)
            await client.returns.cancel(return_id)
            server.release_processing()
            await server.wait_idle()
        assert server.returns[return_id].state == "cancelled"
    [failed] = receiver.bodies()  # no return.closed
    assert (failed["trigger"], failed["return_id"], failed["return_state"]) == (
        "return.processing.failed",
        return_id,
        "cancelled",
    )
    assert "dropped" in failed["message"]
