"""The Redis limiter against a real redis-server started here: pacing, AIMD and one budget for two processes."""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import pytest_asyncio

from loop_async import LoopClient, LoopError, RateLimiterTimeoutError, RateLimiterUnavailableError, TransportError
from loop_async.ratelimit import PACING_MARGIN, RateLimiter
from loop_async.ratelimit.redis import RedisRateLimiter
from loop_async.testing import FakeLoopServer

redis = pytest.importorskip("redis", reason="the redis client (the 'redis' extra) is not installed")
pytest.importorskip("redis.asyncio", reason="the redis client (the 'redis' extra) is not installed")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def _redis_server(workdir: Path) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """A throwaway redis-server on a free loopback port, no persistence: its URL and process."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server); .ci/run installs it")
    port = _free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(workdir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    try:
        for line in proc.stdout:  # the server says when it is ready; EOF means it died
            if "Ready to accept connections" in line:
                break
        else:
            pytest.fail(f"redis-server exited with status {proc.wait()}")
        yield f"redis://127.0.0.1:{port}/0", proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGCONT)  # a test may have frozen it
            proc.terminate()
        proc.wait(timeout=10)
        proc.stdout.close()


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One redis-server for the module's tests."""
    with _redis_server(tmp_path_factory.mktemp("redis")) as (url, _):
        yield url


@pytest_asyncio.fixture
async def limiter_factory(redis_url: str) -> AsyncIterator[list[RedisRateLimiter]]:
    made: list[RedisRateLimiter] = []
    yield made
    for limiter in made:
        await limiter.reset()
        await limiter.aclose()


async def test_it_is_a_rate_limiter_and_paces_evenly(redis_url: str, limiter_factory: list[RedisRateLimiter]) -> None:
    limiter = RedisRateLimiter(redis_url, "test:pace", 2400)  # one every 25 ms
    limiter_factory.append(limiter)
    assert isinstance(limiter, RateLimiter)
    stamps = []
    for _ in range(21):
        await limiter.acquire()
        stamps.append(time.monotonic())
    assert stamps[-1] - stamps[0] >= 20 * 0.025 * 0.9
    assert limiter.state.current_per_minute == 2400


async def test_a_429_in_one_worker_slows_every_worker_then_recovers(
    redis_url: str, limiter_factory: list[RedisRateLimiter]
) -> None:
    first = RedisRateLimiter(redis_url, "test:aimd", 600, decrease_cooldown=0.0)
    second = RedisRateLimiter(redis_url, "test:aimd", 600, decrease_cooldown=0.0)
    limiter_factory.extend([first, second])
    first.observe(429, 0.5)
    state = await first.fetch_state()
    assert state.current_per_minute == pytest.approx(300)
    assert state.throttled == 1
    seen_by_other = await second.fetch_state()
    assert seen_by_other.current_per_minute == pytest.approx(300)
    assert 0.3 < seen_by_other.paused_for <= 0.5
    for _ in range(30):
        second.observe(200, None)
    assert (await second.fetch_state()).current_per_minute == pytest.approx(600)


async def test_a_burst_of_429s_halves_the_rate_once_within_the_cooldown(
    redis_url: str, limiter_factory: list[RedisRateLimiter]
) -> None:
    limiter = RedisRateLimiter(redis_url, "test:cooldown", 600, decrease_cooldown=30.0)
    limiter_factory.append(limiter)
    for _ in range(8):
        limiter.observe(429, None)
    state = await limiter.fetch_state()
    assert state.current_per_minute == pytest.approx(300)
    assert state.throttled == 8


async def test_repr_hides_the_url(redis_url: str) -> None:
    url = redis_url.replace("redis://", "redis://:s3cret-pass@")
    limiter = RedisRateLimiter(url, "test:repr", 60)  # never connects (this server has no password)
    try:
        assert "s3cret" not in repr(limiter)
    finally:
        await limiter.aclose()


def test_missing_redis_client_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "redis.asyncio", None)
    with pytest.raises(ImportError, match=r"loop-async\[redis\]"):
        RedisRateLimiter("redis://127.0.0.1:1/0", "k", 60)


_WORKER = textwrap.dedent(
    """
    import asyncio, json, sys, time
    from loop_async.ratelimit.redis import RedisRateLimiter

    async def main(url, key, per_minute, count):
        limiter = RedisRateLimiter(url, key, per_minute)
        await limiter.fetch_state()  # connected
        print("ready", flush=True)
        read_line = asyncio.get_running_loop().run_in_executor
        await read_line(None, sys.stdin.readline)  # wait for "go"
        await limiter.acquire()
        stamps = [time.time()]
        print("first", flush=True)
        await read_line(None, sys.stdin.readline)  # both have a slot: now compete for the rest
        for _ in range(count - 1):
            await limiter.acquire()
            stamps.append(time.time())
        await limiter.aclose()
        print(json.dumps(stamps), flush=True)

    asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])))
    """
)


async def test_two_processes_share_one_budget(redis_url: str, tmp_path: Path) -> None:
    script = tmp_path / "worker.py"
    script.write_text(_WORKER)
    per_minute, count = 1200, 15  # one every ~51 ms for both together
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            str(script),
            redis_url,
            "test:shared",
            str(per_minute),
            str(count),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        for _ in range(2)
    ]
    for proc in procs:
        assert proc.stdout is not None
        assert (await asyncio.wait_for(proc.stdout.readline(), 30)).strip() == b"ready"
    probe = RedisRateLimiter(redis_url, "test:shared", per_minute)
    reader = redis.asyncio.Redis.from_url(redis_url)
    try:
        await probe.acquire()  # one slot of the shared bucket, to read the schedule from
        before = float(await reader.hget("test:shared", "tat"))
        for proc in procs:
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write(b"go\n")
            await proc.stdin.drain()
        for proc in procs:  # a barrier: neither takes its second slot before both took a first one
            assert proc.stdout is not None
            assert (await asyncio.wait_for(proc.stdout.readline(), 30)).strip() == b"first"
        outputs = await asyncio.gather(*(proc.communicate(b"go on\n") for proc in procs))
        after = float(await reader.hget("test:shared", "tat"))
    finally:
        await probe.aclose()
        await (getattr(reader, "aclose", None) or reader.close)()  # redis-py 5.0.0 has only close()
    assert [proc.returncode for proc in procs] == [0, 0]
    per_process = [json.loads(out) for out, _ in outputs]
    assert [len(series) for series in per_process] == [count, count]
    # Every one of the 30 slots came from the one bucket, one paced interval after the other
    # (on Redis's clock, so no wall-clock timing is asserted): 30 intervals of the schedule.
    interval_ms = 60_000 / (per_minute * (1 - PACING_MARGIN))
    assert after - before >= 2 * count * interval_ms * 0.999
    # And they ran at the same time: the barrier makes sure of it whatever the machine's load
    # (both held a slot before either asked for a second), so the 30 intervals above were
    # paced across two processes competing for one bucket, not one after the other.
    first, second = per_process
    assert first[0] < second[-1] and second[0] < first[-1]


async def test_successes_reported_with_a_429_do_not_undo_the_halving(
    redis_url: str, limiter_factory: list[RedisRateLimiter]
) -> None:
    limiter = RedisRateLimiter(redis_url, "test:mixed", 600, decrease_cooldown=0.0)  # +12/min per success
    limiter_factory.append(limiter)
    for _ in range(30):  # enough to grow the rate back to the full budget from half
        limiter.observe(200, None)
    limiter.observe(429, None)
    state = await limiter.fetch_state()  # one call carries the 30 successes and the 429
    assert state.current_per_minute == pytest.approx(300)
    assert state.throttled == 1


async def test_cancelled_waiters_give_their_slots_back(redis_url: str, limiter_factory: list[RedisRateLimiter]) -> None:
    entered = asyncio.Event()
    waits: list[float] = []
    blocking = True

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        if blocking:  # the waiters: block until cancelled
            entered.set()
            await asyncio.Event().wait()
        await asyncio.sleep(seconds)

    limiter = RedisRateLimiter(redis_url, "test:release", 60, margin=0.0, sleep=sleep)  # one a second
    limiter_factory.append(limiter)
    before = asyncio.all_tasks()
    await limiter.acquire()  # now; the next slot is 1 s later
    waiters = [asyncio.create_task(limiter.acquire()) for _ in range(10)]
    await entered.wait()
    for waiter in waiters:
        waiter.cancel()
    results = await asyncio.gather(*waiters, return_exceptions=True)
    assert all(isinstance(r, asyncio.CancelledError) for r in results)
    assert asyncio.all_tasks() <= before  # no task left behind
    blocking = False
    waits.clear()
    await limiter.acquire()  # sleeps for real now
    # The ten cancelled waiters held no slot: the next one was at most 1 s away, not 11 s.
    assert 0 < waits[0] <= 1.0


async def test_queued_waiters_see_a_pause_set_by_another_process(
    redis_url: str, limiter_factory: list[RedisRateLimiter]
) -> None:
    slept = asyncio.Event()
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        slept.set()
        await asyncio.sleep(seconds)

    here = RedisRateLimiter(redis_url, "test:pause", 120, margin=0.0, sleep=sleep)  # one every 0.5 s
    there = RedisRateLimiter(redis_url, "test:pause", 120, margin=0.0)  # another worker, same bucket
    limiter_factory.extend([here, there])
    await here.acquire()
    waiter = asyncio.create_task(here.acquire())  # sleeps ~0.5 s for the next slot
    await slept.wait()
    there.observe(429, 2.5)  # the other worker is told Retry-After: 2.5
    await there.fetch_state()
    await waiter
    # On waking the waiter asked again and was sent back to sleep out the pause; it did not go
    # in the slot it first slept for.
    assert len(waits) >= 2
    assert waits[0] <= 0.5
    assert max(waits[1:]) > 0.5
    state = await here.fetch_state()
    assert state.throttled == 1
    assert state.current_per_minute == pytest.approx(60)


async def test_a_429_without_retry_after_cuts_the_shared_rate_once_per_window(
    redis_url: str, limiter_factory: list[RedisRateLimiter]
) -> None:
    first = RedisRateLimiter(redis_url, "test:window", 600)
    second = RedisRateLimiter(redis_url, "test:window", 600)
    limiter_factory.extend([first, second])
    first.observe(429, None)
    assert (await first.fetch_state()).current_per_minute == pytest.approx(300)
    second.observe(429, None)  # the same full window, seen by another worker a moment later
    state = await second.fetch_state()
    assert state.current_per_minute == pytest.approx(300)
    assert state.throttled == 2


# -- Redis down or frozen -----------------------------------------------------------------------

PROCESS = "POST /api/v1/warehouse/return/{return_id}/process"


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """A redis-server of this test only, to kill or freeze."""
    with _redis_server(tmp_path) as server:
        yield server


async def test_a_killed_redis_is_a_transport_error_and_nothing_is_sent(
    own_redis: tuple[str, subprocess.Popen[str]],
) -> None:
    url, proc = own_redis
    limiter = RedisRateLimiter(url, "test:killed", 600)
    try:
        await limiter.acquire()  # connected and working
        proc.kill()
        proc.wait(timeout=10)
        with pytest.raises(RateLimiterUnavailableError) as direct:
            await limiter.acquire()
        assert direct.value.request_sent is False
        async with FakeLoopServer(orders=1) as server:
            rid = server.seed_return()
            async with LoopClient(server.api_key, base_url=server.url, rate_limiter=limiter) as loop:
                with pytest.raises(LoopError) as info:
                    await loop.returns.process(rid)
        assert sum(server.request_counts.values()) == 0
        assert server.side_effects[("process", rid)] == 0
    finally:
        await limiter.aclose()
    error = info.value
    assert isinstance(error, RateLimiterUnavailableError) and isinstance(error, TransportError)
    assert error.request_sent is False
    assert error.method == "POST" and error.url is not None
    assert "nothing was sent" in str(error)
    assert error.__cause__ is None and error.__context__ is None  # no chain into redis-py


async def test_a_frozen_redis_is_bounded_by_acquire_timeout_and_nothing_is_sent(
    own_redis: tuple[str, subprocess.Popen[str]],
) -> None:
    url, proc = own_redis
    limiter = RedisRateLimiter(url, "test:frozen", 6000, socket_timeout=30.0)  # only the client bounds the wait
    try:
        await limiter.acquire()
        async with FakeLoopServer(orders=1) as server:
            ids = [server.seed_return() for _ in range(5)]
            async with LoopClient(
                server.api_key, base_url=server.url, rate_limiter=limiter, acquire_timeout=0.5
            ) as loop:
                proc.send_signal(signal.SIGSTOP)
                try:
                    results = await asyncio.gather(*(loop.returns.process(rid) for rid in ids), return_exceptions=True)
                finally:
                    proc.send_signal(signal.SIGCONT)
                await limiter.acquire()  # Redis is back: so is the limiter
        assert sum(server.request_counts.values()) == 0
    finally:
        await limiter.aclose()
    assert all(isinstance(r, RateLimiterTimeoutError) for r in results), results
    assert all(r.request_sent is False for r in results if isinstance(r, TransportError))


async def test_a_frozen_redis_hits_the_socket_timeout(own_redis: tuple[str, subprocess.Popen[str]]) -> None:
    url, proc = own_redis
    limiter = RedisRateLimiter(url, "test:frozen-socket", 6000, socket_timeout=0.3)
    try:
        await limiter.acquire()
        proc.send_signal(signal.SIGSTOP)
        try:
            with pytest.raises(RateLimiterUnavailableError) as info:
                await limiter.acquire()  # no client bound here: the socket timeout ends the wait
        finally:
            proc.send_signal(signal.SIGCONT)
        await limiter.acquire()
    finally:
        await limiter.aclose()
    assert info.value.request_sent is False
    assert "Timeout" in str(info.value)
