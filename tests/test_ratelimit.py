"""The token-bucket limiter with a fake clock: pacing, bursts, AIMD, cancellation."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from loop_async import TokenBucketLimiter
from loop_async.ratelimit import build_limiter


class FakeClock:
    """A clock that only moves when the limiter sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


async def test_a_burst_is_held_to_the_configured_rate() -> None:
    clock = FakeClock()
    limiter = TokenBucketLimiter(300, clock=clock, sleep=clock.sleep)  # one every 0.2 s
    start = clock.now
    sent_at = []
    for _ in range(301):
        await limiter.acquire()
        sent_at.append(clock.now)
    assert sent_at[-1] - start == pytest.approx(60.0)
    gaps = [b - a for a, b in itertools.pairwise(sent_at)]
    assert min(gaps) == pytest.approx(0.2)  # evenly spaced: never a burst


def test_reserve_allows_configured_burst_then_paces() -> None:
    limiter = TokenBucketLimiter(60, burst=3)  # one a second
    assert [limiter.reserve(0.0) for _ in range(5)] == [0.0, 0.0, 0.0, 1.0, 2.0]


def test_429_halves_the_rate_and_pauses_then_recovers() -> None:
    clock = FakeClock()
    limiter = TokenBucketLimiter(300, clock=clock, sleep=clock.sleep)
    limiter.observe(429, 5.0)
    state = limiter.state
    assert state.current_per_minute == 150
    assert state.throttled == 1
    assert state.paused_for == pytest.approx(5.0)
    assert limiter.reserve(clock.now) == pytest.approx(5.0)
    for _ in range(100):
        limiter.observe(200, None)
    assert limiter.state.current_per_minute == 300  # additive increase, capped at the budget


def test_rate_never_falls_below_the_floor() -> None:
    limiter = TokenBucketLimiter(300, min_fraction=0.1, decrease_cooldown=0.0)  # every 429 halves
    for _ in range(50):
        limiter.observe(429, None)
    assert limiter.state.current_per_minute == pytest.approx(30)


async def test_cancelled_waiter_gives_its_slot_back() -> None:
    limiter = TokenBucketLimiter(60)  # real clock; the waiter is cancelled before it sleeps long
    await limiter.acquire()
    waiter = asyncio.create_task(limiter.acquire())
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert limiter.reserve(limiter._clock()) == pytest.approx(1.0, abs=0.05)


def test_bad_settings_are_rejected() -> None:
    with pytest.raises(ValueError, match="per_minute"):
        TokenBucketLimiter(0)
    with pytest.raises(ValueError, match="burst"):
        TokenBucketLimiter(10, burst=0)


def test_by_default_a_burst_of_429s_halves_the_rate_once() -> None:
    clock = FakeClock()
    limiter = TokenBucketLimiter(300, clock=clock, sleep=clock.sleep)
    for _ in range(8):  # the 429s of eight requests that were in flight together
        limiter.observe(429, None)
    assert limiter.state.current_per_minute == 150
    assert limiter.state.throttled == 8
    clock.now += 1.0  # a 429 after the cooldown is a new signal
    limiter.observe(429, None)
    assert limiter.state.current_per_minute == 75


def test_clients_pools_and_the_cli_build_the_same_limiter() -> None:
    limiter = build_limiter(300)
    assert isinstance(limiter, TokenBucketLimiter)
    assert limiter.state.current_per_minute == 300
    assert build_limiter(None) is None
    assert build_limiter(0) is None
    assert build_limiter(300, limiter) is limiter


async def test_a_cancelled_waiter_gives_back_the_interval_it_reserved_even_after_a_429() -> None:
    clock = FakeClock()
    entered = asyncio.Event()

    async def blocking_sleep(seconds: float) -> None:
        entered.set()
        await asyncio.Event().wait()

    limiter = TokenBucketLimiter(60, clock=clock, sleep=blocking_sleep)  # one a second
    await limiter.acquire()  # slot at 1000; the next is at 1001
    waiter = asyncio.create_task(limiter.acquire())  # reserves 1001 (interval 1 s); the next is at 1002
    await entered.wait()
    limiter.observe(429, None)  # the rate halves: interval 2 s from now on
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    # The 1-second slot was given back exactly: the next request goes at 1001, as if the waiter
    # never came (giving back 2 s would let it go at once, over the budget).
    assert limiter.reserve(clock.now) == pytest.approx(1.0)
