"""The one options class: every job entry point takes its fields, checked together, nothing else."""

from __future__ import annotations

import attrs
import pytest

from loop_async import FieldValidationError, LoopClient, bulk
from loop_async.bulk import ClientPool, JobOptions, JobSettings, PoolSettings
from loop_async.testing import ALL_SCOPES, FakeLoopServer


async def work(i: int) -> int:
    return i


async def process(loop: LoopClient, return_id: int) -> int:
    await loop.returns.process(return_id)
    return return_id


def test_the_keywords_are_the_fields_of_the_options_class() -> None:
    fields = {field.name for field in attrs.fields(JobOptions)}
    assert set(JobSettings.__annotations__) == fields
    assert set(PoolSettings.__annotations__) == fields - {"total"}


def test_every_problem_is_reported_at_once_before_anything_starts() -> None:
    with pytest.raises(FieldValidationError) as bad:
        bulk.run([1], work, concurrency=0, ordered="yes", total=-1, stop_on=3)  # type: ignore[arg-type]
    assert bad.value.names == ("concurrency", "ordered", "total", "stop_on")
    with pytest.raises(FieldValidationError) as bad_window:
        JobOptions(concurrency=4, window=2)
    assert bad_window.value.names == ("window",)


def test_an_unknown_keyword_is_a_type_error_naming_the_entry_point() -> None:
    with pytest.raises(TypeError, match=r"run\(\) got an unexpected keyword argument 'concurency'"):
        bulk.run([1], work, concurency=4)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match=r"ClientPool.run\(\) got an unexpected keyword argument 'total'"):
        ClientPool({"a": "key-a"}).run({"a": [1]}, process, total=1)  # type: ignore[call-arg]


async def test_options_are_reused_and_keywords_replace_their_fields() -> None:
    careful = JobOptions(concurrency=2, ordered=False, stop_on=None)
    job = bulk.run(range(5), work, options=careful, concurrency=3)
    async with job:
        assert sorted([o.value async for o in job]) == [0, 1, 2, 3, 4]
    assert job.options == attrs.evolve(careful, concurrency=3)
    assert careful.concurrency == 2 and careful.max_unclaimed == 4
    outcomes = await bulk.run_all(range(5), work, window=1, concurrency=1)  # run_all takes every option
    assert [o.value for o in outcomes] == [0, 1, 2, 3, 4]


async def test_a_pool_takes_the_same_options_per_merchant() -> None:
    keys = {"a": "key-a", "b": "key-b"}
    seen: list[bulk.Progress] = []
    async with FakeLoopServer(api_keys=dict.fromkeys(keys.values(), ALL_SCOPES)) as server:
        work_ = {name: [server.seed_return() for _ in range(3)] for name in keys}
        async with ClientPool(keys, base_url=server.url, rate_limit=None) as pool:
            with pytest.raises(FieldValidationError) as bad:
                pool.run(work_, process, options=JobOptions(total=6))
            assert bad.value.names == ("total",)
            results = await pool.run_all(
                work_, process, options=JobOptions(concurrency=1), window=2, on_progress=seen.append
            )
    assert {name: [o.value for o in outcomes] for name, outcomes in results.items()} == work_
    assert seen[-1].done == 6 and seen[-1].total == 6
