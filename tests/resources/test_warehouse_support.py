"""Eligibility, Happy Returns shipments, destinations, fraud reports and the block/allow lists
against the fake server: happy paths, client-side refusals (nothing sent), error shapes, scopes, pages."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from loop_async import LoopClient
from loop_async.errors import (
    AuthenticationError,
    FieldValidationError,
    NotFoundError,
    UnprocessableEntityError,
    UnsafeLinkError,
)
from loop_async.models import (
    Address,
    Destination,
    DestinationType,
    DispositionOutcome,
    FraudCategory,
    IneligibilityCode,
    ListEntryType,
    ReturnEligibility,
    Shipment,
    ShipmentItem,
)
from loop_async.models._convert import structure
from loop_async.testing import SCOPE_RETURNS, SIGNATURE_HEADER, FakeLoopServer
from loop_async.webhooks import verify_signature


@pytest.fixture
async def server() -> AsyncIterator[FakeLoopServer]:
    async with FakeLoopServer(orders=6) as srv:
        yield srv


@pytest.fixture
async def loop(server: FakeLoopServer) -> AsyncIterator[LoopClient]:
    async with LoopClient(server.api_key, base_url=server.url, rate_limit=None, max_retries=0, timeout=5) as client:
        yield client


def sent(server: FakeLoopServer) -> int:
    return sum(server.request_counts.values())


# -- order return eligibility --------------------------------------------------------------


async def test_eligibility_is_computed_from_the_order(loop: LoopClient, server: FakeLoopServer) -> None:
    order = server.orders[0]
    result = await loop.orders.return_eligibility(order.name)
    assert isinstance(result, ReturnEligibility)
    assert result.order_id == order.id
    assert [item.id for item in result.items] == [li.id for li in order.line_items]
    assert [item.id for item in result.eligible_items] == [li.id for li in order.eligible_line_items]
    codes = {item.ineligibility_code for item in result.items if not item.eligible}
    assert codes == set(IneligibilityCode)
    assert server.drafts == {}  # advisory: no draft return was created


async def test_the_lists_change_eligibility(loop: LoopClient, server: FakeLoopServer) -> None:
    blocked, allowed = server.orders[1], server.orders[2]
    await loop.blocklist.create("email", blocked.email)
    await loop.allowlist.create(ListEntryType.ORDER, allowed.name)
    blocked_result = await loop.orders.return_eligibility(blocked.name)
    assert not blocked_result.eligible_items
    assert {str(item.ineligibility_code) for item in blocked_result.items} == {"blocked"}
    assert not next(iter(blocked_result.items)).ineligibility_code.is_known  # type: ignore[union-attr]
    allowed_result = await loop.orders.return_eligibility(allowed.name)
    assert len(allowed_result.eligible_items) == len(allowed.line_items)


async def test_eligibility_errors(loop: LoopClient, server: FakeLoopServer) -> None:
    with pytest.raises(FieldValidationError):
        await loop.orders.return_eligibility("  ")
    assert sent(server) == 0
    with pytest.raises(NotFoundError) as info:
        await loop.orders.return_eligibility("#999999")
    assert info.value.code == "ORDER_NOT_FOUND"


async def test_eligibility_needs_the_orders_scope() -> None:
    async with (
        FakeLoopServer(orders=1, api_keys={"returns-only": [SCOPE_RETURNS]}) as limited,
        LoopClient("returns-only", base_url=limited.url, rate_limit=None, max_retries=0) as loop,
    ):
        with pytest.raises(AuthenticationError) as info:
            await loop.orders.return_eligibility("#1001")
        with pytest.raises(AuthenticationError):
            await loop.blocklist.create("order", "#1001")
        with pytest.raises(AuthenticationError):
            _ = [s async for s in loop.happy_returns.shipments.list()]
    assert info.value.status == 401
    assert info.value.code == "NOT_AUTHORIZED"


# -- Happy Returns shipments ---------------------------------------------------------------


async def test_shipments_are_listed_across_pages(loop: LoopClient, server: FakeLoopServer) -> None:
    shipments = [s async for s in loop.happy_returns.shipments.list(page_size=2)]
    assert [s.loop_shipment_id for s in shipments] == sorted(server.warehouse.shipments)
    assert len(shipments) == 3
    assert server.request_counts["GET /api/v1/happy-returns/shipments"] == 2  # two pages of two
    assert all(isinstance(s, Shipment) and s.line_item_count == 5 for s in shipments)


async def test_shipments_by_date_range(loop: LoopClient, server: FakeLoopServer) -> None:
    now = datetime.now(timezone.utc)
    recent = [s async for s in loop.happy_returns.shipments.list(now - timedelta(days=1, hours=1), now)]
    assert [s.loop_shipment_id for s in recent] == [max(server.warehouse.shipments)]
    with pytest.raises(FieldValidationError) as info:
        loop.happy_returns.shipments.list(datetime(2026, 1, 1), now, page_size=0)
    assert [p.name for p in info.value.problems] == ["start", "page_size"]
    with pytest.raises(FieldValidationError):
        loop.happy_returns.shipments.list(now, now - timedelta(days=1))
    assert sent(server) == 1


async def test_shipment_get_and_items_across_pages(loop: LoopClient, server: FakeLoopServer) -> None:
    return_ids = [
        server.seed_return(order.name, line_item_ids=[li.id for li in order.eligible_line_items])
        for order in server.orders[:2]
    ]
    shipment_id = server.warehouse.seed_shipment(return_ids)
    shipment = await loop.happy_returns.shipments.get(shipment_id)
    assert shipment.return_count == 2 and shipment.line_item_count == 6
    assert shipment.happy_returns_shipment_id is not None
    by_hr_id = await loop.happy_returns.shipments.get(shipment.happy_returns_shipment_id)
    assert by_hr_id == shipment
    items = [item async for item in loop.happy_returns.shipments.items(shipment_id, page_size=4)]
    assert all(isinstance(item, ShipmentItem) for item in items)
    assert {item.return_id for item in items} == set(return_ids)
    assert len(items) == 6
    assert all(item.happy_returns_return_bag_barcodes for item in items)
    assert server.request_counts["GET /api/v1/happy-returns/shipments/{shipment_id}/items"] == 2
    with pytest.raises(NotFoundError):
        await loop.happy_returns.shipments.get("nope")
    for bad in ("../../webhooks", "a/b", "", True):
        with pytest.raises(FieldValidationError):
            await loop.happy_returns.shipments.get(bad)  # type: ignore[arg-type]
    with pytest.raises(FieldValidationError):
        loop.happy_returns.shipments.items(0)


async def test_a_next_page_off_the_origin_is_refused(loop: LoopClient, server: FakeLoopServer) -> None:
    page = {"current_page": 1, "data": [{"loop_shipment_id": 1}], "next_page_url": "https://evil.example/api/v1/x"}
    server.faults.inject("error200", route="GET /happy-returns/shipments", body=page)
    pages = loop.happy_returns.shipments.list()
    first = await anext(pages)
    assert first.loop_shipment_id == 1
    with pytest.raises(UnsafeLinkError):
        await anext(pages)


async def test_shipment_processed_webhook_is_signed(loop: LoopClient, server: FakeLoopServer) -> None:
    received: list[tuple[str | None, bytes]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append((request.headers.get(SIGNATURE_HEADER), await request.read()))
        return web.Response()

    app = web.Application()
    app.router.add_post("/hook", hook)
    async with TestServer(app, host="127.0.0.1") as receiver:
        await loop.webhooks.create("happy.returns.shipment", "shipment.processed", str(receiver.make_url("/hook")))
        shipment_id = min(server.warehouse.shipments)
        server.warehouse.process_shipment(shipment_id)
        await asyncio.wait_for(server.wait_for_webhooks(lambda d: len(d) == 1), timeout=5)
    ((signature, body),) = received
    assert verify_signature(server.webhook_secret, body, signature)
    payload = json.loads(body)
    assert (payload["topic"], payload["trigger"]) == ("happy.returns.shipment", "shipment.processed")
    assert structure(payload, Shipment).loop_shipment_id == shipment_id


# -- destinations --------------------------------------------------------------------------


ADDRESS = {"address1": "1 Dock St", "city": "Columbus", "state": "Ohio", "zip": "43210", "country_code": "US"}


async def test_destinations_crud(loop: LoopClient, server: FakeLoopServer) -> None:
    seeded = await loop.destinations.list()
    assert [d.type for d in seeded] == [DestinationType.WAREHOUSE, DestinationType.DONATE]
    created = await loop.destinations.create("Overflow", "warehouse", ADDRESS, enabled=False)
    assert isinstance(created, Destination)
    assert created.enabled is False and created.address == Address(**ADDRESS)
    assert await loop.destinations.get(created.id) == created
    updated = await loop.destinations.update(created.id, enabled=True, address=Address(city="Dayton"))
    assert updated is not None and updated.enabled is True and updated.address == Address(city="Dayton")
    await loop.destinations.delete(created.id)
    with pytest.raises(NotFoundError):
        await loop.destinations.get(created.id)
    assert len(await loop.destinations.list()) == 2


async def test_destination_problems_are_refused_before_sending(loop: LoopClient, server: FakeLoopServer) -> None:
    with pytest.raises(FieldValidationError) as info:
        await loop.destinations.create("", "depot", {"city": 5, "planet": "Mars"})  # type: ignore[dict-item]
    assert [p.name for p in info.value.problems] == ["name", "type", "address", "address.city"]
    with pytest.raises(FieldValidationError):
        await loop.destinations.update(1)
    with pytest.raises(FieldValidationError):
        await loop.destinations.delete(-1)
    assert sent(server) == 0


async def test_destination_limit_is_loops_error_code(loop: LoopClient, server: FakeLoopServer) -> None:
    for index in range(8):
        await loop.destinations.create(f"Site {index}", "donate", ADDRESS)
    with pytest.raises(UnprocessableEntityError) as info:
        await loop.destinations.create("One too many", "donate", ADDRESS)
    assert info.value.code == "DESTINATION_LIMIT_EXCEEDED"


async def test_a_create_with_an_uncertain_outcome_is_not_resent(server: FakeLoopServer) -> None:
    server.faults.inject("drop_after", route="POST /destinations")
    async with LoopClient(server.api_key, base_url=server.url, rate_limit=None, max_retries=3, timeout=5) as loop:
        with pytest.raises(Exception) as info:
            await loop.destinations.create("Maybe", "warehouse", ADDRESS)
    assert not isinstance(info.value, FieldValidationError)
    assert server.request_counts["POST /api/v1/destinations"] == 1
    assert len(server.warehouse.destinations) == 3  # it did happen, once


# -- fraud reports -------------------------------------------------------------------------


async def test_report_fraud(loop: LoopClient, server: FakeLoopServer) -> None:
    return_id = server.seed_return()
    report = await loop.returns.report_fraud(return_id, FraudCategory.PACKAGE_IS_EMPTY, "box was empty")
    assert report.return_id == return_id and report.category is FraudCategory.PACKAGE_IS_EMPTY
    assert report.comment == "box was empty" and report.created_at is not None
    assert server.warehouse.fraud_reports[0]["id"] == report.id
    with pytest.raises(NotFoundError):
        await loop.returns.report_fraud(424242, "item-is-worn")


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ((0, "item-is-worn"), "return_id"),
        ((1, "stolen"), "category"),
        ((1, "other"), "comment"),
        ((1, "other", "  "), "comment"),
    ],
)
async def test_fraud_report_problems_are_refused_before_sending(
    loop: LoopClient, server: FakeLoopServer, args: tuple[Any, ...], field: str
) -> None:
    with pytest.raises(FieldValidationError) as info:
        await loop.returns.report_fraud(*args)
    assert [p.name for p in info.value.problems] == [field]
    assert sent(server) == 0


# -- block and allow lists -----------------------------------------------------------------


async def test_blocklist_pages_get_and_delete(loop: LoopClient, server: FakeLoopServer) -> None:
    created = [await loop.blocklist.create("order", order.name) for order in server.orders[:5]]
    created.append(await loop.blocklist.create("product", "43045586894074", secondary_value="43045586894075"))
    entries = [entry async for entry in loop.blocklist.list(page_size=2)]
    assert entries == created
    assert server.request_counts["GET /api/v1/blocklists"] == 3
    assert entries[-1].type is ListEntryType.PRODUCT and entries[-1].secondary_value == "43045586894075"
    assert await loop.blocklist.get(created[0].id) == created[0]
    await loop.blocklist.delete(created[0].id)
    with pytest.raises(NotFoundError):
        await loop.blocklist.get(created[0].id)
    assert [e async for e in loop.allowlist.list()] == []


async def test_list_refusals(loop: LoopClient, server: FakeLoopServer) -> None:
    with pytest.raises(FieldValidationError) as info:
        await loop.allowlist.create("product_tag", "")
    assert [p.name for p in info.value.problems] == ["type", "value"]
    with pytest.raises(FieldValidationError):
        loop.blocklist.list(page_size=0)
    assert sent(server) == 0
    await loop.allowlist.create("email", "vip@example.com")
    with pytest.raises(UnprocessableEntityError) as dup:
        await loop.allowlist.create("email", "vip@example.com")
    assert dup.value.errors[0].field == "value"


# -- decoding ------------------------------------------------------------------------------


def test_unknown_fields_and_enum_values_decode() -> None:
    shipment = structure({"loop_shipment_id": 1, "colour": "red", "created_at": None}, Shipment)
    assert shipment.loop_shipment_id == 1
    destination = structure({"id": 3, "type": "pop-up-store", "extra": {}}, Destination)
    assert destination.type is not None and destination.type.value == "pop-up-store"
    assert not destination.type.is_known
    from loop_async.models import Disposition

    disposition = structure({"line_item_id": 1, "disposition_outcome": "refurbish"}, Disposition)
    assert isinstance(disposition.disposition_outcome, DispositionOutcome)
    assert disposition.disposition_outcome == "refurbish"
