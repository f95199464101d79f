"""Draft returns in HAL-FORMS, as Loop serves them from ``2026-10`` (and on ``unstable``).

Driven through ``loop.draft_returns`` (so through the SDK's :class:`NegotiatedFormat`, which
reads the format from each answer), in Loop's shape (each href in ``_links[rel]``, each form in
``_templates[rel]``) and in the spec's shape (the href in the template's ``target``), and
compared with what ``/api/v1`` serves for the same draft.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from loop_async import (
    AuthenticationError,
    FieldValidationError,
    LoopClient,
    ReturnsUnavailableError,
    UnprocessableEntityError,
)
from loop_async._sansio import json as _json
from loop_async.hypermedia import HalFormsFormat, Link, LoopLinksFormat, Navigator
from loop_async.models import Address, DraftReturnResponse, DraftReturnState, ProcessingType
from loop_async.testing import SCOPE_DRAFT_RETURNS_READ, FakeLoopServer
from loop_async.testing.drafts import render_links
from loop_async.testing.versions import HAL_FORMS_CONTENT_TYPE

HAL = "2026-10"
HAL_VERSIONS = ("2026-10", "unstable")


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


def client_for(server: FakeLoopServer, version: str, **options: Any) -> LoopClient:
    return LoopClient(
        server.api_key, base_url=server.url, api_version=version, rate_limit=None, max_retries=0, **options
    )


async def new_draft(loop: LoopClient, server: FakeLoopServer, index: int = 0) -> Navigator[DraftReturnResponse]:
    order = server.orders[index]
    return await loop.draft_returns.create(order.name, order.zip)


async def raw_get(
    http: aiohttp.ClientSession, server: FakeLoopServer, version: str, draft_id: int, **headers: str
) -> tuple[str, bytes]:
    async with http.get(server.url / "api" / version / "draft-returns" / str(draft_id), headers=headers) as response:
        assert response.status == 200
        return response.headers["Content-Type"], await response.read()


async def finalized(loop: LoopClient, server: FakeLoopServer, index: int = 0) -> Navigator[DraftReturnResponse]:
    """A draft with one item and its reason, finalized."""
    nav = await new_draft(loop, server, index)
    nav = await nav.follow("add-returning-item", order_line_item_id=server.orders[index].eligible_line_items[0].id)
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


@pytest.mark.parametrize("targets", [False, True], ids=["loop-links", "spec-target"])
@pytest.mark.parametrize("version", HAL_VERSIONS)
async def test_full_flow_by_rel_to_submitted(version: str, targets: bool) -> None:
    async with FakeLoopServer(orders=3, hal_forms_targets=targets) as server, client_for(server, version) as loop:
        nav = await new_draft(loop, server)
        assert nav.response is not None and nav.response.headers["Content-Type"] == HAL_FORMS_CONTENT_TYPE
        draft_id = nav.resource.draft_return.id
        root = server.url / "api" / version / "draft-returns" / str(draft_id)
        assert nav.self_url == root
        assert nav.rels == ("add-returning-item", "set-customer", "accept-return-policy", "cancel-draft-return")
        assert nav.link("add-returning-item").href == str(root / "returning-items")
        assert nav.link("add-returning-item").is_required  # the template-level "required" extension
        assert nav.resource.client_application is not None

        line_item = allowed(nav, "add-returning-item", "order_line_item_id")[0]
        nav = await nav.follow("add-returning-item", order_line_item_id=line_item)
        item_id = nav.resource.draft_return.returning_items[0].id
        assert set(nav.links.family("set-returning-item-return-reason")) == {str(item_id)}
        nav = await nav.follow_member("set-returning-item-return-reason", item_id, return_reason_id=2, comment="tight")
        nav = await nav.follow("finalize-items")
        assert nav.resource.draft_return.state == DraftReturnState.RETURNING_ITEMS_FINALIZED
        assert [o.type for o in nav.resource.processing_type_options] == [
            ProcessingType.REGULAR,
            ProcessingType.INSTANT,
        ]
        nav = await nav.follow("set-credit-type", credit_type="refund")
        method_id = allowed(nav, "select-return-method", "return_method_id")[0]
        nav = await nav.follow("select-return-method", return_method_id=method_id)
        nav = await nav.follow("submit-draft-return")

        draft = nav.resource.draft_return
        assert draft.state == DraftReturnState.SUBMITTED
        assert nav.is_terminal and nav.rels == ()
        assert draft.return_id is not None and server.returns[draft.return_id].state == "open"
        assert server.side_effects[("submit", draft_id)] == 1
        assert server.request_counts[f"POST /api/{version}/draft-returns/{{draft_id}}/submit"] == 1
        assert not any(route.startswith(("POST /api/v1", "GET /api/v1")) for route in server.request_counts)


@pytest.mark.parametrize("version", HAL_VERSIONS)
async def test_drive_with_a_generic_policy(fake_loop_server: FakeLoopServer, version: str) -> None:
    async with client_for(fake_loop_server, version) as loop:
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
    assert fake_loop_server.request_counts[f"POST /api/{version}/draft-returns/{{draft_id}}/submit"] == 1


async def test_hal_response_content_type_and_shape(
    loop: LoopClient, fake_loop_server: FakeLoopServer, http: aiohttp.ClientSession
) -> None:
    nav = await new_draft(loop, fake_loop_server)
    draft_id = nav.resource.draft_return.id
    # 2026-10 ignores Accept: HAL-FORMS even to a client that asks for JSON.
    content_type, raw = await raw_get(http, fake_loop_server, HAL, draft_id, Accept="application/json")
    assert content_type == HAL_FORMS_CONTENT_TYPE
    body = _json.loads(raw)
    assert list(body) == ["draft_return", "context", "_links", "_templates", "client_application", "errors"]
    self_href = f"{fake_loop_server.url}/api/{HAL}/draft-returns/{draft_id}"
    # Loop's shape: every action's href in _links[rel], its form in _templates[rel], no target.
    assert body["_links"] == {
        "self": {"href": self_href},
        "add-returning-item": {"href": f"{self_href}/returning-items"},
        "set-customer": {"href": f"{self_href}/customer"},
        "accept-return-policy": {"href": f"{self_href}/accept-return-policy"},
        "cancel-draft-return": {"href": f"{self_href}/cancel"},
    }
    assert body["errors"] == []
    add = body["_templates"]["add-returning-item"]
    assert add == {
        "method": "POST",
        "contentType": "application/json",
        "title": "Add a line item to the return",
        "properties": [
            {
                "name": "order_line_item_id",
                "required": True,
                "options": {"inline": [li.id for li in fake_loop_server.orders[0].eligible_line_items], "maxItems": 1},
                "prompt": "ID of the line item to return",
            }
        ],
        "required": True,
    }
    email = body["_templates"]["set-customer"]["properties"][0]
    assert (email["type"], email["maxLength"]) == ("email", 255) and "regex" in email
    policy = body["_templates"]["accept-return-policy"]["properties"][0]
    assert (policy["readOnly"], policy["value"]) == (True, 1)
    assert "required" not in body["_templates"]["cancel-draft-return"]  # optional action: no flag
    for template in body["_templates"].values():
        assert {"method", "title", "contentType", "properties"} <= set(template)
        assert "target" not in template

    # items-finalized: the processing types in _embedded, the flat 2026-10 address form.
    nav = await nav.follow("add-returning-item", order_line_item_id=add["properties"][0]["options"]["inline"][0])
    item_id = nav.resource.draft_return.returning_items[0].id
    nav = await nav.follow_member("set-returning-item-return-reason", item_id, return_reason_id=2)
    nav = await nav.follow("finalize-items")
    body = _json.loads((await raw_get(http, fake_loop_server, HAL, draft_id))[1])
    assert body["_embedded"] == {
        "processing_type_options": [{"type": "regular", "name": "Regular"}, {"type": "instant", "name": "Instant"}]
    }
    address = [p["name"] for p in body["_templates"]["set-address"]["properties"]]
    assert address == [
        "name",
        "company",
        "address1",
        "address2",
        "city",
        "state",
        "zip",
        "country",
        "country_code",
        "phone",
    ]
    assert body["_templates"]["set-cart"]["properties"][0]["options"].get("maxItems") is None  # a multi-select

    # A terminal state has no templates and no action links; its self link still reads it again.
    nav = await nav.follow("cancel-draft-return")
    body = _json.loads((await raw_get(http, fake_loop_server, HAL, draft_id))[1])
    assert body["draft_return"]["state"] == "cancelled"
    assert body["_templates"] == {} and body["_links"] == {"self": {"href": self_href}}


async def test_spec_shape_puts_each_href_in_the_template_target(http: aiohttp.ClientSession) -> None:
    async with FakeLoopServer(orders=1, hal_forms_targets=True) as server, client_for(server, HAL) as loop:
        nav = await new_draft(loop, server)
        async with http.get(
            server.url / "api" / HAL / "draft-returns" / str(nav.resource.draft_return.id),
            headers={"X-Authorization": server.api_key},
        ) as response:
            body = await response.json(content_type=None)
    assert list(body["_links"]) == ["self"]
    assert body["_templates"]["add-returning-item"]["target"] == nav.link("add-returning-item").href


async def test_partial_failure_errors_stay_in_the_envelope(loop: LoopClient, fake_loop_server: FakeLoopServer) -> None:
    nav = await finalized(loop, fake_loop_server)
    in_stock = allowed(nav, "add-cart-item", "variant_id")
    out_of_stock = next(v for v in allowed(nav, "add-cart-item", "variant_ids") if v not in in_stock)
    after = await nav.follow("add-cart-item", variant_ids=[in_stock[0], out_of_stock])
    assert after.response is not None and after.response.status == 200
    assert [e.code for e in after.errors] == ["product-variant-unavailable"]
    assert [c.variant_id for c in after.resource.draft_return.cart_items] == [in_stock[0]]


async def test_v1_serves_the_same_draft_in_links_format(
    loop: LoopClient, fake_loop_server: FakeLoopServer, http: aiohttp.ClientSession
) -> None:
    nav = await new_draft(loop, fake_loop_server)
    line_item = allowed(nav, "add-returning-item", "order_line_item_id")[0]
    nav = await nav.follow("add-returning-item", order_line_item_id=line_item)
    draft = fake_loop_server.drafts[nav.resource.draft_return.id]
    for _ in range(2):  # in `created` with an item, then in `returning-items-finalized`
        v1_type, v1_raw = await raw_get(http, fake_loop_server, "v1", draft.id)
        dated_type, dated_raw = await raw_get(http, fake_loop_server, "2026-07", draft.id)
        latest_type, latest_raw = await raw_get(http, fake_loop_server, "latest", draft.id)
        _, hal_raw = await raw_get(http, fake_loop_server, HAL, draft.id)
        # v1, 2026-07 and latest: Loop's links[] envelope, exactly as the state machine renders it.
        assert v1_type == dated_type == latest_type == "application/json"
        v1_root = fake_loop_server.url / "api" / "v1"
        assert v1_raw == _json.dumps(render_links(fake_loop_server.drafts_machine, draft, v1_root))
        assert dated_raw.replace(b"/api/2026-07/", b"/api/v1/") == v1_raw
        assert latest_raw.replace(b"/api/latest/", b"/api/v1/") == v1_raw
        v1, hal = _json.loads(v1_raw), _json.loads(hal_raw)
        assert list(v1) == ["draft_return", "context", "links", "errors"]
        assert set(v1["links"][0]) == {"rel", "href", "method", "description", "prompt", "fields", "is_required"}
        assert (hal["draft_return"], hal["context"], hal["errors"]) == (v1["draft_return"], v1["context"], v1["errors"])
        # The same actions, rel for rel, in the other format; the options of common fields agree.
        v1_links = LoopLinksFormat().links(v1)
        hal_links = HalFormsFormat().links(hal)
        assert [link.rel for link in hal_links] == [link.rel for link in v1_links]
        for mine, theirs in zip(hal_links, v1_links, strict=True):
            assert mine.href.replace(f"/api/{HAL}/", "/api/v1/") == theirs.href
            assert (mine.method, mine.description, mine.is_required) == (
                theirs.method,
                theirs.description,
                theirs.is_required,
            )
            for field in theirs.fields:
                counterpart = mine.field(field.name)
                if counterpart is not None:
                    assert counterpart.allowed_values == field.allowed_values
                    assert counterpart.is_required == field.is_required
        if draft.state == "created":
            item = nav.resource.draft_return.returning_items[0].id
            nav = await nav.follow_member("set-returning-item-return-reason", item, return_reason_id=2)
            nav = await nav.follow("finalize-items")
    assert draft.state == "returning-items-finalized"


async def test_2026_07_serves_hal_forms_when_the_client_asks(fake_loop_server: FakeLoopServer) -> None:
    async with (
        client_for(fake_loop_server, "2026-07") as plain,
        client_for(fake_loop_server, "2026-07", hal_forms=True) as hal,
    ):
        links_nav = await new_draft(plain, fake_loop_server)
        hal_nav = await new_draft(hal, fake_loop_server)
        assert links_nav.response is not None and links_nav.response.headers["Content-Type"] == "application/json"
        assert hal_nav.response is not None and hal_nav.response.headers["Content-Type"] == HAL_FORMS_CONTENT_TYPE
        assert links_nav.rels == hal_nav.rels
        # The list is HAL-FORMS only: on 2026-07 it needs the option.
        with pytest.raises(UnprocessableEntityError) as refused:
            await plain.draft_returns.list()
        assert refused.value.code == "unsupported-feature"
        drafts = await hal.draft_returns.list()
        assert [d.id for d in drafts] == [links_nav.resource.draft_return.id, hal_nav.resource.draft_return.id]
        nav = await hal_nav.follow(
            "add-returning-item", order_line_item_id=allowed(hal_nav, "add-returning-item", "order_line_item_id")[0]
        )
        assert nav.response is not None and nav.response.headers["Content-Type"] == HAL_FORMS_CONTENT_TYPE


async def test_list_totals_policy_processing_type_and_cart(loop: LoopClient, fake_loop_server: FakeLoopServer) -> None:
    nav = await finalized(loop, fake_loop_server)
    draft_id = nav.resource.draft_return.id
    [listed] = await loop.draft_returns.list()
    assert (listed.id, listed.state) == (draft_id, DraftReturnState.RETURNING_ITEMS_FINALIZED)

    totals = await loop.draft_returns.totals(draft_id)
    line_price = fake_loop_server.orders[0].eligible_line_items[0].price
    assert totals.return_total is not None and totals.return_total.amount == line_price
    assert totals.return_total.currency == fake_loop_server.orders[0].currency  # from Loop's currencyCode

    # The read-only default of the policy template is sent when left out.
    nav = await loop.draft_returns.accept_return_policy(draft_id)
    assert nav.resource.draft_return.return_policy_accepted is True
    assert "accept-return-policy" not in nav.rels

    available = allowed(nav, "set-cart", "variant_ids")
    nav = await loop.draft_returns.set_cart(draft_id, list(available))
    assert sorted(c.variant_id for c in nav.resource.draft_return.cart_items) == sorted(available)
    nav = await loop.draft_returns.set_cart(draft_id, [available[0]])  # the whole cart, replaced
    assert [c.variant_id for c in nav.resource.draft_return.cart_items] == [available[0]]

    nav = await loop.draft_returns.set_processing_type(draft_id, ProcessingType.INSTANT)
    assert nav.resource.draft_return.processing_type == ProcessingType.INSTANT
    nav = await nav.follow("set-credit-type", credit_type="refund")
    nav = await nav.follow(
        "select-return-method", return_method_id=allowed(nav, "select-return-method", "return_method_id")[0]
    )
    assert not nav.can("submit-draft-return")  # instant needs a payment intent first
    fake_loop_server.set_payment_intent(draft_id)
    nav = await nav.refresh()
    assert nav.can("submit-draft-return")
    nav = await loop.draft_returns.set_processing_type(draft_id, "regular")
    assert nav.resource.draft_return.payment_intent is None


async def test_flat_address_on_2026_10(loop: LoopClient, fake_loop_server: FakeLoopServer) -> None:
    nav = await finalized(loop, fake_loop_server)
    address = Address(
        name="Ada Lovelace", company="Analytical", address1="1 Engine St", city="London", zip="N1", country_code="GB",
        phone="+44 20 7946 0000",
    )  # fmt: skip
    nav = await loop.draft_returns.set_address(nav.resource.draft_return.id, address)
    saved = nav.resource.draft_return.shipping_address
    assert saved is not None and (saved.name, saved.company, saved.phone) == (
        "Ada Lovelace",
        "Analytical",
        address.phone,
    )
    before = sent(fake_loop_server)
    with pytest.raises(FieldValidationError) as refused:
        await nav.follow("set-address", address1="", city="London", zip="N1", country_code="gb", phone="call me")
    assert refused.value.names == ("address1", "country_code", "phone")
    assert sent(fake_loop_server) == before


async def test_hal_constraints_refuse_before_sending(loop: LoopClient, fake_loop_server: FakeLoopServer) -> None:
    nav = await new_draft(loop, fake_loop_server)
    before = sent(fake_loop_server)
    with pytest.raises(FieldValidationError) as refused:
        await nav.follow("add-returning-item", order_line_item_id=999_999)  # not among options.inline
    assert refused.value.names == ("order_line_item_id",)
    with pytest.raises(FieldValidationError) as several:
        await nav.follow(
            "add-returning-item", order_line_item_id=list(allowed(nav, "add-returning-item", "order_line_item_id"))
        )
    assert several.value.names == ("order_line_item_id",)  # maxItems 1: a single select takes one value
    with pytest.raises(FieldValidationError) as missing:
        await nav.follow("set-customer")  # a required property left out
    assert missing.value.names == ("email",)
    with pytest.raises(FieldValidationError):
        await nav.follow("set-customer", email="not an email")  # regex
    with pytest.raises(FieldValidationError):
        await nav.follow("accept-return-policy", return_policy_id=2)  # read-only: another value
    assert sent(fake_loop_server) == before  # nothing reached the server
    nav = await nav.follow("set-customer", email="ada@example.com")
    assert (
        nav.resource.draft_return.customer is not None and nav.resource.draft_return.customer.email == "ada@example.com"
    )


async def test_refusals_are_documented_422s(loop: LoopClient, fake_loop_server: FakeLoopServer) -> None:
    gift = fake_loop_server.orders[1]
    nav = await loop.draft_returns.create(gift.name, gift.zip, is_gift=True)
    nav = await nav.follow("add-returning-item", order_line_item_id=gift.eligible_line_items[0].id)
    item_id = nav.resource.draft_return.returning_items[0].id
    nav = await nav.follow_member("set-returning-item-return-reason", item_id, return_reason_id=2)
    nav = await nav.follow("finalize-items")
    assert not nav.can("set-processing-type")  # a gift return cannot be instant: nothing to choose
    with pytest.raises(UnprocessableEntityError) as not_offered:
        await loop.draft_returns.set_processing_type(nav.resource.draft_return.id, "instant")
    assert (not_offered.value.status, not_offered.value.code) == (422, "action-validation-failed")
    nav = await nav.follow("cancel-draft-return")
    with pytest.raises(UnprocessableEntityError) as terminal:
        await loop.draft_returns.accept_return_policy(nav.resource.draft_return.id)
    assert terminal.value.code == "terminal-state"


async def test_submit_for_an_order_without_returns_is_typed_do_not_retry(
    loop: LoopClient, fake_loop_server: FakeLoopServer
) -> None:
    nav = await finalized(loop, fake_loop_server)
    nav = await nav.follow("set-credit-type", credit_type="refund")
    nav = await nav.follow(
        "select-return-method", return_method_id=allowed(nav, "select-return-method", "return_method_id")[0]
    )
    fake_loop_server.make_returns_unavailable(fake_loop_server.orders[0].name)
    with pytest.raises(ReturnsUnavailableError) as refused:
        await loop.draft_returns.submit(nav.resource.draft_return.id)
    assert isinstance(refused.value, UnprocessableEntityError) and refused.value.retryable is False
    assert refused.value.code == "returns-unavailable-for-order"
    assert fake_loop_server.request_counts[f"POST /api/{HAL}/draft-returns/{{draft_id}}/submit"] == 1  # not retried
    assert fake_loop_server.drafts[nav.resource.draft_return.id].state == "returning-items-finalized"


async def test_read_and_write_scopes_are_separate() -> None:
    async with FakeLoopServer(
        orders=1, api_keys={"rw": ["Draft Returns (read)", "Draft Returns (write)"], "ro": [SCOPE_DRAFT_RETURNS_READ]}
    ) as server:
        async with client_for(server, HAL) as writer:
            nav = await new_draft(writer, server)
        draft_id = nav.resource.draft_return.id
        async with LoopClient("ro", base_url=server.url, api_version=HAL, rate_limit=None, max_retries=0) as reader:
            assert (await reader.draft_returns.get(draft_id)).resource.draft_return.id == draft_id
            assert [d.id for d in await reader.draft_returns.list()] == [draft_id]
            await reader.draft_returns.totals(draft_id)
            with pytest.raises(AuthenticationError):
                await reader.draft_returns.accept_return_policy(draft_id)
            with pytest.raises(AuthenticationError):
                await new_draft(reader, server)
        assert server.drafts[draft_id].return_policy_accepted is False


async def test_other_routes_answer_as_under_v1(fake_loop_server: FakeLoopServer, http: aiohttp.ClientSession) -> None:
    return_id = fake_loop_server.seed_return()
    answers = []
    for version in ("v1", HAL, "unstable", "latest"):
        url = (fake_loop_server.url / "api" / version / "warehouse/return/details").with_query(return_id=return_id)
        async with http.get(url) as response:
            answers.append((response.status, response.headers["Content-Type"], await response.read()))
    assert all(answer == answers[0] for answer in answers)
    assert answers[0][1] == "application/json"
    async with client_for(fake_loop_server, "unstable") as client:
        await client.returns.create_note(return_id, "checked")
    assert [note.content for note in fake_loop_server.returns[return_id].notes] == ["checked"]
    assert fake_loop_server.request_counts["POST /api/unstable/warehouse/return/{return_id}/note"] == 1
