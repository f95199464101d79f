"""ClientPool: one client per merchant key, each key held to its own rate, all in one event loop."""

from __future__ import annotations

import asyncio
import bisect
import time
from collections import defaultdict
from collections.abc import Iterator

import pytest

from loop_async import LoopClient, RateLimiter
from loop_async.bulk.pool import ClientPool, PoolInputError
from loop_async.testing import ALL_SCOPES, FakeLoopServer


async def process(loop: LoopClient, return_id: int) -> int:
    await loop.returns.process(return_id)
    return return_id


def _most_in_any_window(stamps: list[float], window: float) -> int:
    """The largest number of requests sent within any ``window`` seconds (a sliding window)."""
    stamps = sorted(stamps)
    return max(bisect.bisect_left(stamps, t + window) - i for i, t in enumerate(stamps))


async def test_twenty_keys_each_run_at_their_own_full_rate() -> None:
    per_minute, per_key = 300, 8  # 5 requests a second per key; 8 take 1.4 s at that rate
    interval = 60 / per_minute
    keys = {f"merchant-{i:02d}": f"secret-key-{i:02d}" for i in range(20)}
    async with FakeLoopServer(api_keys=dict.fromkeys(keys.values(), ALL_SCOPES)) as server:
        work = {name: [server.seed_return() for _ in range(per_key)] for name in keys}
        async with ClientPool(keys, base_url=server.url, rate_limit=per_minute) as pool:
            started = time.monotonic()
            results = await pool.run_all(work, process, concurrency=4)
            elapsed = time.monotonic() - started
            states = pool.limiter_states()
    assert {name: [o.value for o in outcomes] for name, outcomes in results.items()} == work
    assert all(o.key == name for name, outcomes in results.items() for o in outcomes)
    by_key: dict[str | None, list[float]] = defaultdict(list)
    for record in server.request_log:
        by_key[record.key_id].append(record.at)
    assert len(by_key) == 20
    # Each key held to its own budget: in any 1-second window at most 5 requests (+1 for the
    # window's two ends, +1 for arrival jitter on a loaded machine). A key sending its 8 at once,
    # or at twice its rate, puts all 8 within 1 s and fails this.
    budget_per_second = per_minute // 60
    for stamps in by_key.values():
        assert len(stamps) == per_key
        assert _most_in_any_window(stamps, 1.0) <= budget_per_second + 2
    # 160 requests at 5/s would take 32 s through one shared budget; 20 budgets take 1.4 s each.
    assert elapsed < (per_key - 1) * interval + 2.5
    assert len(states) == 20
    assert all(s.throttled == 0 and s.current_per_minute == per_minute for s in states.values())


def test_the_sliding_window_count_catches_a_key_over_its_rate() -> None:
    even = [i * 0.2 for i in range(8)]  # 5 a second: the budget
    double = [i * 0.1 for i in range(8)]  # 10 a second
    assert _most_in_any_window(even, 1.0) == 5
    assert _most_in_any_window(double, 1.0) == 8 > 5 + 2


async def test_one_merchant_with_a_long_list_does_not_starve_the_others() -> None:
    keys = {"big": "key-big", "small": "key-small"}
    async with FakeLoopServer(api_keys=dict.fromkeys(keys.values(), ALL_SCOPES)) as server:
        work = {"big": [server.seed_return() for _ in range(12)], "small": [server.seed_return() for _ in range(3)]}
        async with ClientPool(keys, base_url=server.url, rate_limit=1200) as pool:
            seen: list[str | None] = []
            async with pool.run(work, process, concurrency=2) as job:
                async for outcome in job:
                    seen.append(outcome.key)
    # The small merchant finished within its first few requests, not after the big one's 12.
    assert seen.index("small") < 6
    assert [k for k in seen if k == "small"] == ["small"] * 3
    assert job.reports["big"].succeeded == 12


async def test_cancelling_a_pool_job_cancels_every_key_and_leaves_no_task() -> None:
    keys = {"a": "key-a", "b": "key-b"}
    async with FakeLoopServer(api_keys=dict.fromkeys(keys.values(), ALL_SCOPES)) as server:
        work = {name: [server.seed_return() for _ in range(50)] for name in keys}
        first = asyncio.Event()
        async with ClientPool(keys, base_url=server.url, rate_limit=60) as pool:  # slow: one a second
            job = pool.run(work, process)

            async def consume() -> None:
                async with job:
                    async for _ in job:
                        first.set()

            runner = asyncio.create_task(consume())
            await first.wait()
            runner.cancel()
            with pytest.raises(asyncio.CancelledError):
                await runner
        leftover = [t for t in asyncio.all_tasks() if t.get_name().startswith("loop-async")]
        assert leftover == []
        reports = job.reports
    for report in reports.values():
        assert report.cancelled  # items waiting for their rate slot were cancelled...
        assert report.started == report.finished + len(report.cancelled)  # ...and every started one is accounted for
        # ...before they were sent: nothing cancelled reached the server.
        assert all(server.side_effects[("process", rid)] == 0 for _, rid in report.cancelled)
    assert sum(server.side_effects.values()) == sum(r.succeeded for r in reports.values())


async def test_a_limiter_factory_gives_each_merchant_its_limiter() -> None:
    made: dict[str, RateLimiter] = {}

    class Counting:
        def __init__(self) -> None:
            self.acquired = 0

        async def acquire(self) -> None:
            self.acquired += 1

        def observe(self, status: int | None, retry_after: float | None) -> None:
            pass

    def factory(name: str) -> RateLimiter:
        made[name] = Counting()
        return made[name]

    keys = {"a": "key-a", "b": "key-b"}
    async with FakeLoopServer(api_keys=dict.fromkeys(keys.values(), ALL_SCOPES)) as server:
        work = {"a": [server.seed_return()], "b": [server.seed_return(), server.seed_return()]}
        async with ClientPool(keys, base_url=server.url, limiter_factory=factory) as pool:
            assert pool["a"].rate_limiter is made["a"]
            assert "secret" not in repr(pool) and "key-a" not in repr(pool)
            await pool.run_all(work, process)
    assert {name: limiter.acquired for name, limiter in made.items()} == {"a": 1, "b": 2}  # type: ignore[attr-defined]


def test_unknown_merchant_and_empty_pool_are_refused() -> None:
    with pytest.raises(ValueError, match="at least one"):
        ClientPool({})
    pool = ClientPool({"a": "key-a"})
    with pytest.raises(KeyError, match="nobody"):
        pool.run({"nobody": [1]}, process)


async def test_one_merchants_failing_input_does_not_stop_the_others() -> None:
    a_failing = asyncio.Event()

    def a_input() -> Iterator[int]:
        yield 1
        a_failing.set()
        raise OSError("merchant a's file vanished")

    async def work(loop: LoopClient, item: int) -> int:
        if item >= 100:
            await a_failing.wait()  # b's items are in flight when a's input fails...
            for _ in range(20):
                await asyncio.sleep(0)  # ...and finish after the failure reached the consumer
        return item

    seen: list[tuple[str | None, int]] = []
    async with ClientPool({"a": "key-a", "b": "key-b"}, rate_limit=None) as pool:
        job = pool.run({"a": a_input(), "b": range(100, 104)}, work, concurrency=4)

        async def consume() -> None:
            async with job:
                async for outcome in job:
                    assert outcome.ok
                    seen.append((outcome.key, outcome.item))

        with pytest.raises(PoolInputError, match=r"merchant\(s\): a$") as info:
            await consume()
    assert sorted(seen) == [("a", 1), ("b", 100), ("b", 101), ("b", 102), ("b", 103)]
    assert list(info.value.errors) == ["a"]
    assert isinstance(info.value.__cause__, OSError)
    assert job.reports["b"].succeeded == 4 and not job.reports["b"].cancelled
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_pool_aclose_waits_for_every_key_even_when_cancelled_again() -> None:
    entered, cleaning, cleaned = 0, 0, 0
    all_in, all_cleaning, release = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def work(loop: LoopClient, item: int) -> int:
        nonlocal entered, cleaning, cleaned
        entered += 1
        if entered == 4:
            all_in.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cleaning += 1
            if cleaning == 4:
                all_cleaning.set()
            await release.wait()  # a slow cleanup
            cleaned += 1
            raise
        return item

    async with ClientPool({"a": "key-a", "b": "key-b"}, rate_limit=None) as pool:
        job = pool.run({"a": [1, 2], "b": [3, 4]}, work, concurrency=2)

        async def consume() -> None:
            async with job:
                async for _ in job:
                    pass

        consumer = asyncio.create_task(consume())
        await all_in.wait()
        consumer.cancel()
        await all_cleaning.wait()
        consumer.cancel()  # a second Ctrl-C while the pool waits for the cleanup
        for _ in range(10):
            await asyncio.sleep(0)
        assert not consumer.done()
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await consumer
    assert cleaned == 4
    assert asyncio.all_tasks() == {asyncio.current_task()}
    assert {key: len(r.cancelled) for key, r in job.reports.items()} == {"a": 2, "b": 2}
