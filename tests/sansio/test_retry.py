"""Retry decisions and Retry-After parsing: pure, no socket."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loop_async._sansio.retry import Attempt, Outcome, RetryPolicy, parse_retry_after

POLICY = RetryPolicy(max_retries=3, backoff_base=0.5, backoff_max=8.0, max_retry_after=60.0)


@pytest.mark.parametrize(
    ("method", "outcome", "status", "retry"),
    [
        ("POST", Outcome.RESPONSE, 429, True),
        ("POST", Outcome.RESPONSE, 503, True),
        ("POST", Outcome.RESPONSE, 502, False),
        ("POST", Outcome.RESPONSE, 504, False),
        ("POST", Outcome.RESPONSE, 500, False),
        ("GET", Outcome.RESPONSE, 502, True),
        ("GET", Outcome.RESPONSE, 504, True),
        ("GET", Outcome.RESPONSE, 500, False),
        ("GET", Outcome.RESPONSE, 404, False),
        ("POST", Outcome.NOT_SENT, None, True),
        ("POST", Outcome.MAYBE_SENT, None, False),
        ("GET", Outcome.MAYBE_SENT, None, True),
        ("DELETE", Outcome.MAYBE_SENT, None, True),
    ],
)
def test_which_attempts_are_retried(method: str, outcome: Outcome, status: int | None, retry: bool) -> None:
    assert POLICY.decide(Attempt(method, outcome, status), 0).retry is retry


def test_unsafe_retry_can_be_allowed_by_the_caller() -> None:
    assert POLICY.decide(Attempt("POST", Outcome.MAYBE_SENT), 0, retry_unsafe=True).retry
    assert POLICY.decide(Attempt("POST", Outcome.RESPONSE, 504), 0, retry_unsafe=True).retry


def test_gives_up_after_max_retries() -> None:
    attempt = Attempt("GET", Outcome.RESPONSE, 503)
    assert POLICY.decide(attempt, 2).retry
    decision = POLICY.decide(attempt, 3)
    assert not decision.retry
    assert "gave up after 3" in decision.reason


def test_retry_after_wins_over_backoff_and_is_capped() -> None:
    assert POLICY.decide(Attempt("POST", Outcome.RESPONSE, 429, retry_after=7.0), 0).delay == 7.0
    over = POLICY.decide(Attempt("POST", Outcome.RESPONSE, 429, retry_after=61.0), 0)
    assert not over.retry
    assert "exceeds" in over.reason


@given(st.integers(min_value=0, max_value=20), st.integers(min_value=0, max_value=2**32))
def test_backoff_is_full_jitter_within_the_exponential_ceiling(retry_number: int, seed: int) -> None:
    delay = POLICY.backoff(retry_number, random.Random(seed))
    assert 0.0 <= delay <= min(8.0, 0.5 * 2**retry_number)


def test_backoff_actually_jitters() -> None:
    rng = random.Random(1)
    assert len({POLICY.backoff(3, rng) for _ in range(20)}) > 1


def test_parse_retry_after_seconds_and_dates() -> None:
    now = datetime(2026, 11, 23, 12, 0, 0, tzinfo=timezone.utc)
    assert parse_retry_after("120", now) == 120.0
    assert parse_retry_after(" 1.5 ", now) == 1.5
    assert parse_retry_after(format_datetime(now + timedelta(seconds=30), usegmt=True), now) == 30.0
    assert parse_retry_after(format_datetime(now - timedelta(seconds=30), usegmt=True), now) == 0.0
    assert parse_retry_after("-5", now) == 0.0
    for bad in (None, "", "soon", "nan", "inf"):
        assert parse_retry_after(bad, now) is None


def test_policy_rejects_negative_settings() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(max_retries=-1)


def test_fatal_attempts_are_never_retried() -> None:
    decision = POLICY.decide(Attempt("GET", Outcome.FATAL), 0, retry_unsafe=True)
    assert not decision.retry


def test_a_429_without_retry_after_waits_out_the_rate_limit_window() -> None:
    """Loop documents no Retry-After; a backoff of seconds would spend every retry inside the 60 s window."""
    attempt = Attempt("POST", Outcome.RESPONSE, 429)
    decisions = [RetryPolicy().decide(attempt, n, rng=random.Random(n)) for n in range(3)]
    assert [d.delay for d in decisions] == [60.0, 60.0, 60.0]
    assert all(d.retry for d in decisions)
    assert "window" in decisions[0].reason
    assert RetryPolicy(backoff_max=10.0).decide(attempt, 0).delay == 10.0  # capped by the option
    assert RetryPolicy(rate_limit_window=2.0).decide(attempt, 0).delay == 2.0  # a shorter window (tests)
    # A Retry-After still wins, and other retryable answers keep their jittered backoff.
    assert RetryPolicy().decide(Attempt("POST", Outcome.RESPONSE, 429, retry_after=3.0), 0).delay == 3.0
    assert RetryPolicy().decide(Attempt("GET", Outcome.RESPONSE, 503), 0, rng=random.Random(1)).delay <= 0.5
