"""Draft returns driven by rel against the fake Loop server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from loop_async import LoopClient, ReconcilePolicy
from loop_async.errors import (
    DecodeError,
    FieldValidationError,
    NotFoundError,
    OutcomeUnknownError,
    PartialFailureError,
    RelNotAvailableError,
    ServerError,
    TransportError,
    UnsafeLinkError,
)
from loop_async.hypermedia import Choose, Link, Navigator, Stop, TransitionRecorder
from loop_async.models import Address, DraftReturnResponse, DraftReturnState
from loop_async.resources.draft_returns import decode_draft_response
from loop_async.testing import FakeLoopServer
from tests._draft_values import easy_reason, values_from_metadata
from tests.scripted import ScriptedServer

REASON = "set-returning-item-return-reason"
DRAFT = "/api/v1/draft-returns/{draft_id}"
FAST_SETTLE = ReconcilePolicy(reads=2, interval=0)  # the fake answers at once unless a fault says otherwise


@pytest.fixture
async def server() -> AsyncIterator[FakeLoopServer]:
    async with FakeLoopServer(orders=3) as fake:
        yield fake


@pytest.fixture
async def loop(server: FakeLoopServer) -> AsyncIterator[LoopClient]:
    async with LoopClient(
        server.api_key, base_url=server.url, rate_limit=None, max_retries=2, reconcile=FAST_SETTLE
    ) as client:
        yield client


def total_requests(server: FakeLoopServer) -> int:
    return sum(server.request_counts.values())


async def start(loop: LoopClient, server: FakeLoopServer) -> Navigator[DraftReturnResponse]:
    order = server.orders[0]
    return await loop.draft_returns.create(order.name, order.zip)


loop_policy = values_from_metadata


async def test_full_flow_by_rel_to_submitted(loop: LoopClient, server: FakeLoopServer) -> None:
    nav = await start(loop, server)
    draft_id = nav.resource.draft_return.id
    assert nav.resource.draft_return.state == DraftReturnState.CREATED
    assert nav.self_url == loop.base_url / "draft-returns" / str(draft_id)
    assert [link.rel for link in nav.required] == ["add-returning-item"]

    line_item = nav.link("add-returning-item").fields[0].allowed_values[0]  # type: ignore[index]
    nav = await nav.follow("add-returning-item", order_line_item_id=line_item)
    [item] = nav.resource.draft_return.returning_items
    assert item.order_line_item_id == line_item
    assert list(nav.links.family(REASON)) == [str(item.id)]

    nav = await nav.follow_member(REASON, item.id, return_reason_id=easy_reason(nav))
    assert nav.resource.draft_return.returning_items[0].reason is not None
    nav = await nav.follow("finalize-items")
    assert nav.resource.draft_return.state == DraftReturnState.RETURNING_ITEMS_FINALIZED
    assert not nav.can("submit-draft-return")

    context = nav.resource.context
    assert context is not None
    nav = await nav.follow("set-credit-type", credit_type=context.available_credit_types[0])
    nav = await nav.follow("select-return-method", return_method_id=context.return_methods[0].id)
    assert [link.rel for link in nav.required] == ["submit-draft-return"]
    nav = await nav.follow("submit-draft-return", strict=True)

    assert nav.is_terminal
    assert nav.resource.draft_return.state == DraftReturnState.SUBMITTED
    return_id = nav.resource.draft_return.return_id
    assert return_id is not None and return_id in server.returns
    assert server.side_effects[("submit", draft_id)] == 1
    again = await loop.draft_returns.get(draft_id)
    assert again.is_terminal and again.resource == nav.resource


async def test_drive_to_submitted_and_draw_the_flow(loop: LoopClient, server: FakeLoopServer) -> None:
    recorder = TransitionRecorder(lambda nav: nav.resource.draft_return.state.value)
    loop.draft_returns.observe(recorder)
    for _ in range(2):
        result = await (await start(loop, server)).drive(loop_policy)
        assert result.outcome == "terminal"
        assert [s.rel.rsplit("-", 1)[0] if s.rel.startswith(REASON) else s.rel for s in result.steps] == [
            "add-returning-item",
            REASON,
            "finalize-items",
            "set-credit-type",
            "select-return-method",
            "submit-draft-return",
        ]
        assert result.navigator.resource.draft_return.state == DraftReturnState.SUBMITTED
    diagram = recorder.to_mermaid()
    assert diagram.startswith("stateDiagram-v2\n")
    assert f": {REASON}-{{id}}\n" in diagram
    assert recorder.initial == {"created"}
    assert recorder.terminal == {"submitted"}
    assert recorder.transitions[("returning-items-finalized", "submit-draft-return", "submitted")] == 2


async def test_drive_stops_where_the_policy_says(loop: LoopClient, server: FakeLoopServer) -> None:
    nav = await start(loop, server)

    async def careful(n: Navigator[DraftReturnResponse], link: Link) -> Any:
        if link.rel == "submit-draft-return":
            return Stop("a human must confirm")
        return loop_policy(n, link)

    result = await nav.drive(careful)
    assert (result.outcome, result.reason) == ("stopped", "a human must confirm")
    assert result.navigator.can("submit-draft-return")
    assert server.side_effects[("submit", nav.resource.draft_return.id)] == 0


async def test_dry_run_sends_nothing(loop: LoopClient, server: FakeLoopServer) -> None:
    nav = await start(loop, server)
    before = total_requests(server)
    plan = await nav.drive(loop_policy, dry_run=True)
    assert [(s.rel, dict(s.values)) for s in plan.steps] == [
        ("add-returning-item", {"order_line_item_id": nav.link("add-returning-item").fields[0].allowed_values[0]})  # type: ignore[index]
    ]
    assert total_requests(server) == before


async def test_missing_rel_and_every_validation_error_send_nothing(loop: LoopClient, server: FakeLoopServer) -> None:
    nav = await start(loop, server)
    before = total_requests(server)
    with pytest.raises(RelNotAvailableError) as missing:
        await nav.follow("submit-draft-return")
    assert "add-returning-item" in missing.value.available
    with pytest.raises(RelNotAvailableError, match="Did you mean 'add-returning-item'"):
        await nav.follow("add-returning-items")
    not_eligible = server.orders[0].line_items[-1].id
    cases: list[tuple[dict[str, Any], str]] = [
        ({"order_line_item_id": not_eligible}, "is not allowed"),
        ({"order_line_item_id": "74"}, "must be an int"),
        ({"order_line_item_id": True}, "must be an int"),
        ({}, "is required"),
        ({"order_line_item_id": 74, "order_line_item": 74}, "did you mean 'order_line_item_id'"),
    ]
    for values, expected in cases:
        with pytest.raises(FieldValidationError) as caught:
            await nav.follow("add-returning-item", values)
        assert expected in str(caught.value)
    with pytest.raises(FieldValidationError) as many:
        await nav.follow("set-customer", email=5, name="x")
    assert many.value.names == ("email", "name")
    assert total_requests(server) == before


async def test_off_origin_href_is_refused_with_zero_requests(loop: LoopClient, server: FakeLoopServer) -> None:
    nav = await start(loop, server)
    before = total_requests(server)
    cancel_path = nav.link("cancel-draft-return").href.split(str(server.url.port), 1)[1]
    # "localhost" reaches the very same server: anything sent would be counted there.
    for origin in (f"http://localhost:{server.url.port}", "https://evil.example.test", f"https://{server.url.host}"):
        link = Link(rel="cancel-draft-return", href=origin + cancel_path, method="POST")
        with pytest.raises(UnsafeLinkError):
            await nav.follow_link(link)
    assert total_requests(server) == before
    assert nav.resource.draft_return.state == DraftReturnState.CREATED


async def test_partial_failure_is_visible_and_strict_raises(loop: LoopClient, server: FakeLoopServer) -> None:
    nav = await (await start(loop, server)).drive(
        lambda n, link: Stop() if link.rel == "submit-draft-return" else loop_policy(n, link)
    )
    nav = nav.navigator
    assert nav.resource.context is not None
    variants = [v for p in nav.resource.context.cart_products for v in p.variants]
    good = next(v.id for v in variants if v.available)
    bad = next(v.id for v in variants if not v.available)
    # The offered link declares variant_ids: the partial failure goes through the ordinary path.
    field = nav.link("add-cart-item").field("variant_ids")
    assert field is not None and field.allowed_values is not None and bad in field.allowed_values
    after = await nav.follow("add-cart-item", variant_ids=[good, bad])
    assert after.response is not None and after.response.status == 200
    assert [e.code for e in after.errors] == ["product-variant-unavailable"]
    assert [c.variant_id for c in after.resource.draft_return.cart_items] == [good]
    assert after.resource.errors == after.errors
    with pytest.raises(PartialFailureError) as caught:
        await after.follow("add-cart-item", variant_ids=[good, bad], strict=True)
    assert isinstance(caught.value.resource, Navigator)
    assert len(caught.value.resource.resource.draft_return.cart_items) == 2


async def test_submit_dropped_after_it_ran_is_not_repeated(loop: LoopClient, server: FakeLoopServer) -> None:
    plan = await (await start(loop, server)).drive(
        lambda n, link: Stop() if link.rel == "submit-draft-return" else loop_policy(n, link)
    )
    nav = plan.navigator
    draft_id = nav.resource.draft_return.id
    server.faults.inject("drop_after", route=f"POST {DRAFT}/submit")
    done = await nav.follow("submit-draft-return")
    assert isinstance(done.recovered_from, TransportError)
    assert done.is_terminal
    assert done.resource.draft_return.state == DraftReturnState.SUBMITTED
    assert server.side_effects[("submit", draft_id)] == 1
    assert server.request_counts[f"POST {DRAFT}/submit"] == 1


async def test_submit_dropped_before_it_ran_is_unknown_not_resent(loop: LoopClient, server: FakeLoopServer) -> None:
    plan = await (await start(loop, server)).drive(
        lambda n, link: Stop() if link.rel == "submit-draft-return" else loop_policy(n, link)
    )
    draft_id = plan.navigator.resource.draft_return.id
    server.faults.inject("drop_before", route=f"POST {DRAFT}/submit")
    with pytest.raises(OutcomeUnknownError) as caught:
        await plan.navigator.follow("submit-draft-return")
    fresh = caught.value.navigator
    assert isinstance(fresh, Navigator) and fresh.can("submit-draft-return")
    assert server.side_effects[("submit", draft_id)] == 0
    assert server.request_counts[f"POST {DRAFT}/submit"] == 1
    # The caller looked and decided: submitting from the fresh state is an ordinary follow.
    done = await fresh.follow("submit-draft-return")
    assert done.resource.draft_return.state == DraftReturnState.SUBMITTED
    assert server.side_effects[("submit", draft_id)] == 1


async def test_add_item_dropped_after_it_ran_adds_one_item(loop: LoopClient, server: FakeLoopServer) -> None:
    nav = await start(loop, server)
    server.faults.inject("drop_after", route=f"POST {DRAFT}/returning-items")
    line_item = nav.link("add-returning-item").fields[0].allowed_values[0]  # type: ignore[index]
    after = await nav.follow("add-returning-item", order_line_item_id=line_item)
    assert after.recovered_from is not None
    assert [i.order_line_item_id for i in after.resource.draft_return.returning_items] == [line_item]
    assert server.request_counts[f"POST {DRAFT}/returning-items"] == 1


async def test_concurrent_follows_on_one_draft_never_overlap(loop: LoopClient, server: FakeLoopServer) -> None:
    nav = await start(loop, server)
    other = await loop.draft_returns.get(nav.resource.draft_return.id)  # a second navigator, same draft
    delay = 0.15
    server.faults.inject("delay", route=f"POST {DRAFT}/customer", times=2, delay=delay)
    await asyncio.gather(
        nav.follow("set-customer", email="a@example.com"), other.follow("set-customer", email="b@example.com")
    )
    done = [r.at for r in server.request_log if r.route == f"POST {DRAFT}/customer"]
    assert len(done) == 2
    # Serialised, the second request starts only after the first answered, then waits its own delay.
    assert done[1] - done[0] >= delay * 0.9


async def test_typed_entry_points_go_through_the_navigator(loop: LoopClient, server: FakeLoopServer) -> None:
    nav = await start(loop, server)
    draft_id = nav.resource.draft_return.id
    eligible = nav.link("add-returning-item").fields[0].allowed_values
    assert eligible is not None
    nav = await loop.draft_returns.add_returning_item(draft_id, eligible[0])
    item = nav.resource.draft_return.returning_items[0]
    # Validated against Loop's own metadata: a line item that is not eligible is refused locally.
    with pytest.raises(FieldValidationError, match="is not allowed"):
        await loop.draft_returns.add_returning_item(draft_id, server.orders[0].line_items[-1].id)
    nav = await loop.draft_returns.set_returning_item_user_input(draft_id, item.id, 1, True)
    nav = await loop.draft_returns.remove_returning_item(draft_id, item.id)
    assert nav.resource.draft_return.returning_items == ()
    assert server.request_counts[f"DELETE {DRAFT}/returning-items/{{item_id}}"] == 1
    nav = await loop.draft_returns.add_returning_item(draft_id, eligible[1])
    item = nav.resource.draft_return.returning_items[0]
    assert nav.resource.context is not None
    variant = next(v.id for p in nav.resource.context.cart_products for v in p.variants if v.available)
    nav = await loop.draft_returns.set_exchange_item(draft_id, item.id, variant)
    assert nav.resource.draft_return.cart_items[0].exchange_for_returning_item_id == item.id
    plan = await nav.drive(lambda n, link: Stop() if link.rel == "submit-draft-return" else loop_policy(n, link))
    address = Address(address1="1 Main St", city="Chicago", zip="60622", country_code="US")
    nav = await loop.draft_returns.set_address(draft_id, address)
    assert nav.resource.draft_return.shipping_address is not None
    assert nav.resource.draft_return.shipping_address.city == "Chicago"
    assert plan.navigator.key == nav.key == ("draft-return", draft_id)
    nav = await loop.draft_returns.submit(draft_id)
    assert nav.is_terminal
    assert server.side_effects[("submit", draft_id)] == 1
    with pytest.raises(FieldValidationError) as bad:
        await loop.draft_returns.remove_returning_item(0, True)  # type: ignore[arg-type]
    assert bad.value.names == ("draft_return_id", "returning_item_id")
    with pytest.raises(NotFoundError):
        await loop.draft_returns.get(999_999)


async def test_create_validates_its_arguments(loop: LoopClient, server: FakeLoopServer) -> None:
    with pytest.raises(FieldValidationError) as caught:
        await loop.draft_returns.create("", 60622, is_gift="no")  # type: ignore[arg-type]
    assert caught.value.names == ("order_name", "secondary_input", "is_gift")
    assert total_requests(server) == 0


async def test_choose_another_rel_in_a_policy(loop: LoopClient, server: FakeLoopServer) -> None:
    nav = await start(loop, server)
    result = await nav.drive(
        lambda n, link: Choose("cancel-draft-return") if link.rel == "add-returning-item" else {}, max_steps=5
    )
    assert result.outcome == "terminal"
    assert result.navigator.resource.draft_return.state == DraftReturnState.CANCELLED


async def test_submit_answered_500_without_effect_is_unknown_unless_resend_opted_in(
    loop: LoopClient, server: FakeLoopServer
) -> None:
    plan = await (await start(loop, server)).drive(
        lambda n, link: Stop() if link.rel == "submit-draft-return" else loop_policy(n, link)
    )
    draft_id = plan.navigator.resource.draft_return.id
    server.faults.inject("status", route=f"POST {DRAFT}/submit", status=500)
    with pytest.raises(OutcomeUnknownError) as caught:
        await plan.navigator.follow("submit-draft-return")
    assert isinstance(caught.value.error, ServerError)
    assert server.side_effects[("submit", draft_id)] == 0
    assert server.request_counts[f"POST {DRAFT}/submit"] == 1
    opted_in = plan.navigator.with_reconcile(ReconcilePolicy(reads=1, interval=0, resend_if_unchanged=True))
    server.faults.inject("status", route=f"POST {DRAFT}/submit", status=500)
    done = await opted_in.follow("submit-draft-return")
    assert done.recovered_from is not None and done.is_terminal
    assert server.side_effects[("submit", draft_id)] == 1
    assert server.request_counts[f"POST {DRAFT}/submit"] == 3


async def test_typed_action_dropped_after_it_ran_is_reconciled(loop: LoopClient, server: FakeLoopServer) -> None:
    nav = await start(loop, server)
    draft_id = nav.resource.draft_return.id
    line_item = nav.link("add-returning-item").fields[0].allowed_values[0]  # type: ignore[index]
    item = (await nav.follow("add-returning-item", order_line_item_id=line_item)).resource.draft_return.returning_items[
        0
    ]
    route = f"POST {DRAFT}/returning-items/{{item_id}}/user-input/{{user_input_id}}"
    server.faults.inject("drop_after", route=route)
    # Loop offers no link for this endpoint: the SDK's own link is used, judged by the resource alone.
    after = await loop.draft_returns.set_returning_item_user_input(draft_id, item.id, 7, "boxed")
    assert after.recovered_from is not None
    assert server.request_counts[route] == 1
    [answer] = after.resource.draft_return.returning_items[0].user_input
    assert (answer.id, answer.value) == (7, "boxed")


# -- reconciliation against the last state known for the draft ---------------------------------


async def test_a_lost_action_after_another_writer_is_judged_against_the_newest_state(
    loop: LoopClient, server: FakeLoopServer
) -> None:
    nav0 = await start(loop, server)
    line_item = nav0.link("add-returning-item").fields[0].allowed_values[0]  # type: ignore[index]
    # Writer A moves the draft on; writer B still holds the older snapshot nav0.
    await nav0.follow("set-customer", email="someone@example.com")
    server.faults.inject("status", route=f"POST {DRAFT}/returning-items", status=500)  # answered without acting
    # Judged against nav0 the customer change would look like the action's effect: a false success.
    with pytest.raises(OutcomeUnknownError) as caught:
        await nav0.follow("add-returning-item", order_line_item_id=line_item)
    fresh = caught.value.navigator
    assert isinstance(fresh, Navigator)
    assert fresh.resource.draft_return.customer is not None
    assert fresh.resource.draft_return.returning_items == ()
    assert server.request_counts[f"POST {DRAFT}/returning-items"] == 1
    assert server.drafts[fresh.resource.draft_return.id].returning_items == []


async def test_a_change_seen_by_a_refresh_is_not_mistaken_for_the_lost_action(
    loop: LoopClient, server: FakeLoopServer
) -> None:
    nav0 = await start(loop, server)
    draft_id = nav0.resource.draft_return.id
    line_item = nav0.link("add-returning-item").fields[0].allowed_values[0]  # type: ignore[index]
    # Another client changes the draft; this process learns of it through a refresh of another navigator.
    async with LoopClient(server.api_key, base_url=server.url, rate_limit=None) as other:
        await (await other.draft_returns.get(draft_id)).follow("set-customer", email="x@example.com")
    await (await loop.draft_returns.get(draft_id)).refresh()
    server.faults.inject("status", route=f"POST {DRAFT}/returning-items", status=500)
    with pytest.raises(OutcomeUnknownError):
        await nav0.follow("add-returning-item", order_line_item_id=line_item)
    assert server.drafts[draft_id].returning_items == []
    assert server.request_counts[f"POST {DRAFT}/returning-items"] == 1


async def test_a_delete_that_ran_before_the_connection_dropped_is_reconciled(
    loop: LoopClient, server: FakeLoopServer
) -> None:
    nav = await start(loop, server)
    line_item = nav.link("add-returning-item").fields[0].allowed_values[0]  # type: ignore[index]
    nav = await nav.follow("add-returning-item", order_line_item_id=line_item)
    (item_id,) = nav.links.family("remove-returning-item")
    server.faults.inject("drop_after", route=f"DELETE {DRAFT}/returning-items/{{item_id}}")
    after = await nav.follow_member("remove-returning-item", item_id)  # the repeated DELETE answers 404
    assert isinstance(after.recovered_from, NotFoundError | TransportError)
    assert after.resource.draft_return.returning_items == ()
    assert server.drafts[nav.resource.draft_return.id].returning_items == []


async def test_a_delete_refused_for_real_still_raises(loop: LoopClient, server: FakeLoopServer) -> None:
    nav = await start(loop, server)
    line_item = nav.link("add-returning-item").fields[0].allowed_values[0]  # type: ignore[index]
    nav = await nav.follow("add-returning-item", order_line_item_id=line_item)
    (item_id,) = nav.links.family("remove-returning-item")
    stale = nav.link(f"remove-returning-item-{item_id}")
    nav = await nav.follow_member("remove-returning-item", item_id)
    with pytest.raises(NotFoundError):
        await nav.follow_link(stale)  # re-read: nothing changed, so the 404 stands


# -- drive records what was sent; the recorder's starts ------------------------------------------


async def test_drive_records_the_validated_payload(loop: LoopClient, server: FakeLoopServer) -> None:
    nav = await start(loop, server)
    line_item = nav.link("add-returning-item").fields[0].allowed_values[0]  # type: ignore[index]
    nav = await nav.follow("add-returning-item", order_line_item_id=line_item)
    (item_id,) = nav.links.family(REASON)
    reason = easy_reason(nav)

    def policy(n: Navigator[DraftReturnResponse], link: Link) -> Choose | Stop:
        if n.step > nav.step:
            return Stop("done")
        return Choose(f"{REASON}-{item_id}", {"return_reason_id": reason, "comment": None})

    plan = await nav.drive(policy, dry_run=True)
    result = await nav.drive(policy)
    assert [dict(s.values) for s in plan.steps] == [{"return_reason_id": reason}]
    assert [dict(s.values) for s in result.steps] == [{"return_reason_id": reason}]
    assert result.navigator.resource.draft_return.returning_items[0].reason is not None


async def test_a_draft_loaded_mid_flow_adds_no_start_to_the_diagram(loop: LoopClient, server: FakeLoopServer) -> None:
    recorder = TransitionRecorder(lambda nav: nav.resource.draft_return.state.value)
    loop.draft_returns.observe(recorder)
    nav = await start(loop, server)
    result = await nav.drive(lambda n, link: Stop() if n.can("set-credit-type") else loop_policy(n, link))
    loaded = await loop.draft_returns.get(result.navigator.resource.draft_return.id)
    assert loaded.resource.draft_return.state == DraftReturnState.RETURNING_ITEMS_FINALIZED
    await loaded.follow("set-credit-type", credit_type="refund")
    assert recorder.initial == {"created"}
    assert ("returning-items-finalized", "set-credit-type", "returning-items-finalized") in recorder.transitions


def count_decodes(loop: LoopClient) -> list[Any]:
    """Every body ``loop.draft_returns`` decodes into a draft, as it decodes it."""
    decoded: list[Any] = []
    decode = loop.draft_returns._decode

    def counting(data: Any) -> DraftReturnResponse:
        decoded.append(data)
        return decode(data)

    loop.draft_returns._decode = counting
    return decoded


@pytest.mark.parametrize("api_version", ["2026-07", "2026-10"])
async def test_create_reads_the_draft_id_without_decoding_the_draft(server: FakeLoopServer, api_version: str) -> None:
    # Issue 14: the id is read from the answer; the draft is decoded only when asked for.
    async with LoopClient(server.api_key, base_url=server.url, rate_limit=None, api_version=api_version) as loop:
        decoded = count_decodes(loop)
        nav = await start(loop, server)
        assert decoded == []
        draft = nav.resource  # decoded now, once, to exactly what an eager decode gives
        assert decoded == [nav.data]
        assert draft == decode_draft_response(nav.data)
        assert nav.key == ("draft-return", draft.draft_return.id)
        assert nav.self_url == loop.base_url / "draft-returns" / str(draft.draft_return.id)
        assert nav.resource is draft and len(decoded) == 1
        assert nav.created


BAD_LATER = {"draft_return": {"id": 7, "state": "created", "returning_items": "none"}, "links": []}


async def test_create_with_a_readable_id_raises_the_decode_error_on_first_access(
    scripted: ScriptedServer, client: LoopClient
) -> None:
    with pytest.raises(DecodeError) as eager:
        decode_draft_response(BAD_LATER)
    scripted.answer("/draft-returns", BAD_LATER)
    nav = await client.draft_returns.create("#1001", "60622")
    assert nav.key == ("draft-return", 7)
    for _ in range(2):  # the same error, every time the resource is read
        with pytest.raises(DecodeError) as lazy:
            _ = nav.resource
        assert str(lazy.value) == str(eager.value)


@pytest.mark.parametrize(
    "body",
    [
        {"draft_return": {"id": "7", "state": "created"}, "links": []},  # a string is not an integer id
        {"draft_return": {"id": True, "state": "created"}, "links": []},  # nor is a bool
        {"draft_return": [7], "links": []},
        {"links": []},
    ],
)
async def test_create_without_a_readable_id_raises_the_eager_decode_error(
    scripted: ScriptedServer, client: LoopClient, body: dict[str, Any]
) -> None:
    with pytest.raises(DecodeError) as eager:
        decode_draft_response(body)
    scripted.answer("/draft-returns", body)
    with pytest.raises(DecodeError) as raised:
        await client.draft_returns.create("#1001", "60622")
    assert str(raised.value) == str(eager.value)
