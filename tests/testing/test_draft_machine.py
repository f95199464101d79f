"""The fake server's draft-return state machine, driven over HTTP with the client's raw escape hatch."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import pytest_asyncio
from yarl import URL

from loop_async import LoopClient, NotFoundError, UnprocessableEntityError
from loop_async.models import DraftReturnResponse, IneligibilityCode
from loop_async.models._convert import structure
from loop_async.testing import FakeLoopServer
from loop_async.testing.catalog import RETURN_METHODS, RETURN_REASONS

ALL_REASON_IDS = [rid for rid, _, _, children in RETURN_REASONS for rid in (rid, *(c[0] for c in children))]


class Draft:
    """The last response of a draft, with helpers to follow its links."""

    def __init__(self, client: LoopClient, data: dict[str, Any]) -> None:
        self.client = client
        self.data = data
        structure(data, DraftReturnResponse)  # every answer decodes with the SDK's own model

    @property
    def id(self) -> int:
        return int(self.data["draft_return"]["id"])

    @property
    def state(self) -> str:
        return str(self.data["draft_return"]["state"])

    @property
    def rels(self) -> list[str]:
        return [link["rel"] for link in self.data["links"]]

    @property
    def totals(self) -> dict[str, Any]:
        return dict(self.data["draft_return"]["totals"])

    def link(self, rel: str) -> dict[str, Any]:
        return next(link for link in self.data["links"] if link["rel"] == rel)

    def field(self, rel: str, name: str) -> dict[str, Any]:
        return next(f for f in self.link(rel)["fields"] if f["name"] == name)

    async def follow(self, rel: str, **body: Any) -> Draft:
        link = self.link(rel)
        json_body: Any = body if body else None
        if link["method"] == "DELETE" or not body:
            response = await self.client.request(link["method"], URL(link["href"]))
        else:
            response = await self.client.request(link["method"], URL(link["href"]), json=json_body)
        return Draft(self.client, response.data)

    async def post(self, suffix: str, body: Any = None) -> Draft:
        kwargs: dict[str, Any] = {} if body is None else {"json": body}
        response = await self.client.request("POST", f"draft-returns/{self.id}/{suffix}", **kwargs)
        return Draft(self.client, response.data)


@pytest_asyncio.fixture
async def client(fake_loop_server: FakeLoopServer) -> AsyncIterator[LoopClient]:
    async with LoopClient(
        fake_loop_server.api_key, base_url=fake_loop_server.url, rate_limit=None, max_retries=0
    ) as loop:
        yield loop


async def new_draft(client: LoopClient, server: FakeLoopServer, index: int = 0, **extra: Any) -> Draft:
    order = server.orders[index]
    body = {"order_name": order.name, "secondary_input": order.zip, "is_gift": False, **extra}
    return Draft(client, (await client.request("POST", "draft-returns", json=body)).data)


def money(totals: dict[str, Any], name: str) -> int:
    return int(totals[name]["amount"])


async def ready_to_submit(client: LoopClient, server: FakeLoopServer) -> Draft:
    draft = await new_draft(client, server)
    line_id = draft.field("add-returning-item", "order_line_item_id")["allowed_values"][0]
    draft = await draft.follow("add-returning-item", order_line_item_id=line_id)
    item_id = draft.data["draft_return"]["returning_items"][0]["id"]
    draft = await draft.follow(f"set-returning-item-return-reason-{item_id}", return_reason_id=1)
    draft = await draft.follow("finalize-items")
    draft = await draft.follow("set-credit-type", credit_type="refund")
    return await draft.follow("select-return-method", return_method_id=1)


async def test_created_state_links_fields_and_context(client: LoopClient, fake_loop_server: FakeLoopServer) -> None:
    draft = await new_draft(client, fake_loop_server)
    order = fake_loop_server.orders[0]
    assert draft.state == "created"
    assert draft.rels == ["add-returning-item", "set-customer", "accept-return-policy", "cancel-draft-return"]
    add = draft.link("add-returning-item")
    assert add["method"] == "POST"
    assert add["is_required"] is True
    assert add["href"] == str(fake_loop_server.url / "api/v1/draft-returns" / str(draft.id) / "returning-items")
    field = draft.field("add-returning-item", "order_line_item_id")
    assert field["type"] == "int"
    assert field["is_required"] is True
    assert field["allowed_values"] == [li.id for li in order.eligible_line_items]
    assert draft.field("set-customer", "email")["type"] == "string"
    context = draft.data["context"]
    codes = {i["ineligibility_code"] for i in context["items_not_eligible_to_return"]}
    assert codes == {code.value for code in IneligibilityCode}
    assert [i["order_line_item_id"] for i in context["items_eligible_to_return"]] == field["allowed_values"]
    assert money(draft.totals, "return_total") == 0
    assert draft.data["errors"] == []


async def test_every_forward_transition_and_totals(client: LoopClient, fake_loop_server: FakeLoopServer) -> None:
    order = fake_loop_server.orders[0]
    first, second = order.eligible_line_items[:2]
    draft = await new_draft(client, fake_loop_server)

    draft = await draft.follow("add-returning-item", order_line_item_id=first.id)
    item_id = draft.data["draft_return"]["returning_items"][0]["id"]
    assert money(draft.totals, "return_total") == first.price
    assert draft.link("add-returning-item")["is_required"] is False
    assert first.id not in draft.field("add-returning-item", "order_line_item_id")["allowed_values"]
    reason_rel = f"set-returning-item-return-reason-{item_id}"
    assert draft.rels == [
        "add-returning-item",
        f"remove-returning-item-{item_id}",
        reason_rel,
        "set-customer",
        "accept-return-policy",
        "cancel-draft-return",
    ]
    assert draft.link(f"remove-returning-item-{item_id}")["method"] == "DELETE"
    assert draft.link(reason_rel)["is_required"] is True
    assert draft.field(reason_rel, "return_reason_id")["allowed_values"] == ALL_REASON_IDS
    assert draft.field(reason_rel, "comment")["is_required"] is False

    draft = await draft.follow("add-returning-item", order_line_item_id=second.id)
    second_id = draft.data["draft_return"]["returning_items"][1]["id"]
    assert money(draft.totals, "return_total") == first.price + second.price
    draft = await draft.follow(f"remove-returning-item-{second_id}")
    assert money(draft.totals, "return_total") == first.price
    assert f"remove-returning-item-{second_id}" not in draft.rels

    assert "finalize-items" not in draft.rels  # an item without a reason
    draft = await draft.follow(reason_rel, return_reason_id=10)
    assert draft.data["draft_return"]["returning_items"][0]["reason"]["name"] == "Size too small"
    assert draft.link(reason_rel)["is_required"] is False
    assert draft.link("finalize-items")["is_required"] is True

    draft = await draft.follow("set-customer", email="someone@example.com")
    assert draft.data["draft_return"]["customer"]["email"] == "someone@example.com"

    draft = await draft.follow("finalize-items")
    assert draft.state == "returning-items-finalized"
    assert draft.rels == [
        "set-credit-type",
        "select-return-method",
        "set-address",
        "set-processing-type",
        "add-cart-item",
        "set-cart",
        "accept-return-policy",
        "cancel-draft-return",
    ]
    credit = draft.field("set-credit-type", "credit_type")
    assert credit["type"] == "enum"
    assert credit["allowed_values"] == draft.data["context"]["available_credit_types"] == ["refund", "gift", "exchange"]
    assert draft.link("set-credit-type")["is_required"] is True
    method_field = draft.field("select-return-method", "return_method_id")
    assert method_field["allowed_values"] == [m["id"] for m in draft.data["context"]["return_methods"]]
    assert draft.field("set-address", "address")["type"] == "object"
    assert draft.field("add-cart-item", "variant_id")["allowed_values"] == [501, 511]
    several = draft.field("add-cart-item", "variant_ids")
    assert (several["type"], several["allowed_values"], several["is_required"]) == ("array", [501, 502, 511], False)
    assert draft.field("add-cart-item", "variant_id")["is_required"] is False

    draft = await draft.follow("set-credit-type", credit_type="gift")
    bonus = first.price // 10
    assert money(draft.totals, "bonus_used") == bonus
    assert money(draft.totals, "net") == first.price + bonus
    assert "submit-draft-return" not in draft.rels  # no return method yet
    assert draft.link("set-credit-type")["is_required"] is False

    fee = RETURN_METHODS[1][3]
    draft = await draft.follow("select-return-method", return_method_id=RETURN_METHODS[1][0])
    assert draft.data["draft_return"]["selected_return_method"] == RETURN_METHODS[1][1]
    assert money(draft.totals["fees"], "applied") == fee
    assert money(draft.totals["credit"], "store_credit") == first.price + bonus - fee
    assert draft.link("submit-draft-return")["is_required"] is True

    draft = await draft.follow("add-cart-item", variant_id=511)
    assert money(draft.totals, "new_item_total") == 1500
    assert money(draft.totals, "net") == max(0, first.price + bonus - fee - 1500)

    address = {"address1": "1 Main St", "city": "Chicago", "zip": "60622", "country_code": "US", "country": "US"}
    draft = await draft.follow("set-address", address=address)
    assert draft.data["draft_return"]["shipping_address"]["city"] == "Chicago"

    draft = await draft.follow("submit-draft-return")
    assert draft.state == "submitted"
    assert draft.rels == []
    return_id = draft.data["draft_return"]["return_id"]
    assert fake_loop_server.returns[return_id].state == "open"
    assert [i.line_item.id for i in fake_loop_server.returns[return_id].line_items] == [first.id]
    assert fake_loop_server.side_effects[("submit", draft.id)] == 1
    again = Draft(client, (await client.request("GET", f"draft-returns/{draft.id}")).data)
    assert again.state == "submitted"
    assert again.rels == []


@pytest.mark.parametrize(
    ("setup", "suffix", "body"),
    [
        ("created", "finalize-items", None),  # no items
        ("created", "submit", None),
        ("created", "credit-type", {"credit_type": "refund"}),
        ("finalized", "returning-items", {"order_line_item_id": 75}),
        ("finalized", "finalize-items", None),
        ("submitted", "cancel", None),
        ("cancelled", "customer", {"email": "a@example.com"}),
        ("expired", "finalize-items", None),
    ],
)
async def test_refused_transitions(
    client: LoopClient, fake_loop_server: FakeLoopServer, setup: str, suffix: str, body: Any
) -> None:
    if setup == "created":
        draft = await new_draft(client, fake_loop_server)
    else:
        draft = await ready_to_submit(client, fake_loop_server)
        if setup == "submitted":
            draft = await draft.follow("submit-draft-return")
        elif setup == "cancelled":
            draft = await draft.follow("cancel-draft-return")
        elif setup == "expired":
            fake_loop_server.expire_draft(draft.id)
    # Loop's documented refusals, all 422: never a 409.
    expected = (
        "validation-failed"
        if (setup, suffix) == ("created", "finalize-items")
        else "terminal-state"
        if setup in ("submitted", "cancelled", "expired")
        else "action-validation-failed"
    )
    before = fake_loop_server.drafts[draft.id].state
    with pytest.raises(UnprocessableEntityError) as info:
        await draft.post(suffix, body)
    assert info.value.status == 422
    assert info.value.code == expected
    assert fake_loop_server.drafts[draft.id].state == before


async def test_submit_needs_credit_type_and_method(client: LoopClient, fake_loop_server: FakeLoopServer) -> None:
    draft = await new_draft(client, fake_loop_server)
    line_id = fake_loop_server.orders[0].eligible_line_items[0].id
    draft = await draft.follow("add-returning-item", order_line_item_id=line_id)
    item_id = draft.data["draft_return"]["returning_items"][0]["id"]
    draft = await draft.follow(f"set-returning-item-return-reason-{item_id}", return_reason_id=3)
    draft = await draft.follow("finalize-items")
    with pytest.raises(UnprocessableEntityError) as info:
        await draft.post("submit")
    assert info.value.code == "action-validation-failed"
    assert fake_loop_server.drafts[draft.id].return_id is None


async def test_invalid_input_is_refused_in_loops_format(client: LoopClient, fake_loop_server: FakeLoopServer) -> None:
    order = fake_loop_server.orders[0]
    with pytest.raises(NotFoundError) as not_found:
        await client.request("POST", "draft-returns", json={"order_name": "#999999", "secondary_input": "1"})
    assert not_found.value.code == "order-not-found"
    with pytest.raises(UnprocessableEntityError) as mismatch:
        await client.request("POST", "draft-returns", json={"order_name": order.name, "secondary_input": "00000"})
    assert mismatch.value.code == "secondary-input-mismatch"
    with pytest.raises(UnprocessableEntityError) as missing:
        await client.request("POST", "draft-returns", json={"order_name": order.name})
    assert missing.value.code == "validation-failed"
    by_email = await new_draft(client, fake_loop_server, secondary_input=order.email)
    assert by_email.state == "created"

    ineligible = next(li for li in order.line_items if li.ineligibility_code)
    with pytest.raises(UnprocessableEntityError) as bad_item:
        await by_email.post("returning-items", {"order_line_item_id": ineligible.id})
    assert bad_item.value.code == "validation-failed"
    draft = await by_email.post("returning-items", {"order_line_item_id": order.eligible_line_items[0].id})
    item_id = draft.data["draft_return"]["returning_items"][0]["id"]
    with pytest.raises(UnprocessableEntityError) as needs_comment:
        await draft.post(f"returning-items/{item_id}/return-reason", {"return_reason_id": 4})
    assert needs_comment.value.errors[0].field == "comment"
    draft = await draft.post(f"returning-items/{item_id}/return-reason", {"return_reason_id": 4, "comment": "Torn"})
    assert draft.data["draft_return"]["returning_items"][0]["reason"]["comment"] == "Torn"
    with pytest.raises(NotFoundError) as no_item:
        await draft.post("returning-items/999999/return-reason", {"return_reason_id": 1})
    assert no_item.value.code == "returning-item-not-found"
    with pytest.raises(UnprocessableEntityError):
        await draft.post("customer", {"email": "not-an-email"})
    with pytest.raises(NotFoundError):
        await client.request("GET", "draft-returns/1")


async def test_exchange_item_and_user_input(client: LoopClient, fake_loop_server: FakeLoopServer) -> None:
    draft = await new_draft(client, fake_loop_server)
    draft = await draft.post("returning-items", {"order_line_item_id": fake_loop_server.orders[0].line_items[0].id})
    item_id = draft.data["draft_return"]["returning_items"][0]["id"]
    with pytest.raises(UnprocessableEntityError) as unavailable:
        await draft.post(f"returning-items/{item_id}/exchange-item", {"variant_id": 502})
    assert unavailable.value.code == "product-variant-unavailable"
    draft = await draft.post(f"returning-items/{item_id}/exchange-item", {"variant_id": 501})
    item = draft.data["draft_return"]["returning_items"][0]
    assert item["has_exchange_item"] is True
    assert item["return_type"] == "exchange"
    assert draft.data["draft_return"]["cart_items"][0]["exchange_for_returning_item_id"] == item_id
    assert money(draft.totals, "new_item_total") == 2500
    draft = await draft.post(f"returning-items/{item_id}/user-input/7", {"value": True})
    assert draft.data["draft_return"]["returning_items"][0]["user_input"] == [{"id": 7, "prompt": None, "value": True}]


async def test_partial_failure_adding_several_cart_items(client: LoopClient, fake_loop_server: FakeLoopServer) -> None:
    draft = await ready_to_submit(client, fake_loop_server)
    draft = await draft.post("cart-items", {"variant_ids": [501, 502, 511]})
    assert [c["variant_id"] for c in draft.data["draft_return"]["cart_items"]] == [501, 511]
    assert draft.data["errors"] == [{"code": "product-variant-unavailable", "message": "Variant 502 is not available."}]
    assert money(draft.totals, "new_item_total") == 4000
    with pytest.raises(UnprocessableEntityError) as single:
        await draft.post("cart-items", {"variant_id": 502})
    assert single.value.code == "product-variant-unavailable"
    with pytest.raises(UnprocessableEntityError):
        await draft.post("cart-items", {"variant_ids": [502]})


async def test_cancel_and_gift_credit_types(client: LoopClient, fake_loop_server: FakeLoopServer) -> None:
    gift = await new_draft(client, fake_loop_server, is_gift=True)
    assert gift.data["context"]["available_credit_types"] == ["gift", "exchange"]
    cancelled = await gift.follow("cancel-draft-return")
    assert cancelled.state == "cancelled"
    assert cancelled.rels == []


async def test_expiry_by_clock_and_by_test_control() -> None:
    now = [datetime(2026, 1, 1, tzinfo=timezone.utc)]
    async with (
        FakeLoopServer(orders=2, clock=lambda: now[0], draft_ttl=timedelta(hours=1)) as server,
        LoopClient(server.api_key, base_url=server.url, rate_limit=None, max_retries=0) as loop,
    ):
        draft = await new_draft(loop, server)
        now[0] += timedelta(minutes=59)
        assert Draft(loop, (await loop.request("GET", f"draft-returns/{draft.id}")).data).state == "created"
        now[0] += timedelta(minutes=1)
        expired = Draft(loop, (await loop.request("GET", f"draft-returns/{draft.id}")).data)
        assert expired.state == "expired"
        assert expired.rels == []
        other = await new_draft(loop, server, 1)
        server.expire_draft(other.id)
        with pytest.raises(UnprocessableEntityError) as refused:
            await other.post("cancel")
        assert refused.value.code == "terminal-state"
        assert server.drafts[other.id].state == "expired"


async def test_date_version_alias_serves_drafts(fake_loop_server: FakeLoopServer) -> None:
    async with LoopClient(
        fake_loop_server.api_key, base_url=fake_loop_server.url, api_version="2026-07", rate_limit=None
    ) as loop:
        draft = await new_draft(loop, fake_loop_server)
    assert "/api/2026-07/draft-returns/" in draft.link("add-returning-item")["href"]
