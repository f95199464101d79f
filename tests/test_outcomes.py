"""Uncertain outcomes: a side effect never happens twice, no outcome is lost or misreported.

Every non-idempotent action reachable through the navigator and the return actions is run
against the fake server's adversarial fault modes, which act on the server's own time (a
server that reads the request, acts and answers after the client gave up). The oracle is the
fake's own counters: effects happened at most once; a reported success had its effect; a
reported ``failed`` had none; ``unknown`` is the only other answer.
"""

from __future__ import annotations

import asyncio
import random
import tracemalloc
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from yarl import URL

from loop_async import (
    ActionResult,
    AuthenticationError,
    ClientClosedError,
    DecodeError,
    FieldProblem,
    FieldValidationError,
    LoopClient,
    LoopTimeoutError,
    NotFoundError,
    OutcomeKind,
    OutcomeUnknownError,
    PartialOutcomeError,
    PermissionDeniedError,
    RateLimitError,
    ReconcilePolicy,
    RedirectError,
    ServerError,
    TransportError,
    UnprocessableEntityError,
    bulk,
)
from loop_async._sansio.outcome import classify, is_fatal, is_refusal, is_uncertain, may_have_taken_effect
from loop_async.bulk.pool import ClientPool
from loop_async.hypermedia import Link, Navigator, Stop
from loop_async.models import DraftReturnResponse
from loop_async.testing import FakeLoopServer
from tests._draft_values import values_from_metadata

MODES = ("slow_after_read", "act_then_drop", "drop_before_read", "late_effect", "volatile_context")
TIMEOUT = 0.25  # the client's per-attempt timeout
SLOW = 0.4  # how long slow_after_read and late_effect take to act: longer than TIMEOUT + the settle window
SETTLE = ReconcilePolicy(reads=2, interval=0.05)


# -- the rule, without a socket -------------------------------------------------------------------


def _api(cls: type[Any], status: int, method: str = "POST") -> Any:
    return cls("x", status=status, method=method)


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (None, OutcomeKind.OK),
        (FieldValidationError([FieldProblem("a", "bad")]), OutcomeKind.FAILED),
        (ClientClosedError("closed"), OutcomeKind.FAILED),
        (TransportError("refused", method="POST", request_sent=False), OutcomeKind.FAILED),
        (TransportError("reset", method="POST", request_sent=None), OutcomeKind.UNKNOWN),
        (LoopTimeoutError("slow", method="POST", request_sent=True), OutcomeKind.UNKNOWN),
        (LoopTimeoutError("slow", method="GET", request_sent=True), OutcomeKind.FAILED),  # a read changed nothing
        (_api(UnprocessableEntityError, 422), OutcomeKind.FAILED),
        (_api(NotFoundError, 200), OutcomeKind.FAILED),  # an error body sent with 200
        (_api(RateLimitError, 429), OutcomeKind.FAILED),
        (_api(ServerError, 503), OutcomeKind.FAILED),  # Loop sheds load before acting
        (_api(ServerError, 500), OutcomeKind.UNKNOWN),
        (_api(ServerError, 502), OutcomeKind.UNKNOWN),
        (_api(ServerError, 504), OutcomeKind.UNKNOWN),
        (_api(RedirectError, 307), OutcomeKind.FAILED),  # "send it there instead": not acted on
        (_api(RedirectError, 303), OutcomeKind.UNKNOWN),  # "done, see there"
        (_api(RedirectError, 302), OutcomeKind.UNKNOWN),
        (DecodeError("unreadable", status=200), OutcomeKind.UNKNOWN),
        (DecodeError("html error page", status=400), OutcomeKind.FAILED),
        (asyncio.CancelledError(), OutcomeKind.UNKNOWN),
        (RuntimeError("the caller's own bug"), OutcomeKind.UNKNOWN),
        (OutcomeUnknownError("?", error=TransportError("reset")), OutcomeKind.UNKNOWN),
        (PartialOutcomeError("flagged", done=None, error=_api(UnprocessableEntityError, 422)), OutcomeKind.PARTIAL),
    ],
)
def test_one_rule_classifies_every_ending(error: BaseException | None, kind: OutcomeKind) -> None:
    assert classify(error) is kind


def test_a_replayed_refusal_may_hide_an_earlier_effect() -> None:
    refused = _api(NotFoundError, 404, method="DELETE")
    assert not may_have_taken_effect(refused)
    refused.replayed = True  # the transport retried after a drop: the first attempt may have acted
    assert may_have_taken_effect(refused) and is_uncertain("DELETE", refused)
    assert not is_uncertain("GET", _api(ServerError, 500, method="GET"))
    assert is_refusal(refused) and is_refusal(_api(RedirectError, 307))
    assert not is_refusal(_api(RedirectError, 303)) and not is_refusal(_api(ServerError, 500))


def test_fatal_answers_are_401_and_403_only() -> None:
    assert is_fatal(_api(AuthenticationError, 401)) and is_fatal(_api(PermissionDeniedError, 403))
    assert not is_fatal(_api(NotFoundError, 404)) and not is_fatal(_api(ServerError, 500))


# -- the fault matrix -------------------------------------------------------------------------


def _inject(server: FakeLoopServer, mode: str, read_route: str) -> None:
    """Make the next request (the action) meet ``mode``; reads of ``read_route`` stay normal or volatile."""
    if mode == "volatile_context":
        server.faults.inject("volatile_context", route=read_route, times=50)
        server.faults.inject("drop_before_read")  # the action is lost: only the context moves
    elif mode in ("slow_after_read", "late_effect"):
        server.faults.inject(mode, delay=SLOW)
    else:
        server.faults.inject(mode)


Tally = Counter[str]


async def _attempt(call: Awaitable[Any]) -> tuple[str, Any]:
    """Run ``call``; what the caller was told (ok / failed / unknown) and the value or the error."""
    try:
        return "ok", await call
    except Exception as exc:
        return classify(exc).value, exc


def _judge(tally: Tally, mode: str, outcome: str, effects: int) -> None:
    """Score one call: ``outcome`` is ok / failed / unknown as the caller was told; ``effects`` the truth."""
    tally[f"{mode}:calls"] += 1
    tally[f"{mode}:{outcome}"] += 1
    if effects > 1:
        tally[f"{mode}:duplicated"] += 1
    if outcome == "ok" and effects == 0:
        tally[f"{mode}:false-success"] += 1
    if outcome == "failed" and effects != 0:
        tally[f"{mode}:false-failure"] += 1


def _assert_clean(tally: Tally) -> None:
    bad = {k: v for k, v in tally.items() if k.endswith((":duplicated", ":false-success", ":false-failure", ":lost"))}
    assert bad == {}, tally


RETURN_ACTIONS: dict[str, tuple[str, Callable[[LoopClient, FakeLoopServer, int], Awaitable[ActionResult]]]] = {
    "process": ("process", lambda loop, server, rid: loop.returns.process(rid)),
    "cancel": ("cancel", lambda loop, server, rid: loop.returns.cancel(rid, reason="customer asked")),
    "close": ("close", lambda loop, server, rid: loop.returns.close(rid)),
    "flag": ("flag", lambda loop, server, rid: loop.returns.flag(rid)),
    "note": ("note", lambda loop, server, rid: loop.returns.create_note(rid, "checked at the dock")),
    "remove-line-items": (
        "remove",
        lambda loop, server, rid: loop.returns.remove_line_items(rid, [server.returns[rid].line_items[0].id]),
    ),
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("action", sorted(RETURN_ACTIONS))
async def test_return_actions_never_repeat_or_misreport(action: str, mode: str) -> None:
    effect, call = RETURN_ACTIONS[action]
    tally: Tally = Counter()
    async with FakeLoopServer() as server:
        ids = [server.seed_return() for _ in range(2)]
        async with LoopClient(server.api_key, base_url=server.url, rate_limit=None, timeout=TIMEOUT) as loop:
            for rid in ids:
                _inject(server, mode, "GET /warehouse/return/details")
                outcome, result = await _attempt(call(loop, server, rid))
                if outcome == "unknown":
                    assert isinstance(result, OutcomeUnknownError)
                    assert result.request_sent is True and result.method == "POST"
                await server.wait_idle()  # slow and late effects land (or not) before the truth is read
                _judge(tally, mode, outcome, server.side_effects[(effect, rid)])
            requests = sum(n for route, n in server.request_counts.items() if route.startswith("POST"))
    _assert_clean(tally)
    assert 1 <= requests <= len(ids)  # never re-sent on its own (a call may fail before reaching the server)
    assert tally[f"{mode}:unknown"] == len(ids)  # no mode gives the client a certain answer


DRAFT_TARGETS = (
    "add-returning-item",
    "remove-returning-item",
    "set-returning-item-return-reason",
    "set-customer",
    "finalize-items",
    "set-credit-type",
    "select-return-method",
    "add-cart-item",
    "cancel-draft-return",
    "submit-draft-return",
)


async def _reach(loop: LoopClient, server: FakeLoopServer, target: str) -> Navigator[DraftReturnResponse]:
    """A fresh draft driven until a rel starting with ``target`` is offered."""
    order = server.orders[0]
    nav = await loop.draft_returns.create(order.name, order.zip)

    def policy(n: Navigator[DraftReturnResponse], link: Link) -> Any:
        return Stop() if any(rel.startswith(target) for rel in n.rels) else values_from_metadata(n, link)

    if not any(rel.startswith(target) for rel in nav.rels):
        nav = (await nav.drive(policy)).navigator
    assert any(rel.startswith(target) for rel in nav.rels), (target, nav.rels)
    return nav


def _draft_effects(server: FakeLoopServer, draft_id: int) -> int:
    return sum(n for (route, key), n in server.side_effects.items() if key == draft_id and route[:1] in "PD")


NAVIGATOR_CASES = [
    *((target, mode, "v1") for target in DRAFT_TARGETS for mode in MODES),
    # HAL-FORMS: the same rule, judged by the format's own state (the fast modes suffice).
    *((target, mode, "2026-10") for target in DRAFT_TARGETS for mode in ("act_then_drop", "volatile_context")),
]


@pytest.mark.parametrize(("target", "mode", "api_version"), NAVIGATOR_CASES)
async def test_navigator_actions_never_repeat_or_misreport(target: str, mode: str, api_version: str) -> None:
    tally: Tally = Counter()
    async with (
        FakeLoopServer(orders=3) as server,
        LoopClient(
            server.api_key,
            base_url=server.url,
            api_version=api_version,
            rate_limit=None,
            timeout=TIMEOUT,
            reconcile=SETTLE,
        ) as loop,
    ):
        nav = await _reach(loop, server, target)
        draft_id = nav.resource.draft_return.id
        link = next(link for link in nav.links if link.rel.startswith(target))
        before = _draft_effects(server, draft_id)
        _inject(server, mode, "GET /draft-returns/{draft_id}")
        outcome, after = await _attempt(nav.follow_link(link, values_from_metadata(nav, link)))
        if outcome == "unknown":
            assert isinstance(after, OutcomeUnknownError)
            assert after.navigator is None or isinstance(after.navigator, Navigator)
        elif outcome == "ok" and link.method.upper() == "POST":
            assert after.recovered_from is not None  # every mode makes the first answer uncertain
        await server.wait_idle()
        effects = _draft_effects(server, draft_id) - before
        _judge(tally, mode, outcome, effects)
        sent = [r for r in server.request_log if r.method != "GET"]
        if outcome == "ok":
            # The true new state: what the server holds now is what the caller was given.
            fresh = await loop.draft_returns.get(draft_id)
            assert fresh.resource.draft_return == after.resource.draft_return
    _assert_clean(tally)
    sends = [r.path for r in sent if r.path == URL(link.href).path]
    if link.method.upper() in ("POST", "PATCH"):
        assert len(sends) == 1  # never re-sent on its own
    else:
        assert 1 <= len(sends) <= 1 + 2  # an idempotent DELETE may be retried by the transport: harmless


async def test_an_effect_that_lands_inside_the_settle_window_is_reported_as_taken() -> None:
    async with (
        FakeLoopServer(orders=3) as server,
        LoopClient(
            server.api_key,
            base_url=server.url,
            rate_limit=None,
            timeout=TIMEOUT,
            reconcile=ReconcilePolicy(reads=20, interval=0.1),  # two seconds: longer than the server's delay
        ) as loop,
    ):
        nav = await _reach(loop, server, "set-customer")
        server.faults.inject("slow_after_read", delay=SLOW)
        after = await nav.follow("set-customer", email="jane@example.com")
        assert isinstance(after.recovered_from, LoopTimeoutError)
        assert after.resource.draft_return.customer is not None
        await server.wait_idle()
        assert _draft_effects(server, nav.resource.draft_return.id) == 1


# -- bulk and pool: every started item exactly once -------------------------------------------------


async def test_a_failed_outcome_holds_no_frames() -> None:
    async def fails(item: int) -> None:
        ballast = bytearray(64 * 1024)  # a large local: kept alive by a traceback
        raise ValueError(f"item {item} failed ({len(ballast)})")

    await bulk.run_all(range(10), fails)  # warm-up: imports, caches
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        outcomes = await bulk.run_all(range(2000), fails, concurrency=16)
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    assert len(outcomes) == 2000 and all(o.error is not None and o.error.__traceback__ is None for o in outcomes)
    assert grown / len(outcomes) <= 1024, f"{grown / len(outcomes):.0f} bytes per failed outcome"


async def _abandon(pool: ClientPool, work: dict[str, list[int]], how: str, after: int) -> Any:
    async def note(loop: LoopClient, rid: int) -> ActionResult:
        return await loop.returns.create_note(rid, "seen")

    job = pool.run(work, note, concurrency=4, ordered=False)
    delivered = []

    async def consume() -> None:
        async with job:
            async for outcome in job:
                delivered.append(outcome)
                if len(delivered) >= after:
                    if how == "break":
                        break
                    if how == "exception":
                        raise LookupError("the consumer failed")
                    task = asyncio.current_task()
                    assert task is not None
                    task.cancel()

    with pytest.raises((LookupError, asyncio.CancelledError)) if how != "break" else _nothing():
        await asyncio.create_task(consume())
    return job, delivered


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> bool:
        return False


@pytest.mark.parametrize("how", ["break", "cancel", "exception"])
async def test_a_pool_job_left_early_loses_no_outcome(how: str) -> None:
    rng = random.Random(f"pool-{how}")
    keys = {"acme": "key-acme", "globex": "key-globex"}
    async with FakeLoopServer(api_keys=dict.fromkeys(keys.values(), ("Returns",))) as server:
        ids = {name: [server.seed_return() for _ in range(12)] for name in keys}
        async with ClientPool(keys, base_url=server.url, rate_limit=None) as pool:
            for _ in range(50):
                before = Counter(server.side_effects)
                job, delivered = await _abandon(pool, ids, how, rng.randrange(0, 14))
                report = job.report
                assert report.started == report.yielded + len(report.unclaimed) + len(report.cancelled)
                assert report.yielded == len(delivered)
                # Every note the server recorded is accounted for: delivered or unclaimed as done, or cancelled.
                done = {(o.key, o.item) for o in [*delivered, *report.unclaimed] if o.ok}
                cancelled_items = {item for _, item in report.cancelled}
                for name, rids in ids.items():
                    for rid in rids:
                        happened = server.side_effects[("note", rid)] - before[("note", rid)]
                        assert happened <= 1
                        if happened:
                            assert (name, rid) in done or rid in cancelled_items
                await server.wait_idle()


async def test_a_bulk_job_stops_at_the_first_refused_key() -> None:
    async with FakeLoopServer(api_keys={"good": ("Orders",)}) as server:  # no Returns scope: 401
        ids = [server.seed_return() for _ in range(200)]
        async with (
            LoopClient("good", base_url=server.url, rate_limit=None) as loop,
            bulk.run(ids, loop.returns.process, concurrency=4) as job,
        ):
            outcomes = [outcome async for outcome in job]
        report = job.report
    assert isinstance(report.stopped_by, AuthenticationError)
    assert report.stopped and len(outcomes) <= 4  # what was in flight when the first 401 came, no more
    assert sum(server.request_counts.values()) <= 4
    assert all(o.kind is OutcomeKind.FAILED for o in outcomes)
