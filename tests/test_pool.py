"""ClientPool: one client per merchant key, each key held to its own rate, all in one event loop."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict

import pytest

from loop_async import LoopClient, RateLimiter
from loop_async.pool import ClientPool
from loop_async.testing import ALL_SCOPES, FakeLoopServer


async def process(loop: LoopClient, return_id: int) -> int:
    await loop.returns.process(return_id)
    return return_id


async def test_twenty_keys_each_run_at_their_own_full_rate() -> None:
    per_minute, per_key = 600, 8  # one request per 100 ms per key
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
    for stamps in by_key.values():
        assert len(stamps) == per_key
        # Each key paced at its own rate, no burst: any 4 in a row span 3 intervals (less arrival jitter).
        assert min(stamps[i + 3] - stamps[i] for i in range(len(stamps) - 3)) >= 3 * interval - 0.05
    # 160 requests at 10/s would take 16 s through one shared budget; 20 budgets take under 1 s each.
    assert elapsed < (per_key - 1) * interval + 2.5
    assert len(states) == 20
    assert all(s.throttled == 0 and s.current_per_minute == per_minute for s in states.values())


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
