"""The token-bucket limiter with a fake clock: pacing, margin, bursts, AIMD, queued waiters, cancellation.

Then the limiter behind a client, against the fake server: the wait is bounded and a failing
limiter is a ``LoopError`` that says nothing was sent, and a run against a sliding-window
limit gets no 429.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from loop_async import (
    FieldValidationError,
    LoopClient,
    LoopError,
    RateLimiterTimeoutError,
    RateLimiterUnavailableError,
    RetryPolicy,
    TokenBucketLimiter,
    TransportError,
)
from loop_async.ratelimit import PACING_MARGIN, build_limiter
from loop_async.testing import FakeLoopServer

PROCESS = "POST /api/v1/warehouse/return/{return_id}/process"


class FakeClock:
    """A clock that only moves when the limiter sleeps (one caller at a time)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class VirtualTime:
    """A clock for many concurrent waiters: sleepers wake in time order as the test advances it."""

    def __init__(self) -> None:
        self.now = 1000.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + max(0.0, seconds), next(self._order), future))
        await future

    @staticmethod
    async def settle() -> None:
        """Let every runnable task run until it blocks again (on a sleep or a queue turn)."""
        for _ in range(20):
            await asyncio.sleep(0)

    async def advance_to(self, when: float) -> None:
        await self.settle()
        while self._sleepers and self._sleepers[0][0] <= when:
            at, _, future = heapq.heappop(self._sleepers)
            self.now = max(self.now, at)
            if not future.done():
                future.set_result(None)
            await self.settle()
        self.now = max(self.now, when)
        await self.settle()


def _tasks() -> set[asyncio.Task[object]]:
    # The fake server's keep-alive connection handlers are the server's, not the client's.
    return {t for t in asyncio.all_tasks() if "RequestHandler" not in getattr(t.get_coro(), "__qualname__", "")}


@contextmanager
def no_task_left() -> Iterator[None]:
    before = _tasks()
    yield
    assert _tasks() <= before, "a task was left running"


def _waiters(
    limiter: TokenBucketLimiter, clock: VirtualTime, count: int
) -> tuple[list[asyncio.Task[None]], list[float]]:
    granted: list[float] = []

    async def waiter() -> None:
        await limiter.acquire()
        granted.append(clock.now)

    return [asyncio.create_task(waiter()) for _ in range(count)], granted


# -- pacing -------------------------------------------------------------------------------------


async def test_a_burst_is_held_to_the_configured_rate_less_the_margin() -> None:
    clock = FakeClock()
    limiter = TokenBucketLimiter(300, clock=clock, sleep=clock.sleep)
    sent_at = []
    for _ in range(301):
        await limiter.acquire()
        sent_at.append(clock.now)
    gaps = [b - a for a, b in itertools.pairwise(sent_at)]
    assert min(gaps) == pytest.approx(60 / 294)  # evenly spaced at 294/min: never a burst
    # Request 301 comes more than a second after the 60-second window of request 1 closed, so
    # jitter cannot put 301 requests into one window (pacing at exactly 300 put it at 60.0 s).
    assert sent_at[300] - sent_at[0] == pytest.approx(60 / (1 - PACING_MARGIN))
    assert sent_at[300] - sent_at[0] > 61.0
    assert max(sum(1 for t in sent_at if start <= t <= start + 60) for start in sent_at) <= 295  # of 300
    assert limiter.state.paced_per_minute == pytest.approx(294)
    assert limiter.state.current_per_minute == 300  # the AIMD rate is still the budget


async def test_the_margin_is_an_option() -> None:
    clock = FakeClock()
    limiter = TokenBucketLimiter(60, margin=0.0, clock=clock, sleep=clock.sleep)
    for _ in range(3):
        await limiter.acquire()
    assert clock.sleeps == [1.0, 1.0]


async def test_a_configured_burst_goes_at_once_then_paces() -> None:
    clock = FakeClock()
    limiter = TokenBucketLimiter(60, burst=3, margin=0.0, clock=clock, sleep=clock.sleep)  # one a second
    sent_at = []
    for _ in range(5):
        await limiter.acquire()
        sent_at.append(clock.now - 1000.0)
    assert sent_at == [0.0, 0.0, 0.0, 1.0, 2.0]


def test_bad_settings_are_rejected() -> None:
    with pytest.raises(ValueError, match="per_minute"):
        TokenBucketLimiter(0)
    with pytest.raises(ValueError, match="burst"):
        TokenBucketLimiter(10, burst=0)
    with pytest.raises(ValueError, match="margin"):
        TokenBucketLimiter(10, margin=1.0)
    with pytest.raises(ValueError, match="window"):
        TokenBucketLimiter(10, window=-1)
    with pytest.raises(FieldValidationError) as every:  # every problem at once, through the one collector
        TokenBucketLimiter(0, burst=0, margin=2.0)
    assert every.value.names == ("per_minute", "burst", "margin")


def test_clients_pools_and_the_cli_build_the_same_limiter() -> None:
    limiter = build_limiter(300)
    assert isinstance(limiter, TokenBucketLimiter)
    assert limiter.state.current_per_minute == 300
    assert build_limiter(None) is None
    assert build_limiter(0) is None
    assert build_limiter(300, limiter) is limiter


# -- AIMD ---------------------------------------------------------------------------------------


def test_429_halves_the_rate_and_pauses_then_recovers() -> None:
    clock = FakeClock()
    limiter = TokenBucketLimiter(300, clock=clock, sleep=clock.sleep)
    limiter.observe(429, 5.0)
    state = limiter.state
    assert state.current_per_minute == 150
    assert state.throttled == 1
    assert state.paused_for == pytest.approx(5.0)
    assert limiter.delay() == pytest.approx(5.0)
    for _ in range(100):
        limiter.observe(200, None)
    assert limiter.state.current_per_minute == 300  # additive increase, capped at the budget


def test_rate_never_falls_below_the_floor() -> None:
    limiter = TokenBucketLimiter(300, min_fraction=0.1, decrease_cooldown=0.0, window=0.0)  # every 429 halves
    for _ in range(50):
        limiter.observe(429, None)
    assert limiter.state.current_per_minute == pytest.approx(30)


def test_by_default_a_burst_of_429s_halves_the_rate_once() -> None:
    clock = FakeClock()
    limiter = TokenBucketLimiter(300, clock=clock, sleep=clock.sleep)
    for _ in range(8):  # the 429s of eight requests that were in flight together
        limiter.observe(429, 0.0)
    assert limiter.state.current_per_minute == 150
    assert limiter.state.throttled == 8
    clock.now += 1.0  # a 429 after the cooldown is a new signal
    limiter.observe(429, 0.0)
    assert limiter.state.current_per_minute == 75


def test_429s_without_retry_after_within_the_window_of_a_cut_do_not_cut_again() -> None:
    """Loop documents no Retry-After: its 60 s window stays full of the requests sent before the cut."""
    clock = FakeClock()
    limiter = TokenBucketLimiter(300, clock=clock, sleep=clock.sleep)
    limiter.observe(429, None)
    assert limiter.state.current_per_minute == 150
    for _ in range(10):  # one every 5 s: the echo of the same full window, not ten signals
        clock.now += 5.0
        limiter.observe(429, None)
    assert limiter.state.current_per_minute == 150  # was 300 / 2**10, held at the floor of 30
    assert limiter.state.throttled == 11
    clock.now += 10.0  # 60 s after the cut: the window has turned over, a 429 is news
    limiter.observe(429, None)
    assert limiter.state.current_per_minute == 75


def test_429s_during_a_retry_after_pause_are_explained_by_it() -> None:
    clock = FakeClock()
    limiter = TokenBucketLimiter(300, clock=clock, sleep=clock.sleep)
    limiter.observe(429, 5.0)
    clock.now += 3.0
    limiter.observe(429, 5.0)  # a request sent before the pause began
    assert limiter.state.current_per_minute == 150
    clock.now += 3.0  # after the pause: a 429 now says the halved rate is still too much
    limiter.observe(429, 5.0)
    assert limiter.state.current_per_minute == 75


# -- queued waiters -----------------------------------------------------------------------------


async def test_queued_waiters_see_a_pause_and_a_rate_cut_that_come_while_they_wait() -> None:
    clock = VirtualTime()
    limiter = TokenBucketLimiter(120, margin=0.0, clock=clock, sleep=clock.sleep)  # one every 0.5 s
    with no_task_left():
        tasks, granted = _waiters(limiter, clock, 8)
        await clock.advance_to(1000.1)
        assert granted == [1000.0]  # the first went at once; seven are queued
        limiter.observe(429, 4.0)  # Retry-After 4: nothing goes before 1004.1; the rate halves
        await clock.advance_to(1020.0)
        await asyncio.gather(*tasks)
    assert len(granted) == 8
    assert all(t >= 1004.1 for t in granted[1:])  # none went inside the pause
    gaps = [b - a for a, b in itertools.pairwise(granted[1:])]
    assert gaps == pytest.approx([1.0] * 6)  # exactly the halved rate (60/min), not less
    assert limiter.state.current_per_minute == 60


async def test_cancelled_waiters_give_their_slots_back() -> None:
    clock = VirtualTime()
    limiter = TokenBucketLimiter(60, margin=0.0, clock=clock, sleep=clock.sleep)  # one a second
    with no_task_left():
        await limiter.acquire()  # at 1000
        tasks, granted = _waiters(limiter, clock, 10)
        await clock.settle()
        for task in tasks:
            task.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        assert all(isinstance(r, asyncio.CancelledError) for r in results)
        assert granted == []
        assert limiter.delay() == pytest.approx(1.0)  # as if they never came, not 11 s
        after, granted_after = _waiters(limiter, clock, 1)
        await clock.advance_to(1001.0)
        await asyncio.gather(*after)
    assert granted_after == [1001.0]


async def test_a_cancelled_first_waiter_hands_its_turn_on() -> None:
    clock = VirtualTime()
    limiter = TokenBucketLimiter(60, margin=0.0, clock=clock, sleep=clock.sleep)
    with no_task_left():
        await limiter.acquire()
        tasks, granted = _waiters(limiter, clock, 3)
        await clock.settle()
        tasks[0].cancel()  # the one sleeping for the next slot
        await clock.advance_to(1005.0)
        await asyncio.gather(*tasks[1:])
        with pytest.raises(asyncio.CancelledError):
            await tasks[0]
    assert granted == [1001.0, 1002.0]


async def test_waking_late_keeps_the_schedule() -> None:
    """Event-loop lag must not slow the pace: the slot is the one slept for, not the wake-up time."""
    clock = VirtualTime()
    limiter = TokenBucketLimiter(60, margin=0.0, clock=clock, sleep=clock.sleep)
    with no_task_left():
        await limiter.acquire()
        tasks, granted = _waiters(limiter, clock, 3)
        await clock.settle()
        clock.now = 1001.3  # the first waiter wakes 0.3 s late
        await clock.advance_to(1010.0)
        await asyncio.gather(*tasks)
    assert granted == [1001.3, 1002.0, 1003.0]


# -- behind a client ----------------------------------------------------------------------------


async def test_the_limiter_wait_is_bounded_by_acquire_timeout_and_nothing_is_sent() -> None:
    limiter = TokenBucketLimiter(1)  # one a minute: a second call would wait ~60 s
    async with FakeLoopServer(orders=2) as server:
        first, second = server.seed_return(), server.seed_return()
        async with LoopClient(server.api_key, base_url=server.url, rate_limiter=limiter, acquire_timeout=0.2) as loop:
            with no_task_left():
                await loop.returns.process(first)
                with pytest.raises(RateLimiterTimeoutError) as info:
                    await loop.returns.process(second)
            stats = loop.stats
    error = info.value
    assert isinstance(error, TransportError) and isinstance(error, TimeoutError)
    assert error.request_sent is False
    assert error.method == "POST" and error.url is not None and str(second) in str(error.url)
    assert "nothing was sent" in str(error)
    assert server.request_counts[PROCESS] == 1
    assert server.side_effects[("process", second)] == 0
    assert stats["requests"] == 1
    assert limiter.delay() <= 61.3  # the timed-out waiter took no slot: only the first one counts


async def test_by_default_the_limiter_wait_is_bounded_by_the_timeout() -> None:
    async with FakeLoopServer(orders=2) as server:
        rid = server.seed_return()
        async with LoopClient(
            server.api_key, base_url=server.url, rate_limiter=TokenBucketLimiter(1), timeout=0.3
        ) as loop:
            await loop.returns.list_notes(rid)
            with pytest.raises(RateLimiterTimeoutError):
                await loop.returns.list_notes(rid)


async def test_a_failing_custom_limiter_is_a_loop_error_and_nothing_is_sent() -> None:
    class Broken:
        async def acquire(self) -> None:
            raise RuntimeError("backend down")

        def observe(self, status: int | None, retry_after: float | None) -> None:
            pass

    async with FakeLoopServer(orders=1) as server:
        rid = server.seed_return()
        async with LoopClient(server.api_key, base_url=server.url, rate_limiter=Broken()) as loop:
            with pytest.raises(LoopError) as info:
                await loop.returns.process(rid)
    assert isinstance(info.value, RateLimiterUnavailableError)
    assert info.value.request_sent is False
    assert "backend down" in str(info.value)
    assert sum(server.request_counts.values()) == 0


@pytest.mark.parametrize("bad", [0, -1, True, "5"])
def test_acquire_timeout_is_validated_with_the_other_options(bad: object) -> None:
    with pytest.raises(FieldValidationError) as info:
        LoopClient("key", acquire_timeout=bad, max_concurrency=0)  # type: ignore[arg-type]
    assert {p.name for p in info.value.problems} >= {"acquire_timeout", "max_concurrency"}


async def test_a_run_against_a_sliding_window_limit_gets_no_429() -> None:
    """The fake server enforces 30 per 2-s window; the client is configured at exactly that rate.

    Pacing at exactly the limit lands request 31 on the window's edge, where any jitter turns
    it into a 429; pacing a margin under it keeps every request inside the budget. The margin is
    scaled to the short window: the default 2 % leaves 1.2 s of slack in Loop's 60-s window but
    only 41 ms in a 2-s one, less than a busy CI machine's scheduling jitter; 10 % leaves 0.22 s.
    Counts only, no timings.
    """
    count = 75  # two and a half windows
    async with FakeLoopServer(orders=3, rate_limit_per_minute=30, rate_limit_window=2.0) as server:
        ids = [server.seed_return() for _ in range(count)]
        limiter = TokenBucketLimiter(30 * 30, margin=0.1, window=2.0)  # 30 per 2 s = 900 per minute
        async with LoopClient(
            server.api_key,
            base_url=server.url,
            rate_limiter=limiter,
            retry_policy=RetryPolicy(rate_limit_window=2.0),  # a 429 would wait out this window, not 60 s
        ) as loop:
            await asyncio.gather(*(loop.returns.process(rid) for rid in ids))
            stats = loop.stats
    statuses = [r.status for r in server.request_log if r.route == PROCESS]
    assert statuses.count(429) == 0
    assert len(statuses) == count
    assert stats == {"requests": count, "retries": 0}
    assert limiter.state.throttled == 0
