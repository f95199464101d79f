"""Return data and return actions as Loop documents them, in the fake server and in the SDK.

Default states, the ``nextPageUrl`` that drops ``from`` and ``state`` (Loop's documented
example), the keyset cursor, refunds and ASN columns, and return actions on a closed,
cancelled, flagged or unknown return answered with HTTP 200 and an error body.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestServer
from yarl import URL

from loop_async import LoopClient
from loop_async.errors import LoopAPIError, NotFoundError, UnprocessableEntityError
from loop_async.models import AsnRow, ReturnRefund, ReturnsPage, ReturnState
from loop_async.models._convert import structure
from loop_async.testing import FakeLoopServer

DOCS = Path(__file__).parent.parent / "data" / "loop-docs"
UTC = timezone.utc
FMT = "%Y-%m-%d %H:%M:%S"
T0 = datetime(2025, 3, 1, tzinfo=UTC)
ALL_STATES = ("open", "closed", "cancelled", "expired", "review")


@pytest_asyncio.fixture
async def server() -> AsyncIterator[FakeLoopServer]:
    async with FakeLoopServer(orders=5) as srv:
        yield srv


@pytest_asyncio.fixture
async def loop(server: FakeLoopServer) -> AsyncIterator[LoopClient]:
    async with LoopClient(server.api_key, base_url=server.url, rate_limit=None, max_retries=0) as client:
        yield client


def seed_every_state(server: FakeLoopServer, days: int = 10) -> dict[int, str]:
    """Two returns per state per day, so that pages cross states, days and the 24-hour default."""
    seeded = {}
    for day in range(days):
        for k, state in enumerate(ALL_STATES * 2):
            at = T0 + timedelta(days=day, minutes=k)
            seeded[server.seed_return(state=state, created_at=at)] = state
    return seeded


def decode_cursor(url: str) -> dict[str, Any]:
    cursor = URL(url).query["cursor"]
    result: dict[str, Any] = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    return result


# -- default states ---------------------------------------------------------------------------


async def test_without_state_loop_lists_open_closed_and_expired_only(server: FakeLoopServer, loop: LoopClient) -> None:
    seeded = seed_every_state(server, days=1)
    params = {"from": T0.strftime(FMT), "to": (T0 + timedelta(days=1)).strftime(FMT)}
    rows = (await loop.request("GET", "warehouse/return/list", params=params)).data
    assert sorted(r["id"] for r in rows) == sorted(i for i, s in seeded.items() if s in ("open", "closed", "expired"))
    listed = [r async for r in loop.returns.list(T0, T0 + timedelta(days=1))]  # states=None: Loop's default
    assert {r.state for r in listed} == {ReturnState.OPEN, ReturnState.CLOSED, ReturnState.EXPIRED}
    everything = [r async for r in loop.returns.list(T0, T0 + timedelta(days=1), states=list(ReturnState))]
    assert sorted(r.id for r in everything) == sorted(seeded)


# -- pagination: Loop's nextPageUrl drops from and state ---------------------------------------


def test_the_documented_next_page_url_drops_from_state_and_paginate() -> None:
    page = structure(json.loads((DOCS / "returns-list-page.json").read_text()), ReturnsPage)
    assert page.next_page_url is not None and page.previous_page_url is None
    query = URL(page.next_page_url).query
    assert set(query) == {"to", "filter", "pageSize", "cursor"}
    assert decode_cursor(page.next_page_url) == {"created_at": "2022-06-27 16:25:01", "_pointsToNextItems": True}


async def test_the_fake_serves_that_shape_with_a_keyset_cursor(server: FakeLoopServer, loop: LoopClient) -> None:
    seed_every_state(server, days=3)
    params = {
        "from": T0.strftime(FMT),
        "to": (T0 + timedelta(days=3)).strftime(FMT),
        "state": "open",
        "paginate": "true",
        "pageSize": "2",
    }
    first = (await loop.request("GET", "warehouse/return/list", params=params)).data
    assert first["previousPageUrl"] is None
    next_url = first["nextPageUrl"]
    assert set(URL(next_url).query) == {"to", "filter", "pageSize", "cursor"}
    last = first["returns"][-1]
    assert decode_cursor(next_url) == {
        "created_at": datetime.fromisoformat(last["created_at"]).strftime(FMT),
        "id": last["id"],
        "_pointsToNextItems": True,
    }
    path = URL(next_url).path.removeprefix("/api/v1/")
    # Followed as given, the second page falls back to Loop's defaults: any default state.
    as_given = (await loop.request("GET", path, params=URL(next_url).query)).data
    assert {r["state"] for r in as_given["returns"]} - {"open"}
    # With the filters sent again it continues the listing, and its previous page is the first.
    second = (await loop.request("GET", path, params={**params, **URL(next_url).query})).data
    assert {r["state"] for r in second["returns"]} == {"open"}
    assert [r["id"] for r in second["returns"]] > [r["id"] for r in first["returns"]]
    back = URL(second["previousPageUrl"])
    assert decode_cursor(str(back))["_pointsToNextItems"] is False
    again = (await loop.request("GET", path, params={**params, **back.query})).data
    assert [r["id"] for r in again["returns"]] == [r["id"] for r in first["returns"]]


async def test_list_keeps_the_callers_filters_on_every_page(server: FakeLoopServer, loop: LoopClient) -> None:
    seeded = seed_every_state(server, days=10)
    start, end = T0 + timedelta(days=1), T0 + timedelta(days=8)
    got = [r async for r in loop.returns.list(start, end, states=["open", "review"], page_size=2)]
    expected = {
        rid
        for rid, state in seeded.items()
        if state in ("open", "review") and start <= server.returns[rid].created_at <= end
    }
    assert len(got) == len({r.id for r in got})  # once each
    assert {r.id for r in got} == expected
    assert {r.state for r in got} == {ReturnState.OPEN, ReturnState.REVIEW}
    assert all(start <= r.created_at <= end for r in got if r.created_at)  # type: ignore[operator]
    assert server.request_counts["GET /api/v1/warehouse/return/list"] > len(expected) // 2  # many pages


async def test_list_readds_only_what_the_next_url_lacks() -> None:
    """Against a server that answers exactly like Loop's documented example."""
    seen: list[dict[str, str]] = []

    async def listing(request: web.Request) -> web.Response:
        seen.append(dict(request.query))
        if "cursor" in request.query:
            return web.json_response({"returns": [{"id": 2}], "nextPageUrl": None, "previousPageUrl": None})
        following = request.url.with_query(
            {"to": request.query["to"], "filter": "created_at", "pageSize": "5", "cursor": "eyJ9"}
        )
        return web.json_response({"returns": [{"id": 1}], "nextPageUrl": str(following), "previousPageUrl": None})

    app = web.Application()
    app.router.add_get("/api/v1/warehouse/return/list", listing)
    async with TestServer(app) as srv, LoopClient("k", base_url=srv.make_url("/"), rate_limit=None) as loop:
        ids = [r.id async for r in loop.returns.list(T0, T0 + timedelta(days=2), states="closed", page_size=50)]
    assert ids == [1, 2]
    first, second = seen
    assert second == {
        "to": first["to"],
        "filter": "created_at",
        "pageSize": "5",  # what the URL carries is kept as Loop wrote it
        "cursor": "eyJ9",
        "from": first["from"],  # what it dropped is sent again
        "state": "closed",
        "paginate": "true",
    }


async def test_the_fake_accepts_iso_dates(server: FakeLoopServer, loop: LoopClient) -> None:
    rid = server.seed_return(created_at=T0 + timedelta(hours=1))
    params = {"from": "2025-03-01T00:00:00.000Z", "to": "2025-03-01T02:00:00.000Z"}
    rows = (await loop.request("GET", "warehouse/return/list", params=params)).data
    assert [r["id"] for r in rows] == [rid]


# -- refunds and ASN ----------------------------------------------------------------------------


async def test_refunds_carry_the_documented_fields(server: FakeLoopServer, loop: LoopClient) -> None:
    rid = server.seed_return()
    await loop.returns.process(rid)
    await server.wait_idle()
    raw = (await loop.request("GET", "warehouse/return/details", params={"return_id": str(rid)})).data
    assert [set(refund) for refund in raw["refunds"]] == [
        {"gateway", "amount", "currency", "provider_refund_id", "provider"}
    ]
    ret = await loop.returns.get(return_id=rid)
    [refund] = ret.refunds
    assert refund.amount == ret.total and type(refund.amount) is Decimal
    assert (refund.gateway, refund.provider, refund.currency) == ("shopify_payments", "shopify", "USD")
    assert refund.provider_refund_id


def test_refund_decodes_field_by_field() -> None:
    data = {
        "gateway": "shopify_payments",
        "amount": "19.99",
        "currency": "CAD",
        "provider_refund_id": 889900112233,
        "provider": "shopify",
        "a_new_field": True,
    }
    assert structure(data, ReturnRefund) == ReturnRefund(
        gateway="shopify_payments",
        amount=Decimal("19.99"),
        currency="CAD",
        provider_refund_id="889900112233",
        provider="shopify",
    )


ASN_DOCUMENTED = {
    "id", "return_line_item_id", "order_id", "order_name", "order_number", "provider_order_number", "state",
    "customer_email", "title", "purchase_price", "sku", "barcode", "carrier", "service", "label_status",
    "tracking_number", "integration_tracking_url", "restock_status", "currency", "label_updated_at", "label_url",
    "label_rate", "closed_at", "updated_at", "created_at", "return_reason", "actioned_by", "return_method",
    "return_method_rma_code", "return_method_state", "date_delivered", "outcome", "scannable_id",
    "package_reference", "shipping_box_barcode", "provider_created_at", "destination_id", "destination_name",
}  # fmt: skip


async def test_asn_rows_have_the_documented_columns_and_a_composite_key(
    server: FakeLoopServer, loop: LoopClient
) -> None:
    order = server.orders[0]
    items = order.eligible_line_items[:2]
    rid = server.seed_return(order.name, line_item_ids=[i.id for i in items], created_at=T0)
    params = {"from": T0.strftime(FMT), "to": (T0 + timedelta(days=1)).strftime(FMT)}
    raw = (await loop.request("GET", "warehouse/reporting/asn", params=params)).data
    assert [set(row) for row in raw] == [ASN_DOCUMENTED, ASN_DOCUMENTED]
    rows = await loop.returns.asn(T0, T0 + timedelta(days=1))
    assert [row.id for row in rows] == [rid, rid]  # ``id`` repeats across a return's items ...
    assert len({row.key for row in rows}) == 2  # ... (id, return_line_item_id) does not
    assert [(row.sku, row.purchase_price) for row in rows] == [
        (i.sku, Decimal(i.price).scaleb(-2).quantize(Decimal("0.01"))) for i in items
    ]
    assert all(row.state is ReturnState.OPEN and row.extra == {} for row in rows)
    assert rows[0].created_at == T0


def test_asn_row_decodes_field_by_field_and_keeps_unknown_columns() -> None:
    row = structure(
        {
            "id": 7,
            "return_line_item_id": 70,
            "order_id": 9,
            "order_name": "#1009",
            "order_number": 1009,
            "state": "on_hold",
            "purchase_price": "12.30",
            "label_rate": "5.5",
            "label_updated_at": "2025-03-01 10:00:00",
            "destination_id": 42,
            "warehouse_bin": "B-7",
        },
        AsnRow,
    )
    assert (row.id, row.return_line_item_id, row.order_id, row.order_name, row.order_number) == (
        7,
        70,
        9,
        "#1009",
        "1009",
    )
    assert row.state == "on_hold" and not row.state.is_known  # type: ignore[union-attr]
    assert (row.purchase_price, row.label_rate) == (Decimal("12.30"), Decimal("5.5"))
    assert row.label_updated_at == datetime(2025, 3, 1, 10, tzinfo=UTC)
    assert row.destination_id == "42"
    assert row.extra == {"warehouse_bin": "B-7"}
    assert row.key == (7, 70)


# -- return actions: Loop's error bodies in a 200 ----------------------------------------------


@pytest.mark.parametrize("state", ["closed", "cancelled", "expired"])
async def test_actions_on_a_finished_return_are_refused_with_200(
    server: FakeLoopServer, loop: LoopClient, state: str
) -> None:
    rid = server.seed_return(state=state)
    response = await server_post(server, f"warehouse/return/{rid}/close")
    message = f"Return {rid} is {state} and cannot be changed."
    assert response == (200, {"errors": {"message": message, "code": "UNPROCESSABLE_RETURN"}})
    for action in (loop.returns.process, loop.returns.close, loop.returns.cancel, loop.returns.flag):
        with pytest.raises(UnprocessableEntityError) as refused:
            await action(rid)
        assert (refused.value.status, refused.value.code) == (200, "UNPROCESSABLE_RETURN")
    assert server.returns[rid].state == state


async def test_process_of_a_flagged_return_is_refused_with_200(server: FakeLoopServer, loop: LoopClient) -> None:
    rid = server.seed_return()
    await loop.returns.flag(rid)
    with pytest.raises(UnprocessableEntityError) as refused:
        await loop.returns.process(rid)
    assert (refused.value.status, refused.value.code) == (200, "UNPROCESSABLE_FLAGGED_RETURN")
    assert server.side_effects[("process", rid)] == 0


async def test_an_unknown_return_is_not_found_with_200(server: FakeLoopServer, loop: LoopClient) -> None:
    assert await server_post(server, "warehouse/return/424242/cancel") == (
        200,
        {"errors": {"message": "No return found with this ID."}},
    )
    with pytest.raises(NotFoundError) as missing:
        await loop.returns.cancel(424242)
    assert missing.value.status == 200


async def server_post(server: FakeLoopServer, path: str) -> tuple[int, Any]:
    """A raw POST, to see the status and body exactly as the fake answers them."""
    async with (
        aiohttp.ClientSession(headers={"X-Authorization": server.api_key}) as session,
        session.post(server.api_root / path) as response,
    ):
        return response.status, await response.json()


@pytest.mark.parametrize(
    "body",
    [
        {"message": "Return 5 has already been cancelled."},
        {"content": "Return 5 has already been cancelled."},
        {"errors": {"message": "Return 5 has already been cancelled.", "code": "UNPROCESSABLE_RETURN"}},
    ],
)
async def test_each_documented_200_refusal_shape_raises(body: dict[str, Any]) -> None:
    """The three bodies Loop answers a refused action with, all with HTTP 200."""

    async def cancel(request: web.Request) -> web.Response:
        return web.json_response(body)

    app = web.Application()
    app.router.add_post("/api/v1/warehouse/return/5/cancel", cancel)
    async with TestServer(app) as srv, LoopClient("k", base_url=srv.make_url("/"), rate_limit=None) as loop:
        with pytest.raises(LoopAPIError) as refused:
            await loop.returns.cancel(5)
    assert refused.value.status == 200
    assert refused.value.message == "Return 5 has already been cancelled."
