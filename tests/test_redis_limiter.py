"""The Redis limiter against a real redis-server started here: pacing, AIMD and one budget for two processes."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from loop_async.ratelimit import RateLimiter
from loop_async.redis_limiter import RedisRateLimiter

pytest.importorskip("redis.asyncio", reason="the redis client (the 'redis' extra) is not installed")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A throwaway redis-server on a free loopback port, no persistence."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server); .ci/run installs it")
    port = _free_port()
    workdir = tmp_path_factory.mktemp("redis")
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
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        proc.stdout.close()


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


async def test_repr_hides_the_url(redis_url: str, limiter_factory: list[RedisRateLimiter]) -> None:
    url = redis_url.replace("redis://", "redis://:s3cret-pass@")
    limiter = RedisRateLimiter(url, "test:repr", 60)
    limiter_factory.append(limiter)
    assert "s3cret" not in repr(limiter)


def test_missing_redis_client_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "redis.asyncio", None)
    with pytest.raises(ImportError, match=r"loop-async\[redis\]"):
        RedisRateLimiter("redis://127.0.0.1:1/0", "k", 60)


_WORKER = textwrap.dedent(
    """
    import asyncio, json, sys, time
    from loop_async.redis_limiter import RedisRateLimiter

    async def main(url, key, per_minute, count):
        limiter = RedisRateLimiter(url, key, per_minute)
        await limiter.fetch_state()  # connected
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)  # wait for "go"
        stamps = []
        for _ in range(count):
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
    per_minute, count = 1200, 15  # one every 50 ms for both together: 30 requests take >= 1.45 s
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
    outputs = await asyncio.gather(*(proc.communicate(b"go\n") for proc in procs))
    assert [proc.returncode for proc in procs] == [0, 0]
    per_process = [json.loads(out) for out, _ in outputs]
    stamps = sorted(t for series in per_process for t in series)
    assert len(stamps) == 2 * count
    interval = 60 / per_minute
    # Alone, each process would send its 15 in 0.7 s; sharing, the 30 need 29 intervals.
    assert stamps[-1] - stamps[0] >= 29 * interval * 0.9
    # Any 10 consecutive requests span at least 9 intervals (less a little wake-up jitter).
    assert min(stamps[i + 9] - stamps[i] for i in range(len(stamps) - 9)) >= 9 * interval - 0.03
    # And they really ran at the same time, interleaved.
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


async def test_a_cancelled_waiter_gives_back_the_interval_it_reserved(
    redis_url: str, limiter_factory: list[RedisRateLimiter]
) -> None:
    entered = asyncio.Event()
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 1:  # the waiter: blocks until cancelled
            entered.set()
            await asyncio.Event().wait()

    limiter = RedisRateLimiter(redis_url, "test:release", 60, decrease_cooldown=0.0, sleep=sleep)  # 1 a second
    limiter_factory.append(limiter)
    await limiter.acquire()  # now; the next slot is 1 s later
    waiter = asyncio.create_task(limiter.acquire())  # reserves it with a 1 s interval
    await entered.wait()
    limiter.observe(429, None)  # travels with the give-back: the rate halves (2 s interval) first
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    await limiter.acquire()
    # Exactly the reserved second was given back: the next slot is ~1 s away, not free at once.
    assert len(waits) == 2
    assert 0.5 < waits[1] <= 1.0
