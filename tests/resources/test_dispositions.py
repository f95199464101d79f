"""``loop.dispositions`` (grade, assess) against the fake server: batches of 30, per-batch outcomes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timezone
from typing import Any

import pytest

from loop_async import LoopClient
from loop_async._sansio.outcome import OutcomeKind, classify
from loop_async.errors import (
    AuthenticationError,
    FieldValidationError,
    LoopTimeoutError,
    PartialOutcomeError,
    PermissionDeniedError,
    ServerError,
    TransportError,
    UnprocessableEntityError,
)
from loop_async.models import ConditionCategory, Disposition, DispositionOutcome, Grade
from loop_async.resources.dispositions import MAX_BATCH, Assessment, Batch, Grading
from loop_async.testing import ALL_SCOPES, SCOPE_ORDERS, FakeLoopServer

ASSESS = "POST /api/v1/dispositioning/assess"
GRADE = "POST /api/v1/dispositioning/grade"


@pytest.fixture
async def server() -> AsyncIterator[FakeLoopServer]:
    async with FakeLoopServer(orders=40) as srv:
        yield srv


@pytest.fixture
async def loop(server: FakeLoopServer) -> AsyncIterator[LoopClient]:
    async with LoopClient(server.api_key, base_url=server.url, rate_limit=None, max_retries=0, timeout=5) as client:
        yield client


def received_line_items(server: FakeLoopServer, count: int) -> list[int]:
    """Order line item ids of ``count`` returned items (three per order, one return per order)."""
    ids: list[int] = []
    for order in server.orders:
        if len(ids) >= count:
            break
        return_id = server.seed_return(order.name, line_item_ids=[li.id for li in order.eligible_line_items])
        ids += [item.line_item.id for item in server.returns[return_id].line_items]
    return ids[:count]


def sent(server: FakeLoopServer) -> int:
    return sum(server.request_counts.values())


async def test_assess_records_each_disposition_on_the_return(loop: LoopClient, server: FakeLoopServer) -> None:
    first, second = received_line_items(server, 2)
    inspected = datetime(2026, 3, 31, 23, 59, 59, tzinfo=timezone.utc)
    result = await loop.dispositions.assess(
        [
            Assessment(
                line_item_id=first,
                outcome="back_to_stock",
                return_processor="wh@example.com",
                note="bagged and tagged",
                inspected_at=inspected,
            ),
            {"line_item_id": second, "disposition_outcome": DispositionOutcome.DONATE},
        ]
    )
    assert result.ok
    assert [b.outcome for b in result.batches] == [OutcomeKind.OK]
    assert result.results == (
        Disposition(
            line_item_id=first,
            disposition_outcome=DispositionOutcome.BACK_TO_STOCK,
            return_processor="wh@example.com",
            note="bagged and tagged",
            inspected_at=inspected,
        ),
        Disposition(line_item_id=second, disposition_outcome=DispositionOutcome.DONATE),
    )
    # Loop's own timestamp format went over the wire, in UTC.
    assert server.warehouse.records[0][1]["inspected_at"] == "2026-03-31 23:59:59"
    ret = await loop.returns.get(order_name=server.orders[0].name)
    outcomes = {item.line_item_id: item.disposition_outcome for item in ret.line_items}
    assert outcomes[first] is DispositionOutcome.BACK_TO_STOCK
    assert outcomes[second] is DispositionOutcome.DONATE


async def test_95_assessments_go_in_4_batches_and_one_failing_batch_hides_nothing(
    loop: LoopClient, server: FakeLoopServer
) -> None:
    line_items = received_line_items(server, 95)
    server.faults.inject("status", route="POST /dispositioning/assess", status=422)  # fires on the first batch
    result = await loop.dispositions.assess(
        [Assessment(line_item_id=i, outcome="resale_hold", return_processor="wh@example.com") for i in line_items]
    )
    assert [len(b.items) for b in result.batches] == [30, 30, 30, 5]
    assert [b.outcome for b in result.batches] == ["failed", "ok", "ok", "ok"]
    assert not result.ok
    (failed,) = result.failed
    assert isinstance(failed.error, UnprocessableEntityError)
    assert [a.line_item_id for a in failed.items] == line_items[:30]
    assert [d.line_item_id for d in result.results] == line_items[30:]
    # Three batches applied, the failed one not at all, and nothing sent twice.
    assert server.request_counts[ASSESS] == 4
    applied = {key[1]: n for key, n in server.side_effects.items() if key[0] == "assess"}
    assert applied == dict.fromkeys(line_items[30:], 1)


async def test_a_failing_middle_batch_hides_neither_side(loop: LoopClient, server: FakeLoopServer) -> None:
    line_items = received_line_items(server, 95)
    seen: list[tuple[int, str]] = []

    def on_batch(batch: Batch[Assessment, Disposition]) -> None:
        seen.append((batch.index, batch.outcome.value))
        if batch.index == 1:  # the third batch is refused: the next request on the route fails
            server.faults.inject("status", route="POST /dispositioning/assess", status=422)

    result = await loop.dispositions.assess(
        [{"line_item_id": i, "outcome": "donate"} for i in line_items], on_batch=on_batch
    )
    assert seen == [(0, "ok"), (1, "ok"), (2, "failed"), (3, "ok")]
    assert [b.outcome for b in result.batches] == ["ok", "ok", "failed", "ok"]
    assert [d.line_item_id for d in result.results] == line_items[:60] + line_items[90:]
    assert server.request_counts[ASSESS] == 4
    applied = {key[1] for key, n in server.side_effects.items() if key[0] == "assess" and n == 1}
    assert applied == set(line_items[:60] + line_items[90:])


async def test_a_batch_that_may_have_been_applied_is_unknown_and_never_resent(server: FakeLoopServer) -> None:
    line_items = received_line_items(server, 40)
    server.faults.inject("drop_after", route="POST /dispositioning/assess")  # applied, then no answer
    async with LoopClient(server.api_key, base_url=server.url, rate_limit=None, max_retries=3, timeout=5) as loop:
        result = await loop.dispositions.assess([{"line_item_id": i, "outcome": "recycle"} for i in line_items])
    assert [b.outcome for b in result.batches] == [OutcomeKind.UNKNOWN, OutcomeKind.OK]
    assert isinstance(result.unknown[0].error, TransportError)
    assert server.request_counts[ASSESS] == 2  # retries allowed, yet the uncertain POST was not repeated
    assert all(n == 1 for key, n in server.side_effects.items() if key[0] == "assess")


async def test_a_server_error_batch_is_unknown(loop: LoopClient, server: FakeLoopServer) -> None:
    line_items = received_line_items(server, 3)
    server.faults.inject("status", route="POST /dispositioning/assess", status=500)
    result = await loop.dispositions.assess([{"line_item_id": i, "outcome": "missing"} for i in line_items])
    assert result.batches[0].outcome is OutcomeKind.UNKNOWN
    assert isinstance(result.batches[0].error, ServerError)
    assert not isinstance(result.batches[0].error, LoopTimeoutError)


@pytest.mark.parametrize(
    ("item", "field"),
    [
        ({"line_item_id": 1, "outcome": "refurbish"}, "items[0].outcome"),
        ({"line_item_id": 0, "outcome": "donate"}, "items[0].line_item_id"),
        (
            {"line_item_id": 1, "outcome": "donate", "return_processor": "x" * 92 + "@example.com"},
            "items[0].return_processor",
        ),
        ({"line_item_id": 1, "outcome": "donate", "return_processor": "not an email"}, "items[0].return_processor"),
        ({"line_item_id": 1, "outcome": "donate", "inspected_at": "2026-03-31T23:59:59"}, "items[0].inspected_at"),
        ({"line_item_id": 1, "outcome": "donate", "inspected_at": "2026-02-30 10:00:00"}, "items[0].inspected_at"),
        ({"line_item_id": 1, "outcome": "donate", "inspected_at": datetime(2026, 1, 1)}, "items[0].inspected_at"),
        ({"line_item_id": 1, "outcome": "donate", "note": "n" * 65536}, "items[0].note"),
        ({"line_item_id": 1, "outcome": "donate", "colour": "red"}, "items[0]"),
        ({"outcome": "donate"}, "items[0]"),
        ("donate", "items[0]"),
    ],
)
async def test_each_assess_problem_is_refused_before_sending(
    loop: LoopClient, server: FakeLoopServer, item: Any, field: str
) -> None:
    with pytest.raises(FieldValidationError) as info:
        await loop.dispositions.assess([item])
    assert field in [problem.name for problem in info.value.problems]
    assert sent(server) == 0


async def test_every_problem_of_every_item_is_listed_at_once(loop: LoopClient, server: FakeLoopServer) -> None:
    items = [{"line_item_id": 1, "outcome": "donate"}] * 40 + [
        {"line_item_id": -1, "outcome": "bin"},
        {"line_item_id": 2, "outcome": "donate", "return_processor": "nope"},
    ]
    with pytest.raises(FieldValidationError) as info:
        await loop.dispositions.assess(items)
    names = [problem.name for problem in info.value.problems]
    assert names == ["items[40].line_item_id", "items[40].outcome", "items[41].return_processor"]
    assert sent(server) == 0
    with pytest.raises(FieldValidationError):
        await loop.dispositions.assess([])
    assert sent(server) == 0


async def test_server_refusals_are_typed_per_batch(loop: LoopClient, server: FakeLoopServer) -> None:
    (line_item,) = received_line_items(server, 1)
    unknown = await loop.dispositions.assess([{"line_item_id": 999_999, "outcome": "donate"}])
    error = unknown.batches[0].error
    assert isinstance(error, UnprocessableEntityError)
    assert "items.0.line_item_id" in [entry.field for entry in error.errors]
    assert unknown.batches[0].outcome is OutcomeKind.FAILED

    server.warehouse.foreign_line_item_ids.add(line_item)
    foreign = await loop.dispositions.assess([{"line_item_id": line_item, "outcome": "donate"}])
    assert isinstance(foreign.batches[0].error, PermissionDeniedError)
    assert foreign.batches[0].outcome is OutcomeKind.FAILED


async def test_a_key_without_the_returns_scope_gets_401() -> None:
    async with (
        FakeLoopServer(orders=2, api_keys={"orders-only": [SCOPE_ORDERS]}) as limited,
        LoopClient("orders-only", base_url=limited.url, rate_limit=None, max_retries=0) as loop,
    ):
        result = await loop.dispositions.assess([{"line_item_id": 74, "outcome": "donate"}])
        graded = await loop.dispositions.grade([{"line_item_id": 74, "description": "ok"}])
    assert isinstance(result.batches[0].error, AuthenticationError)
    assert result.batches[0].error.status == 401
    assert isinstance(graded.batches[0].error, AuthenticationError)


async def test_grade_records_the_condition(loop: LoopClient, server: FakeLoopServer) -> None:
    line_items = received_line_items(server, 31)
    result = await loop.dispositions.grade(
        [
            Grading(
                line_item_id=i,
                description="Grade A: no refurbishment",
                condition_category="grade_a",
                images=["https://cdn.example.com/a.jpg"],
                inspected_at="2026-03-31 23:59:59",
            )
            for i in line_items
        ]
    )
    assert [len(b.items) for b in result.batches] == [MAX_BATCH, 1]
    assert result.ok
    assert result.results[0] == Grade(
        line_item_id=line_items[0],
        description="Grade A: no refurbishment",
        condition_category=ConditionCategory.GRADE_A,
        images=("https://cdn.example.com/a.jpg",),
        inspected_at=datetime(2026, 3, 31, 23, 59, 59, tzinfo=timezone.utc),
    )
    assert server.request_counts[GRADE] == 2
    ret = await loop.returns.get(order_name=server.orders[0].name)
    assert {item.condition_category for item in ret.line_items} == {ConditionCategory.GRADE_A}


@pytest.mark.parametrize(
    ("item", "field"),
    [
        ({"line_item_id": 1, "description": ""}, "items[0].description"),
        ({"line_item_id": 1, "description": "d" * 256}, "items[0].description"),
        ({"line_item_id": 1, "description": "ok", "condition_category": "grade_z"}, "items[0].condition_category"),
        ({"line_item_id": 1, "description": "ok", "images": ["https://x.test/i.jpg"] * 6}, "items[0].images"),
        ({"line_item_id": 1, "description": "ok", "images": ["ftp://x.test/i.jpg"]}, "items[0].images[0]"),
        ({"line_item_id": 1, "description": "ok", "images": "https://x.test/i.jpg"}, "items[0].images"),
        ({"line_item_id": 1, "description": "ok", "return_processor": "a" * 101}, "items[0].return_processor"),
        ({"line_item_id": 1, "description": "ok", "inspected_at": "yesterday"}, "items[0].inspected_at"),
    ],
)
async def test_each_grade_problem_is_refused_before_sending(
    loop: LoopClient, server: FakeLoopServer, item: dict[str, Any], field: str
) -> None:
    with pytest.raises(FieldValidationError) as info:
        await loop.dispositions.grade([item])
    assert field in [problem.name for problem in info.value.problems]
    assert sent(server) == 0


async def test_grade_of_another_shops_line_item_is_403(loop: LoopClient, server: FakeLoopServer) -> None:
    (line_item,) = received_line_items(server, 1)
    server.warehouse.foreign_line_item_ids.add(line_item)
    result = await loop.dispositions.grade([{"line_item_id": line_item, "description": "scuffed"}])
    assert isinstance(result.batches[0].error, PermissionDeniedError)
    assert result.failed == result.batches
    assert ("grade", line_item) not in server.side_effects


async def test_the_key_is_in_no_batch_error_or_repr() -> None:
    secret = "sk_live_WAREHOUSE-SECRET-4242"
    async with FakeLoopServer(orders=2, api_keys={secret: ALL_SCOPES}) as srv:
        srv.faults.inject("status", route="POST /dispositioning/assess", status=500)
        async with LoopClient(secret, base_url=srv.url, rate_limit=None, max_retries=0) as loop:
            result = await loop.dispositions.assess([{"line_item_id": 74, "outcome": "donate"}])
    (batch,) = result.unknown
    assert secret not in repr(result) and secret not in str(batch.error) and secret not in repr(batch.error)


async def test_raise_for_outcome_lets_the_one_rule_classify_the_call(loop: LoopClient, server: FakeLoopServer) -> None:
    line_items = received_line_items(server, 40)
    items = [{"line_item_id": i, "outcome": "donate"} for i in line_items]
    (await loop.dispositions.assess(items[:1])).raise_for_outcome()  # all applied: no error

    server.faults.inject("status", route="POST /dispositioning/assess", status=422)
    partial = await loop.dispositions.assess(items)
    with pytest.raises(PartialOutcomeError) as info:
        partial.raise_for_outcome()
    assert classify(info.value) is OutcomeKind.PARTIAL
    assert [d.line_item_id for d in info.value.done] == line_items[30:]  # type: ignore[attr-defined]

    server.faults.inject("status", route="POST /dispositioning/assess", status=422)
    server.faults.inject("status", route="POST /dispositioning/assess", status=500)
    neither = await loop.dispositions.assess(items)
    assert [b.outcome for b in neither.batches] == ["failed", "unknown"]
    with pytest.raises(ServerError) as none_applied:
        neither.raise_for_outcome()  # the unknown batch's error wins: a retry could repeat it
    assert classify(none_applied.value) is OutcomeKind.UNKNOWN
