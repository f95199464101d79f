"""The token-bucket limiter with a fake clock: pacing, bursts, AIMD, cancellation."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from loop_async import TokenBucketLimiter


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
    limiter = TokenBucketLimiter(300, min_fraction=0.1)
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
