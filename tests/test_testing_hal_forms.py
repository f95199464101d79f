"""The fake server's ``/api/2026-10``: the same draft state machine, its links served as HAL-FORMS.

Driven through ``loop.draft_returns`` with ``api_version="2026-10"`` (so through the SDK's
:class:`HalFormsFormat`), and compared, draft for draft, with what ``/api/v1`` serves.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from loop_async import FieldValidationError, LoopClient, _json
from loop_async.hypermedia import HalFormsFormat, Link, LoopLinksFormat, Navigator
from loop_async.models import DraftReturnResponse, DraftReturnState
from loop_async.testing import FakeLoopServer
from loop_async.testing.server import HAL_FORMS_CONTENT_TYPE

HAL = "2026-10"
DRAFT_ROUTES = "/api/2026-10/draft-returns"


def first_allowed(nav: Navigator[Any], link: Link) -> dict[str, Any]:
    """A policy that knows no API: the first allowed value of every required field."""
    return {f.name: f.allowed_values[0] for f in link.fields if f.is_required and f.allowed_values}


@pytest_asyncio.fixture
async def loop(fake_loop_server: FakeLoopServer) -> AsyncIterator[LoopClient]:
    async with LoopClient(
        fake_loop_server.api_key, base_url=fake_loop_server.url, api_version=HAL, rate_limit=None, max_retries=0
    ) as client:
        yield client


@pytest_asyncio.fixture
async def http(fake_loop_server: FakeLoopServer) -> AsyncIterator[aiohttp.ClientSession]:
    """A plain HTTP client, to see the bytes and headers the server sends."""
    async with aiohttp.ClientSession(headers={"X-Authorization": fake_loop_server.api_key}) as session:
        yield session


async def new_draft(loop: LoopClient, server: FakeLoopServer, index: int = 0) -> Navigator[DraftReturnResponse]:
    order = server.orders[index]
    return await loop.draft_returns.create(order.name, order.zip)


async def raw_get(
    http: aiohttp.ClientSession, server: FakeLoopServer, version: str, draft_id: int
) -> tuple[str, bytes]:
    async with http.get(server.url / "api" / version / "draft-returns" / str(draft_id)) as response:
        assert response.status == 200
        return response.headers["Content-Type"], await response.read()


async def finalized(loop: LoopClient, server: FakeLoopServer) -> Navigator[DraftReturnResponse]:
    """A draft with one item and its reason, finalized."""
    nav = await new_draft(loop, server)
    nav = await nav.follow("add-returning-item", order_line_item_id=server.orders[0].eligible_line_items[0].id)
    item_id = nav.resource.draft_return.returning_items[0].id
    nav = await nav.follow_member("set-returning-item-return-reason", item_id, return_reason_id=2)
    return await nav.follow("finalize-items")


def allowed(nav: Navigator[Any], rel: str, name: str) -> tuple[Any, ...]:
    """The allowed values the server offers for one field of one action."""
    field = nav.link(rel).field(name)
    assert field is not None and field.allowed_values
    return field.allowed_values


def sent(server: FakeLoopServer) -> int:
    return sum(server.request_counts.values())


async def test_full_flow_by_rel_to_submitted(loop: LoopClient, fake_loop_server: FakeLoopServer) -> None:
    assert isinstance(loop.draft_returns.format, HalFormsFormat)
    nav = await new_draft(loop, fake_loop_server)
    draft_id = nav.resource.draft_return.id
    assert nav.self_url == fake_loop_server.url / "api" / HAL / "draft-returns" / str(draft_id)
    assert nav.rels == ("add-returning-item", "set-customer", "cancel-draft-return")
    assert nav.link("add-returning-item").is_required  # the template-level "required" extension

    line_item = allowed(nav, "add-returning-item", "order_line_item_id")[0]
    nav = await nav.follow("add-returning-item", order_line_item_id=line_item)
    item_id = nav.resource.draft_return.returning_items[0].id
    assert set(nav.links.family("set-returning-item-return-reason")) == {str(item_id)}
    nav = await nav.follow_member("set-returning-item-return-reason", item_id, return_reason_id=2, comment="tight")
    nav = await nav.follow("finalize-items")
    assert nav.resource.draft_return.state == DraftReturnState.RETURNING_ITEMS_FINALIZED
    nav = await nav.follow("set-credit-type", credit_type="refund")
    method_id = allowed(nav, "select-return-method", "return_method_id")[0]
    nav = await nav.follow("select-return-method", return_method_id=method_id)
    nav = await nav.follow("submit-draft-return")

    draft = nav.resource.draft_return
    assert draft.state == DraftReturnState.SUBMITTED
    assert nav.is_terminal and nav.rels == ()
    assert draft.return_id is not None and fake_loop_server.returns[draft.return_id].state == "open"
    assert fake_loop_server.side_effects[("submit", draft_id)] == 1
    assert fake_loop_server.request_counts[f"POST {DRAFT_ROUTES}/{{draft_id}}/submit"] == 1
    assert not any(route.startswith(("POST /api/v1", "GET /api/v1")) for route in fake_loop_server.request_counts)


async def test_drive_with_a_generic_policy(loop: LoopClient, fake_loop_server: FakeLoopServer) -> None:
    nav = await new_draft(loop, fake_loop_server, 1)
    result = await nav.drive(first_allowed)
    assert result.outcome == "terminal"
    assert [s.rel for s in result.steps] == [
        "add-returning-item",
        "set-returning-item-return-reason-" + str(result.navigator.resource.draft_return.returning_items[0].id),
        "finalize-items",
        "set-credit-type",
        "select-return-method",
        "submit-draft-return",
    ]
    assert result.navigator.resource.draft_return.state == DraftReturnState.SUBMITTED
    assert fake_loop_server.request_counts[f"POST {DRAFT_ROUTES}/{{draft_id}}/submit"] == 1


async def test_fields_from_hal_properties_refuse_bad_values_before_sending(
    loop: LoopClient, fake_loop_server: FakeLoopServer
) -> None:
    nav = await new_draft(loop, fake_loop_server)
    field = nav.link("add-returning-item").field("order_line_item_id")
    assert field is not None and field.is_required and field.allowed_values
    before = sent(fake_loop_server)
    with pytest.raises(FieldValidationError) as refused:
        await nav.follow("add-returning-item", order_line_item_id=999_999)  # not among options.inline
    assert refused.value.names == ("order_line_item_id",)
    with pytest.raises(FieldValidationError) as missing:
        await nav.follow("set-customer")  # a required property left out
    assert missing.value.names == ("email",)
    assert sent(fake_loop_server) == before  # nothing reached the server
    assert fake_loop_server.request_counts[f"POST {DRAFT_ROUTES}/{{draft_id}}/returning-items"] == 0
    nav = await nav.follow("add-returning-item", order_line_item_id=field.allowed_values[0])
    assert fake_loop_server.request_counts[f"POST {DRAFT_ROUTES}/{{draft_id}}/returning-items"] == 1


async def test_hal_response_content_type_and_shape(
    loop: LoopClient, fake_loop_server: FakeLoopServer, http: aiohttp.ClientSession
) -> None:
    nav = await new_draft(loop, fake_loop_server)
    draft_id = nav.resource.draft_return.id
    content_type, raw = await raw_get(http, fake_loop_server, HAL, draft_id)
    assert content_type == HAL_FORMS_CONTENT_TYPE
    body = _json.loads(raw)
    assert set(body) == {"draft_return", "context", "_links", "_templates", "errors"}
    self_href = f"{fake_loop_server.url}/api/{HAL}/draft-returns/{draft_id}"
    assert body["_links"] == {"self": {"href": self_href}}
    assert body["errors"] == []
    add = body["_templates"]["add-returning-item"]
    assert add == {
        "method": "POST",
        "contentType": "application/json",
        "target": f"{self_href}/returning-items",
        "title": "Add a line item to the return",
        "properties": [
            {
                "name": "order_line_item_id",
                "required": True,
                "type": "int",
                "prompt": "ID of the line item to return",
                "options": {"inline": add["properties"][0]["options"]["inline"]},
            }
        ],
        "required": True,
    }
    assert add["properties"][0]["options"]["inline"] == [li.id for li in fake_loop_server.orders[0].eligible_line_items]
    assert body["_templates"]["set-customer"]["properties"][0]["type"] == "text"
    assert "required" not in body["_templates"]["cancel-draft-return"]  # optional action: no flag
    for template in body["_templates"].values():
        assert {"method", "title", "contentType", "target", "properties"} <= set(template)
        assert template["target"].startswith(self_href)

    # A terminal state has no templates; its self link still reads it again.
    nav = await nav.follow("cancel-draft-return")
    content_type, raw = await raw_get(http, fake_loop_server, HAL, draft_id)
    body = _json.loads(raw)
    assert body["draft_return"]["state"] == "cancelled"
    assert body["_templates"] == {} and body["_links"] == {"self": {"href": self_href}}


async def test_partial_failure_errors_stay_in_the_envelope(loop: LoopClient, fake_loop_server: FakeLoopServer) -> None:
    nav = await finalized(loop, fake_loop_server)
    in_stock = allowed(nav, "add-cart-item", "variant_id")
    out_of_stock = next(v for v in allowed(nav, "add-cart-item", "variant_ids") if v not in in_stock)
    after = await nav.follow("add-cart-item", variant_ids=[in_stock[0], out_of_stock])
    assert after.response is not None and after.response.status == 200
    assert [e.code for e in after.errors] == ["product-variant-unavailable"]
    assert [c.variant_id for c in after.resource.draft_return.cart_items] == [in_stock[0]]


async def test_v1_serves_the_same_draft_unchanged(
    loop: LoopClient, fake_loop_server: FakeLoopServer, http: aiohttp.ClientSession
) -> None:
    nav = await new_draft(loop, fake_loop_server)
    line_item = allowed(nav, "add-returning-item", "order_line_item_id")[0]
    nav = await nav.follow("add-returning-item", order_line_item_id=line_item)
    draft = fake_loop_server.drafts[nav.resource.draft_return.id]
    for _ in range(2):  # in `created` with an item, then in `returning-items-finalized`
        v1_type, v1_raw = await raw_get(http, fake_loop_server, "v1", draft.id)
        dated_type, dated_raw = await raw_get(http, fake_loop_server, "2026-07", draft.id)
        _, hal_raw = await raw_get(http, fake_loop_server, HAL, draft.id)
        # v1: Loop's links[] envelope, exactly as the state machine renders it.
        assert v1_type == dated_type == "application/json"
        v1_root = fake_loop_server.url / "api" / "v1"
        assert v1_raw == _json.dumps(fake_loop_server.drafts_machine.render(draft, v1_root))
        assert dated_raw.replace(b"/api/2026-07/", b"/api/v1/") == v1_raw
        v1, hal = _json.loads(v1_raw), _json.loads(hal_raw)
        assert list(v1) == ["draft_return", "context", "links", "errors"]
        assert (hal["draft_return"], hal["context"], hal["errors"]) == (v1["draft_return"], v1["context"], v1["errors"])
        # The same actions, rel for rel and field for field, in the other format.
        v1_links = LoopLinksFormat().links(v1)
        hal_links = HalFormsFormat().links(hal)
        assert [link.rel for link in hal_links] == [link.rel for link in v1_links]
        for mine, theirs in zip(hal_links, v1_links, strict=True):
            assert mine.href.replace(f"/api/{HAL}/", "/api/v1/") == theirs.href
            assert (mine.method, mine.description, mine.fields, mine.is_required) == (
                theirs.method,
                theirs.description,
                theirs.fields,
                theirs.is_required,
            )
        if draft.state == "created":
            item = nav.resource.draft_return.returning_items[0].id
            nav = await nav.follow_member("set-returning-item-return-reason", item, return_reason_id=2)
            nav = await nav.follow("finalize-items")
    assert draft.state == "returning-items-finalized"


async def test_other_routes_answer_as_under_v1(fake_loop_server: FakeLoopServer, http: aiohttp.ClientSession) -> None:
    return_id = fake_loop_server.seed_return()
    answers = []
    for version in ("v1", HAL):
        url = (fake_loop_server.url / "api" / version / "warehouse/return/details").with_query(return_id=return_id)
        async with http.get(url) as response:
            answers.append((response.status, response.headers["Content-Type"], await response.read()))
    assert answers[0] == answers[1]
    assert answers[0][1] == "application/json"
    async with LoopClient(
        fake_loop_server.api_key, base_url=fake_loop_server.url, api_version=HAL, rate_limit=None
    ) as client:
        await client.returns.create_note(return_id, "checked")
    assert [note.content for note in fake_loop_server.returns[return_id].notes] == ["checked"]
    assert fake_loop_server.request_counts["POST /api/2026-10/warehouse/return/{return_id}/note"] == 1
