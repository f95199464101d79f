"""The fake server's return actions, auth, rate limit, return data and webhook management, through the SDK."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta, timezone

import aiohttp
import pytest
import pytest_asyncio
from yarl import URL

from loop_async import (
    AuthenticationError,
    BadRequestError,
    LoopAPIError,
    LoopClient,
    NotFoundError,
    RateLimitError,
    UnprocessableEntityError,
)
from loop_async.models import Return, ReturnsPage
from loop_async.models._convert import structure
from loop_async.testing import SCOPE_ORDERS, FakeLoopServer
from loop_async.testing.store import minor_to_decimal

FMT = "%Y-%m-%d %H:%M:%S"


@pytest_asyncio.fixture
async def client(fake_loop_server: FakeLoopServer) -> AsyncIterator[LoopClient]:
    async with LoopClient(
        fake_loop_server.api_key, base_url=fake_loop_server.url, rate_limit=None, max_retries=0
    ) as loop:
        yield loop


# -- return actions ---------------------------------------------------------------------------


async def test_process_is_queued_then_closes(client: LoopClient, fake_loop_server: FakeLoopServer) -> None:
    return_id = fake_loop_server.seed_return()
    result = await client.returns.process(return_id, {"warehouse": "B"})
    assert result.queued
    assert fake_loop_server.side_effects[("process", return_id)] == 1
    await fake_loop_server.wait_idle()
    ret = fake_loop_server.returns[return_id]
    assert ret.state == "closed"
    assert ret.process_details == {"warehouse": "B"}
    with pytest.raises(UnprocessableEntityError) as again:
        await client.returns.process(return_id)
    assert again.value.code == "UNPROCESSABLE_RETURN"
    assert fake_loop_server.side_effects[("process", return_id)] == 1


async def test_process_twice_while_queued_is_refused_and_close_cancels_it() -> None:
    async with FakeLoopServer(orders=1, processing_delay=3600) as server:
        async with LoopClient(server.api_key, base_url=server.url, rate_limit=None) as loop:
            return_id = server.seed_return()
            await loop.returns.process(return_id)
            with pytest.raises(UnprocessableEntityError):
                await loop.returns.process(return_id)
        assert server.returns[return_id].state == "open"
    # Exiting the server cancelled and awaited the queued processing: nothing is left running.
    assert server.background_tasks == 0
    assert asyncio.all_tasks() == {asyncio.current_task()}
    assert server.returns[return_id].state == "open"


async def test_flagged_return_refuses_processing_until_reviewed(
    client: LoopClient, fake_loop_server: FakeLoopServer
) -> None:
    return_id = fake_loop_server.seed_return()
    await client.returns.flag(return_id, reason="Suspicious weight")
    ret = fake_loop_server.returns[return_id]
    assert ret.flagged
    assert ret.state == "review"
    assert [n.content for n in ret.notes] == ["Suspicious weight"]
    with pytest.raises(UnprocessableEntityError) as refused:
        await client.returns.process(return_id)
    assert refused.value.code == "UNPROCESSABLE_FLAGGED_RETURN"
    assert fake_loop_server.side_effects[("process", return_id)] == 0
    fake_loop_server.review(return_id)
    await client.returns.process(return_id)
    await fake_loop_server.wait_idle()
    assert ret.state == "closed"


async def test_notes_in_order_and_422_when_none(client: LoopClient, fake_loop_server: FakeLoopServer) -> None:
    return_id = fake_loop_server.seed_return()
    assert await client.returns.list_notes(return_id) == []
    assert fake_loop_server.request_log[-1].status == 422  # Loop's answer for "no notes"
    for text in ("first", "second", "third"):
        await client.returns.create_note(return_id, text)
    notes = await client.returns.list_notes(return_id)
    assert [n.content for n in notes] == ["first", "second", "third"]
    assert notes[0].id < notes[1].id < notes[2].id
    with pytest.raises(UnprocessableEntityError) as too_long:
        await client.request("POST", f"warehouse/return/{return_id}/note", json={"content": "x" * 256})
    assert too_long.value.errors[0].field == "content"
    await client.request("POST", f"warehouse/return/{return_id}/note", json={"note": "guide spelling"})
    assert fake_loop_server.returns[return_id].notes[-1].content == "guide spelling"


@pytest.mark.parametrize("closing", ["close", "cancel", "remove"])
async def test_every_action_on_a_closed_return_is_refused(
    client: LoopClient, fake_loop_server: FakeLoopServer, closing: str
) -> None:
    return_id = fake_loop_server.seed_return()
    line_item_id = fake_loop_server.returns[return_id].line_items[0].line_item.id
    if closing == "close":
        await client.returns.close(return_id)
        expected = "closed"
    elif closing == "cancel":
        await client.returns.cancel(return_id, reason="customer asked")
        assert fake_loop_server.returns[return_id].cancel_reason == "customer asked"
        expected = "cancelled"
    else:
        await client.returns.remove_line_items(return_id, [line_item_id])
        assert fake_loop_server.returns[return_id].line_items == []
        expected = "closed"
    assert fake_loop_server.returns[return_id].state == expected
    attempts: list[Callable[[], Awaitable[object]]] = [
        lambda: client.returns.process(return_id),
        lambda: client.returns.close(return_id),
        lambda: client.returns.cancel(return_id),
        lambda: client.returns.flag(return_id),
        lambda: client.returns.create_note(return_id, "late"),
        lambda: client.returns.remove_line_items(return_id, [line_item_id]),
    ]
    for attempt in attempts:
        with pytest.raises(UnprocessableEntityError) as refused:
            await attempt()
        assert refused.value.code == "UNPROCESSABLE_RETURN"
    assert fake_loop_server.returns[return_id].state == expected
    assert sum(fake_loop_server.side_effects[(a, return_id)] for a in ("process", "flag", "note")) == 0


async def test_remove_line_items_rules(client: LoopClient, fake_loop_server: FakeLoopServer) -> None:
    exchange_id = fake_loop_server.seed_return(credit_type="exchange")
    line_item_id = fake_loop_server.returns[exchange_id].line_items[0].line_item.id
    with pytest.raises(UnprocessableEntityError):
        await client.returns.remove_line_items(exchange_id, [line_item_id])
    refund_id = fake_loop_server.seed_return()
    with pytest.raises(UnprocessableEntityError):
        await client.returns.remove_line_items(refund_id, [999999])
    with pytest.raises(UnprocessableEntityError) as missing:
        await client.request("POST", f"warehouse/return/{refund_id}/remove")
    assert missing.value.errors[0].field == "line_item_id"
    assert fake_loop_server.returns[refund_id].state == "open"


async def test_unknown_return_is_not_found(client: LoopClient) -> None:
    with pytest.raises(NotFoundError):
        await client.returns.close(424242)


async def test_deep_links_are_stable_and_validated(client: LoopClient, fake_loop_server: FakeLoopServer) -> None:
    first, second = fake_loop_server.orders[:2]
    link = await client.returns.deep_link(order_name=first.name, zip=first.zip)
    assert link == await client.returns.deep_link(order_name=first.name, zip=first.zip)
    assert link != await client.returns.deep_link(order_name=second.name, zip=second.zip)
    gift = await client.returns.deep_link(order_name=first.name, zip=first.email, gift=True)
    assert gift.url.startswith(link.url)
    assert gift.url != link.url
    qr = await client.returns.deep_link_qr(order_name=first.name, zip=first.zip, image_type="svg", size=200)
    assert qr.deeplink_url == link.url
    assert qr.qr.endswith(".svg?size=200")
    with pytest.raises(BadRequestError):
        await client.returns.deep_link(order_name=first.name, zip="00000")
    with pytest.raises(NotFoundError) as unknown:
        await client.returns.deep_link(order_name="#999999", zip="1")
    assert unknown.value.code == "ORDER_NOT_FOUND"
    with pytest.raises(BadRequestError) as bad:
        await client.request("POST", "order/link", json={"gift": "yes"})
    assert [e.message for e in bad.value.errors] == [
        "The name field is required.",
        "The zip field is required.",
        "The gift field must be true or false.",
    ]


# -- auth and rate limit ----------------------------------------------------------------------


async def test_missing_and_unknown_keys_get_401(fake_loop_server: FakeLoopServer) -> None:
    url = fake_loop_server.url / "api/v1/warehouse/return/1/notes"
    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        assert resp.status == 401
        assert await resp.json() == {
            "error": {"code": "401", "http_code": "GEN-UNAUTHORIZED", "message": "Unauthorized."}
        }
    async with LoopClient("not-a-key", base_url=fake_loop_server.url, rate_limit=None) as loop:
        with pytest.raises(AuthenticationError):
            await loop.returns.list_notes(1)
    assert [r.key_id for r in fake_loop_server.request_log] == [None, "unknown"]


async def test_scopes_are_enforced_with_401() -> None:
    keys = {"orders-only": [SCOPE_ORDERS], "everything": ["Returns", "Orders", "Draft Returns", "Developer Tools"]}
    async with FakeLoopServer(api_keys=keys, orders=1) as server:
        order = server.orders[0]
        async with LoopClient("orders-only", base_url=server.url, rate_limit=None) as loop:
            await loop.returns.deep_link(order_name=order.name, zip=order.zip)
            with pytest.raises(AuthenticationError) as denied:
                await loop.returns.close(server.seed_return())
            assert denied.value.code == "NOT_AUTHORIZED"
            with pytest.raises(AuthenticationError):
                await loop.request("GET", "webhooks")
            with pytest.raises(AuthenticationError):
                await loop.request("POST", "draft-returns", json={"order_name": order.name, "secondary_input": "x"})
        assert server.api_key == "orders-only"
        assert all("orders-only" not in repr(record) for record in server.request_log)


async def test_rate_limit_answers_429_per_key() -> None:
    keys = {"a": ["Returns"], "b": ["Returns"]}
    async with FakeLoopServer(api_keys=keys, orders=1, rate_limit_per_minute=3, rate_limit_retry_after=True) as server:
        return_id = server.seed_return()
        async with (
            LoopClient("a", base_url=server.url, rate_limit=None, max_retries=0) as a,
            LoopClient("b", base_url=server.url, rate_limit=None, max_retries=0) as b,
        ):
            for _ in range(3):
                await a.returns.list_notes(return_id)
            with pytest.raises(RateLimitError) as limited:
                await a.returns.list_notes(return_id)
            assert limited.value.retry_after is not None
            assert 1 <= limited.value.retry_after <= 60
            assert await b.returns.list_notes(return_id) == []  # another key has its own window
    async with (
        FakeLoopServer(orders=1, rate_limit_per_minute=1) as server,
        LoopClient(server.api_key, base_url=server.url, rate_limit=None, max_retries=0) as loop,
    ):
        await loop.returns.list_notes(server.seed_return())
        with pytest.raises(RateLimitError) as no_header:
            await loop.returns.list_notes(1)
        assert no_header.value.retry_after is None


# -- return data ------------------------------------------------------------------------------


async def test_returns_list_default_window_and_filters(client: LoopClient, fake_loop_server: FakeLoopServer) -> None:
    now = datetime.now(timezone.utc)
    recent = fake_loop_server.seed_return()
    closed = fake_loop_server.seed_return(state="closed")
    old = fake_loop_server.seed_return(created_at=now - timedelta(days=3))
    touched = fake_loop_server.seed_return(created_at=now - timedelta(days=3), updated_at=now - timedelta(hours=1))
    rows = (await client.request("GET", "warehouse/return/list")).data
    assert [r["id"] for r in rows] == [recent, closed]
    assert isinstance(rows[0]["total"], str)
    structure(rows[0], Return)
    open_only = (await client.request("GET", "warehouse/return/list", params={"state": "open"})).data
    assert [r["id"] for r in open_only] == [recent]
    by_update = (await client.request("GET", "warehouse/return/list", params={"filter": "updated_at"})).data
    assert {r["id"] for r in by_update} == {recent, closed, touched}
    assert old not in {r["id"] for r in by_update}


async def test_returns_list_pagination_with_cursors(client: LoopClient, fake_loop_server: FakeLoopServer) -> None:
    base = datetime(2026, 3, 1, tzinfo=timezone.utc)
    ids = [fake_loop_server.seed_return(created_at=base + timedelta(hours=i)) for i in range(7)]
    fake_loop_server.seed_return(created_at=base - timedelta(days=1))  # outside the range
    params = {
        "from": base.strftime(FMT),
        "to": (base + timedelta(days=1)).strftime(FMT),
        "paginate": "true",
        "pageSize": "3",
    }
    response = await client.request("GET", "warehouse/return/list", params=params)
    seen, pages = [], 0
    while True:
        page = structure(response.data, ReturnsPage)
        pages += 1
        seen.extend(r.id for r in page.returns)
        if page.next_page_url is None:
            break
        next_url = URL(page.next_page_url)
        assert next_url.is_absolute()
        assert next_url.origin() == fake_loop_server.url
        assert "cursor" in next_url.query
        response = await client.request("GET", next_url)
    assert seen == ids
    assert pages == 3
    assert page.previous_page_url is not None


@pytest.mark.parametrize(
    "params",
    [
        {"from": "2026-01-01 00:00:00", "to": "2026-05-01 00:00:01"},  # 120 days and a second
        {"from": "2026-01-02", "to": "2026-01-03 00:00:00"},
        {"from": "2026-01-03 00:00:00", "to": "2026-01-02 00:00:00"},
        {"pageSize": "751", "paginate": "true"},
        {"pageSize": "0", "paginate": "true"},
        {"filter": "deleted_at"},
        {"state": "lost"},
        {"paginate": "true", "cursor": "!!!"},
    ],
)
async def test_returns_list_refuses_bad_parameters(client: LoopClient, params: dict[str, str]) -> None:
    with pytest.raises(UnprocessableEntityError):
        await client.request("GET", "warehouse/return/list", params=params)


async def test_returns_list_accepts_exactly_120_days_and_places_seeded_returns(
    client: LoopClient, fake_loop_server: FakeLoopServer
) -> None:
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    inside = fake_loop_server.seed_return(created_at=start + timedelta(days=120))
    fake_loop_server.seed_return(created_at=start + timedelta(days=120, seconds=1))
    params = {"from": start.strftime(FMT), "to": (start + timedelta(days=120)).strftime(FMT)}
    rows = (await client.request("GET", "warehouse/return/list", params=params)).data
    assert [r["id"] for r in rows] == [inside]


async def test_return_details_and_asn(client: LoopClient, fake_loop_server: FakeLoopServer) -> None:
    order = fake_loop_server.orders[3]
    return_id = fake_loop_server.seed_return(
        order_name=order.name, line_item_ids=[li.id for li in order.line_items[:2]]
    )
    for params in ({"return_id": str(return_id)}, {"order_name": order.name}, {"order_id": str(order.id)}):
        ret = structure((await client.request("GET", "warehouse/return/details", params=params)).data, Return)
        assert ret.id == return_id
        assert ret.total == minor_to_decimal(sum(li.price for li in order.line_items[:2]))
    with pytest.raises(LoopAPIError) as no_match:
        await client.request("GET", "warehouse/return/details", params={"return_id": "1"})
    assert no_match.value.status == 200
    assert no_match.value.message == "Return not found."
    with pytest.raises(UnprocessableEntityError):
        await client.request("GET", "warehouse/return/details")
    rows = (await client.request("GET", "warehouse/reporting/asn")).data
    assert [(r["id"], r["sku"]) for r in rows] == [(return_id, li.sku) for li in order.line_items[:2]]


# -- webhook management and routing ------------------------------------------------------------


async def test_webhook_management(client: LoopClient, fake_loop_server: FakeLoopServer) -> None:
    body = {"topic": "return", "trigger": "return.closed", "url": "http://127.0.0.1:9/hook", "status": "active"}
    created = (await client.request("POST", "webhooks", json=body)).data
    assert created == {"id": created["id"], "shop_id": 1, **body}
    listed = (await client.request("GET", "webhooks")).data
    assert listed == {"webhooks": [created]}
    updated = await client.request("PUT", f"webhooks/{created['id']}", json={**body, "status": "inactive"})
    assert updated.status == 204
    assert fake_loop_server.webhooks[created["id"]].status == "inactive"
    with pytest.raises(UnprocessableEntityError) as bad:
        await client.request("POST", "webhooks", json={**body, "topic": "nope"})
    assert bad.value.code == "FAILED_TO_CREATE_WEBHOOK"
    assert (await client.request("DELETE", f"webhooks/{created['id']}")).status == 204
    with pytest.raises(NotFoundError) as gone:
        await client.request("DELETE", f"webhooks/{created['id']}")
    assert gone.value.code == "FAILED_TO_DELETE_WEBHOOK"


async def test_request_counts_log_and_unknown_routes(client: LoopClient, fake_loop_server: FakeLoopServer) -> None:
    return_id = fake_loop_server.seed_return()
    await client.returns.list_notes(return_id)
    await client.returns.close(return_id)
    with pytest.raises(NotFoundError) as unknown:
        await client.request("GET", "no/such/route")
    assert unknown.value.code == "NOT_FOUND"
    assert fake_loop_server.request_counts["GET /api/v1/warehouse/return/{return_id}/notes"] == 1
    assert fake_loop_server.request_counts["POST /api/v1/warehouse/return/{return_id}/close"] == 1
    log = fake_loop_server.request_log
    assert [(r.method, r.route, r.status) for r in log[:2]] == [
        ("GET", "GET /api/v1/warehouse/return/{return_id}/notes", 422),
        ("POST", "POST /api/v1/warehouse/return/{return_id}/close", 200),
    ]
    assert log[0].at <= log[1].at
    assert all(fake_loop_server.api_key not in repr(r) for r in log)


async def test_cli_fake_server_serves_and_logs_each_request(caplog: pytest.LogCaptureFixture) -> None:
    from loop_async._cli.fake_server import serve
    from loop_async._cli.main import build_parser

    args = build_parser().parse_args(["fake-server", "--port", "0", "--orders", "2", "--data-seed", "3"])
    started: asyncio.Future[FakeLoopServer] = asyncio.get_running_loop().create_future()
    caplog.set_level(logging.INFO, logger="loop_async.testing")
    task = asyncio.create_task(serve(args, started.set_result))
    try:
        server = await asyncio.wait_for(started, timeout=5)
        assert len(server.orders) == 2
        async with LoopClient(server.api_key, base_url=server.url, rate_limit=None) as loop:
            await loop.returns.list_notes(server.seed_return())
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert not server.started
    assert any("GET /api/v1/warehouse/return/" in r.getMessage() and "422" in r.getMessage() for r in caplog.records)


# -- no check-await-mutate: a body still on its way cannot slip past a check -------------------


async def post_with_held_body(
    session: aiohttp.ClientSession, url: URL, sent: asyncio.Event, release: asyncio.Event, payload: bytes = b"{}"
) -> tuple[int, str]:
    """POST ``payload`` whose rest after the first byte waits for ``release`` (``sent``: the headers are out)."""

    async def body() -> AsyncIterator[bytes]:
        yield payload[:1]
        sent.set()  # resumed once the first byte (and so the headers) were written
        await release.wait()
        yield payload[1:]

    async with session.post(url, data=body(), headers={"Content-Type": "application/json"}) as response:
        return response.status, await response.text()


async def test_concurrent_process_requests_are_accepted_once(fake_loop_server: FakeLoopServer) -> None:
    return_id = fake_loop_server.seed_return()
    url = fake_loop_server.api_root / "warehouse" / "return" / str(return_id) / "process"
    sent, release = asyncio.Event(), asyncio.Event()
    async with aiohttp.ClientSession(headers={"X-Authorization": fake_loop_server.api_key}) as session:
        held = asyncio.create_task(post_with_held_body(session, url, sent, release))
        await sent.wait()
        async with session.post(url, json={}) as quick:
            assert quick.status == 200
        release.set()
        status, text = await held
    # Refused either as already queued (422) or, once processed, as closed (Loop's 200 error body).
    assert status in (200, 422) and "UNPROCESSABLE_RETURN" in text
    assert fake_loop_server.side_effects[("process", return_id)] == 1


async def test_a_note_whose_body_arrives_after_a_cancel_is_refused(
    client: LoopClient, fake_loop_server: FakeLoopServer
) -> None:
    return_id = fake_loop_server.seed_return()
    url = fake_loop_server.api_root / "warehouse" / "return" / str(return_id) / "note"
    sent, release = asyncio.Event(), asyncio.Event()
    async with aiohttp.ClientSession(headers={"X-Authorization": fake_loop_server.api_key}) as session:
        held = asyncio.create_task(post_with_held_body(session, url, sent, release, b'{"content": "late"}'))
        await sent.wait()
        await client.returns.cancel(return_id)
        release.set()
        status, text = await held
    assert status == 200 and "UNPROCESSABLE_RETURN" in text  # Loop refuses with an error body in a 200
    assert fake_loop_server.returns[return_id].notes == []
    assert ("note", return_id) not in fake_loop_server.side_effects


# -- queued processing and later actions --------------------------------------------------------


@pytest.mark.parametrize("action", ["cancel", "close", "flag"])
async def test_queued_processing_is_dropped_when_the_return_changed_meanwhile(action: str) -> None:
    async with FakeLoopServer(orders=1, processing_delay=None) as server:
        async with LoopClient(server.api_key, base_url=server.url, rate_limit=None) as loop:
            return_id = server.seed_return()
            await loop.returns.process(return_id)
            await getattr(loop.returns, action)(return_id)
            state = server.returns[return_id].state
            server.release_processing()
            await server.wait_idle()
        assert server.returns[return_id].state == state != "open"
        assert not server.returns[return_id].processing
