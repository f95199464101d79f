"""Return data (``loop.returns.get/list/asn``) against real loopback servers.

``MiniLoop`` is a small ``aiohttp.web`` app implementing the three return-data endpoints the
way Loop's reference describes them (``from``/``to`` inclusive, whole UTC seconds, 120-day limit,
cursor pagination); it records every request so tests can check what was (not) sent. Tests at
the end run against ``FakeLoopServer`` when it is available.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from yarl import URL

from loop_async import LoopClient
from loop_async.errors import (
    DecodeError,
    FieldValidationError,
    NotFoundError,
    UnprocessableEntityError,
    UnsafeLinkError,
)
from loop_async.models import AsnRow, Return, ReturnState
from loop_async.testing import FakeLoopServer

UTC = timezone.utc
FMT = "%Y-%m-%d %H:%M:%S"
T0 = datetime(2025, 1, 1, tzinfo=UTC)


def _return(rid: int, created: datetime, state: str = "open") -> dict[str, Any]:
    stamp = created.strftime(FMT)
    return {
        "id": rid,
        "state": state,
        "created_at": stamp,
        "updated_at": stamp,
        "order_id": 9000 + rid,
        "order_name": f"#{1000 + rid}",
        "currency": "USD",
        "total": "12.50",
        "line_items": [{"id": rid * 10, "price": "10.10", "sku": f"SKU-{rid}"}],
        "refunds": [{"id": rid * 100, "amount": "0.10", "currency": "USD"}],
        "future_field": {"ignored": True},
    }


class MiniLoop:
    """The return-data endpoints over an in-memory list of returns."""

    def __init__(self, returns: list[dict[str, Any]]) -> None:
        self.returns = returns
        self.requests: list[URL] = []
        self.next_page_override: str | None = None
        self.unpaginated = False
        self.repeat_next = False
        app = web.Application()
        app.router.add_get("/api/v1/warehouse/return/list", self.list)
        app.router.add_get("/api/v1/warehouse/return/details", self.details)
        app.router.add_get("/api/v1/warehouse/reporting/asn", self.asn)
        self.server = TestServer(app, host="127.0.0.1", port=0)

    async def __aenter__(self) -> MiniLoop:
        await self.server.start_server()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.server.close()

    @property
    def url(self) -> URL:
        return URL(f"http://127.0.0.1:{self.server.port}")

    def _range(self, request: web.Request) -> tuple[datetime, datetime]:
        start = datetime.strptime(request.query["from"], FMT).replace(tzinfo=UTC)
        end = datetime.strptime(request.query["to"], FMT).replace(tzinfo=UTC)
        if end - start > timedelta(days=120):
            raise web.HTTPUnprocessableEntity(
                text='{"message": "range too long", "errors": {"from": ["The date range may not be greater than 120 days."]}}',
                content_type="application/json",
            )
        return start, end

    async def list(self, request: web.Request) -> web.Response:
        self.requests.append(request.url)
        start, end = self._range(request)
        state = request.query.get("state")
        matching = [
            r
            for r in self.returns
            if start <= datetime.strptime(r["created_at"], FMT).replace(tzinfo=UTC) <= end
            and (state is None or r["state"] == state)
        ]
        if self.unpaginated:
            return web.json_response(matching)
        size = int(request.query["pageSize"])
        offset = int(base64.b64decode(request.query.get("cursor", "MA==")))
        page = matching[offset : offset + size]
        next_url = None
        if offset + size < len(matching):
            next_url = str(request.url.update_query(cursor=base64.b64encode(str(offset + size).encode()).decode()))
        if self.next_page_override is not None:
            next_url = self.next_page_override
        if self.repeat_next:
            next_url = str(request.url.update_query(cursor="MQ=="))
        return web.json_response({"returns": page, "nextPageUrl": next_url, "previousPageUrl": None})

    async def details(self, request: web.Request) -> web.Response:
        self.requests.append(request.url)
        for r in self.returns:
            if request.query.get("return_id") == str(r["id"]) or request.query.get("order_name") == r["order_name"]:
                return web.json_response(r)
        return web.json_response({"error": {"message": "No return found for the given parameters."}})

    async def asn(self, request: web.Request) -> web.Response:
        self.requests.append(request.url)
        self._range(request)
        return web.json_response(
            [{"id": 1, "return_line_item_id": 3, "order_name": "#1001", "carrier": "UPS", "box": "B-7"}]
        )


@pytest.fixture
async def mini() -> AsyncIterator[MiniLoop]:
    # Returns every 20 days over 300 days, one exactly on each 120-day window boundary.
    returns = [_return(i + 1, T0 + timedelta(days=20 * i)) for i in range(16)]
    returns.append(_return(100, T0 + timedelta(days=120)))
    returns.append(_return(101, T0 + timedelta(days=240), state="closed"))
    returns.sort(key=lambda r: (r["created_at"], r["id"]))
    async with MiniLoop(returns) as server:
        yield server


@pytest.fixture
async def loop(mini: MiniLoop) -> AsyncIterator[LoopClient]:
    async with LoopClient("test-key", base_url=mini.url, rate_limit=None, max_retries=0) as client:
        yield client


# -- get ---------------------------------------------------------------------------------


async def test_get_decodes_a_typed_return_with_decimal_money(loop: LoopClient, mini: MiniLoop) -> None:
    ret = await loop.returns.get(return_id=3, currency_type="shop")
    assert isinstance(ret, Return)
    assert ret.id == 3
    assert ret.state is ReturnState.OPEN
    assert ret.total == Decimal("12.50")
    assert ret.line_items[0].price == Decimal("10.10")
    assert ret.refunds[0].amount == Decimal("0.10")
    assert ret.created_at == T0 + timedelta(days=40)
    money = ret.money(ret.total)
    assert money is not None
    assert (money.amount, money.currency) == (Decimal("12.50"), "USD")
    assert mini.requests[-1].query == {"return_id": "3", "currency_type": "shop"}


async def test_get_by_order_name(loop: LoopClient) -> None:
    ret = await loop.returns.get(order_name="#1002")
    assert ret.id == 2


async def test_get_no_match_with_status_200_is_not_found(loop: LoopClient) -> None:
    with pytest.raises(NotFoundError) as info:
        await loop.returns.get(return_id=999)
    assert info.value.status == 200
    assert info.value.message == "No return found for the given parameters."
    assert info.value.response is not None


@pytest.mark.parametrize(
    ("kwargs", "names"),
    [
        ({}, ("return_id/order_id/order_name",)),
        ({"return_id": 1, "order_name": "#1001"}, ("return_id/order_id/order_name",)),
        ({"return_id": 0}, ("return_id",)),
        ({"order_id": "12"}, ("order_id",)),
        ({"order_name": "  "}, ("order_name",)),
        ({"return_id": 1, "currency_type": "local"}, ("currency_type",)),
        ({"return_id": 1, "currency_type": ["shop"]}, ("currency_type",)),  # unhashable: still a problem
    ],
)
async def test_get_rejects_bad_selectors_before_sending(
    loop: LoopClient, mini: MiniLoop, kwargs: dict[str, Any], names: tuple[str, ...]
) -> None:
    with pytest.raises(FieldValidationError) as info:
        await loop.returns.get(**kwargs)
    assert info.value.names == names
    assert mini.requests == []


# -- list --------------------------------------------------------------------------------


async def test_list_pages_and_windows_deliver_each_return_exactly_once(loop: LoopClient, mini: MiniLoop) -> None:
    end = T0 + timedelta(days=300)
    ids = [ret.id async for ret in loop.returns.list(T0, end, page_size=2)]
    expected = [r["id"] for r in mini.returns]
    assert ids == expected  # same order, no duplicate at the shared boundaries, none dropped
    assert len(ids) == len(set(ids))
    windows = {(u.query["from"], u.query["to"]) for u in mini.requests}
    assert windows == {
        ("2025-01-01 00:00:00", "2025-05-01 00:00:00"),
        ("2025-05-01 00:00:00", "2025-08-29 00:00:00"),
        ("2025-08-29 00:00:00", "2025-10-28 00:00:00"),
    }
    assert len(mini.requests) > 3  # several pages per window
    for url in mini.requests:
        assert url.query["paginate"] == "true"
        assert url.query["pageSize"] == "2"
        assert url.query["filter"] == "created_at"


async def test_list_converts_aware_datetimes_to_utc(loop: LoopClient, mini: MiniLoop) -> None:
    plus_two = timezone(timedelta(hours=2))
    start = datetime(2025, 1, 21, 2, 0, 0, tzinfo=plus_two)  # 2025-01-21 00:00:00 UTC
    end = datetime(2025, 2, 10, 2, 0, 0, 250_000, tzinfo=plus_two)
    ids = [ret.id async for ret in loop.returns.list(start, end, filter="updated_at")]
    assert ids == [2, 3]
    assert mini.requests[0].query["from"] == "2025-01-21 00:00:00"
    assert mini.requests[0].query["to"] == "2025-02-10 00:00:01"  # rounded up: nothing dropped
    assert mini.requests[0].query["filter"] == "updated_at"


async def test_list_states_are_sent_one_per_request(loop: LoopClient, mini: MiniLoop) -> None:
    got = [ret async for ret in loop.returns.list(T0, T0 + timedelta(days=100), states=["closed", ReturnState.OPEN])]
    assert [r.id for r in got] == [1, 2, 3, 4, 5, 6]
    assert [u.query["state"] for u in mini.requests] == ["closed", "open"]


async def test_list_accepts_the_unpaginated_array_shape(loop: LoopClient, mini: MiniLoop) -> None:
    mini.unpaginated = True
    ids = [ret.id async for ret in loop.returns.list(T0, T0 + timedelta(days=50))]
    assert ids == [1, 2, 3]


async def test_list_refuses_a_next_page_on_another_origin(loop: LoopClient, mini: MiniLoop) -> None:
    mini.next_page_override = "http://evil.example/api/v1/warehouse/return/list?cursor=x"
    results: list[int] = []

    async def consume() -> None:
        async for ret in loop.returns.list(T0, T0 + timedelta(days=50), page_size=1):
            results.append(ret.id)

    with pytest.raises(UnsafeLinkError):
        await consume()
    assert results == [1]  # the first page was delivered, nothing was sent to the other host
    assert len(mini.requests) == 1


async def test_list_stops_on_a_next_page_loop(loop: LoopClient, mini: MiniLoop) -> None:
    mini.repeat_next = True  # every page points at the second page again
    pages = loop.returns.list(T0, T0 + timedelta(days=50), page_size=1)
    with pytest.raises(DecodeError, match="repeats"):
        [ret async for ret in pages]
    assert len(mini.requests) == 2


@pytest.mark.parametrize(
    ("args", "kwargs", "names"),
    [
        ((datetime(2025, 1, 1), T0 + timedelta(days=1)), {}, ("start",)),
        ((T0, datetime(2025, 2, 1)), {}, ("end",)),
        ((T0 + timedelta(days=1), T0), {}, ("end",)),
        ((T0, T0), {}, ("end",)),
        ((T0, T0 + timedelta(days=1)), {"page_size": 0}, ("page_size",)),
        ((T0, T0 + timedelta(days=1)), {"page_size": 751}, ("page_size",)),
        ((T0, T0 + timedelta(days=1)), {"page_size": True}, ("page_size",)),
        ((T0, T0 + timedelta(days=1)), {"states": ["open", "shipped"]}, ("states",)),
        ((T0, T0 + timedelta(days=1)), {"states": []}, ("states",)),
        ((T0, T0 + timedelta(days=1)), {"filter": "closed_at"}, ("filter",)),
        (("2025-01-01", None), {"page_size": 1000}, ("start", "end", "page_size")),
    ],
)
async def test_list_rejects_bad_arguments_before_sending(
    loop: LoopClient, mini: MiniLoop, args: tuple[Any, Any], kwargs: dict[str, Any], names: tuple[str, ...]
) -> None:
    with pytest.raises(FieldValidationError) as info:
        loop.returns.list(*args, **kwargs)  # raised at the call, before any iteration
    assert info.value.names == names
    assert mini.requests == []


async def test_list_accepts_a_single_state_string(loop: LoopClient, mini: MiniLoop) -> None:
    ids = [r.id async for r in loop.returns.list(T0, T0 + timedelta(days=250), states="closed")]
    assert ids == [101]


# -- asn ---------------------------------------------------------------------------------


async def test_asn_rows_keep_unlisted_columns(loop: LoopClient, mini: MiniLoop) -> None:
    rows = await loop.returns.asn(T0, T0 + timedelta(days=7))
    assert rows == [AsnRow(id=1, return_line_item_id=3, order_name="#1001", carrier="UPS", extra={"box": "B-7"})]
    assert rows[0].key == (1, 3)
    assert mini.requests[0].query == {"from": "2025-01-01 00:00:00", "to": "2025-01-08 00:00:00"}


async def test_asn_rejects_naive_datetimes_before_sending(loop: LoopClient, mini: MiniLoop) -> None:
    with pytest.raises(FieldValidationError):
        await loop.returns.asn(datetime(2025, 1, 1), datetime(2025, 1, 2))
    assert mini.requests == []


async def test_asn_range_error_from_loop_is_raised(loop: LoopClient) -> None:
    with pytest.raises(UnprocessableEntityError):
        await loop.returns.asn(T0, T0 + timedelta(days=200))


# -- against the fake server -----------------------------------------------------------------

LIST_ROUTE = "GET /api/v1/warehouse/return/list"


@pytest.fixture
async def fake() -> AsyncIterator[FakeLoopServer]:
    async with FakeLoopServer(orders=5) as server:
        yield server


@pytest.fixture
async def fake_loop(fake: FakeLoopServer) -> AsyncIterator[LoopClient]:
    async with LoopClient(fake.api_key, base_url=fake.url, rate_limit=None, max_retries=0) as client:
        yield client


async def test_fake_server_pages_and_windows_exactly_once(fake: FakeLoopServer, fake_loop: LoopClient) -> None:
    end = T0 + timedelta(days=300)
    stamps = [T0 + timedelta(days=13 * k, hours=k) for k in range(24)]
    # On the window boundaries (T0+120d, T0+240d), half a second after one, and on both range ends.
    stamps += [T0, T0 + timedelta(days=120), T0 + timedelta(days=120, microseconds=500_000)]
    stamps += [T0 + timedelta(days=240), end]
    seeded = {fake.seed_return(created_at=at): at for at in stamps}
    outside = {fake.seed_return(created_at=at) for at in (T0 - timedelta(seconds=1), end + timedelta(seconds=1))}
    ids = [ret.id async for ret in fake_loop.returns.list(T0, end, page_size=3)]
    assert len(ids) == len(set(ids))  # nothing twice, even on the shared boundary seconds
    in_range = {rid for rid, ret in fake.returns.items() if T0 <= ret.created_at.replace(microsecond=0) <= end}
    assert set(ids) == in_range
    assert set(seeded) <= set(ids)
    assert not outside & set(ids)
    assert fake.request_counts[LIST_ROUTE] >= 3 + len(ids) // 3  # 3 windows, several pages each


async def test_fake_server_states_filter(fake: FakeLoopServer, fake_loop: LoopClient) -> None:
    closed = fake.seed_return(state="closed", created_at=T0 + timedelta(days=1))
    fake.seed_return(state="open", created_at=T0 + timedelta(days=2))
    cancelled = fake.seed_return(state="cancelled", created_at=T0 + timedelta(days=3))
    got = [r async for r in fake_loop.returns.list(T0, T0 + timedelta(days=5), states=["closed", "cancelled"])]
    assert sorted(r.id for r in got) == sorted([closed, cancelled])
    assert {r.state for r in got} == {ReturnState.CLOSED, ReturnState.CANCELLED}


async def test_fake_server_bad_ranges_rejected_before_sending(fake: FakeLoopServer, fake_loop: LoopClient) -> None:
    for args in [(T0, T0), (T0 + timedelta(days=1), T0), (datetime(2025, 1, 1), T0 + timedelta(days=1))]:
        with pytest.raises(FieldValidationError):
            fake_loop.returns.list(*args)
    with pytest.raises(FieldValidationError):
        fake_loop.returns.list(T0, T0 + timedelta(days=1), page_size=751)
    with pytest.raises(FieldValidationError):
        await fake_loop.returns.asn(T0, datetime(2025, 2, 1))
    assert sum(fake.request_counts.values()) == 0


async def test_fake_server_get_and_not_found(fake: FakeLoopServer, fake_loop: LoopClient) -> None:
    rid = fake.seed_return(order_name=fake.orders[1].name)
    by_id = await fake_loop.returns.get(return_id=rid)
    by_name = await fake_loop.returns.get(order_name=fake.orders[1].name)
    assert by_id == by_name
    assert by_id.order_name == fake.orders[1].name
    assert isinstance(by_id.total, Decimal)
    with pytest.raises(NotFoundError):
        await fake_loop.returns.get(return_id=rid + 1000)


async def test_fake_server_asn(fake: FakeLoopServer, fake_loop: LoopClient) -> None:
    rid = fake.seed_return(created_at=T0 + timedelta(hours=5))
    rows = await fake_loop.returns.asn(T0, T0 + timedelta(days=1))
    assert [row.id for row in rows] == [rid]
    assert rows[0].title and rows[0].extra == {}  # the fake serves the documented columns only


async def test_a_return_that_drifts_onto_the_next_page_is_yielded_once() -> None:
    """Pages drift when returns change while they are read (filter=updated_at)."""
    stamp = "2026-01-10 10:00:00"
    pages = {
        None: ([{"id": 7, "updated_at": stamp}], "second"),
        "second": ([{"id": 7, "updated_at": stamp}, {"id": 8, "updated_at": stamp}], None),
    }

    async def listing(request: web.Request) -> web.Response:
        returns, following = pages[request.query.get("cursor")]
        next_url = str(request.url.update_query(cursor=following)) if following else None
        return web.json_response({"returns": returns, "nextPageUrl": next_url, "previousPageUrl": None})

    app = web.Application()
    app.router.add_get("/api/v1/warehouse/return/list", listing)
    async with TestServer(app) as server, LoopClient("k", base_url=server.make_url("/"), rate_limit=None) as loop:
        start = datetime(2026, 1, 1, tzinfo=timezone.utc)
        ids = [r.id async for r in loop.returns.list(start, start + timedelta(days=30), filter="updated_at")]
    assert ids == [7, 8]
