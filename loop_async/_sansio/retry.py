"""When to retry, and how long to wait: pure decisions, no I/O.

Retried for every method: 429, 503 and connections never opened; for idempotent methods only
(or ``retry_unsafe``): 502, 504 and drops after sending; never: 500 and other 4xx. The table and
the waits (full jitter, ``Retry-After``, a 429's window) are in docs/reliability.md.
"""

from __future__ import annotations

import random
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from enum import Enum

import attrs

from loop_async._sansio.outcome import IDEMPOTENT_METHODS, REFUSED_STATUSES
from loop_async._sansio.protocol import LOOP_WINDOW

__all__ = ["Attempt", "Outcome", "RetryDecision", "RetryPolicy", "parse_retry_after"]


class Outcome(Enum):
    """How one attempt ended, as far as retrying is concerned."""

    RESPONSE = "response"  # an HTTP status was read
    NOT_SENT = "not-sent"  # the connection could not be opened: Loop never saw the request
    MAYBE_SENT = "maybe-sent"  # dropped or timed out after sending: Loop may have acted
    FATAL = "fatal"  # retrying cannot help (a TLS certificate error)


@attrs.frozen
class Attempt:
    """One finished attempt: what happened and what the server asked for."""

    method: str
    outcome: Outcome
    status: int | None = None
    retry_after: float | None = None


@attrs.frozen
class RetryDecision:
    """Whether to try again, after how many seconds, and why (for the DEBUG log)."""

    retry: bool
    delay: float = 0.0
    reason: str = ""


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """Retry settings of a client. ``max_retries`` counts retries, not attempts."""

    max_retries: int = attrs.field(default=3, validator=attrs.validators.ge(0))
    backoff_base: float = attrs.field(default=0.5, validator=attrs.validators.ge(0))
    backoff_max: float = attrs.field(default=60.0, validator=attrs.validators.ge(0))
    max_retry_after: float = attrs.field(default=120.0, validator=attrs.validators.ge(0))
    rate_limit_window: float = attrs.field(default=LOOP_WINDOW, validator=attrs.validators.ge(0))
    safe_statuses: frozenset[int] = REFUSED_STATUSES
    idempotent_statuses: frozenset[int] = frozenset({502, 504})

    def backoff(self, retry_number: int, rng: random.Random | None = None) -> float:
        """Full jitter: a uniform wait in ``[0, min(backoff_max, base * 2**retry_number)]``."""
        ceiling = min(self.backoff_max, self.backoff_base * (2**retry_number))
        return (rng or random).uniform(0.0, ceiling)

    def decide(
        self,
        attempt: Attempt,
        retries_done: int,
        *,
        retry_unsafe: bool = False,
        rng: random.Random | None = None,
    ) -> RetryDecision:
        """Decide what follows ``attempt``, given how many retries were already made."""
        idempotent = retry_unsafe or attempt.method.upper() in IDEMPOTENT_METHODS
        if attempt.outcome is Outcome.NOT_SENT:
            why = "connection failed before sending"
        elif attempt.outcome is Outcome.MAYBE_SENT:
            why = "connection lost after sending"
            if not idempotent:
                return RetryDecision(False, reason=f"{why}; {attempt.method} may have taken effect, not retried")
        elif attempt.outcome is Outcome.RESPONSE and attempt.status in self.safe_statuses:
            why = f"HTTP {attempt.status}"
        elif attempt.outcome is Outcome.RESPONSE and attempt.status in self.idempotent_statuses:
            why = f"HTTP {attempt.status}"
            if not idempotent:
                return RetryDecision(False, reason=f"{why}; {attempt.method} may have taken effect, not retried")
        else:
            return RetryDecision(False, reason="not retryable")
        if retries_done >= self.max_retries:
            return RetryDecision(False, reason=f"{why}; gave up after {retries_done} retries")
        if attempt.retry_after is not None:
            if attempt.retry_after > self.max_retry_after:
                return RetryDecision(
                    False, reason=f"{why}; Retry-After {attempt.retry_after:.0f}s exceeds {self.max_retry_after:.0f}s"
                )
            return RetryDecision(True, attempt.retry_after, f"{why}; Retry-After {attempt.retry_after:.3g}s")
        if attempt.outcome is Outcome.RESPONSE and attempt.status == 429:
            delay = min(self.rate_limit_window, self.backoff_max)
            return RetryDecision(True, delay, f"{why} without Retry-After; waiting out the window, {delay:.3g}s")
        delay = self.backoff(retries_done, rng)
        return RetryDecision(True, delay, f"{why}; backoff {delay:.3g}s")


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta seconds or HTTP date); ``None`` if absent or bad."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = (when - (now or datetime.now(timezone.utc))).total_seconds()
    if seconds != seconds or seconds in (float("inf"), float("-inf")):  # NaN or infinite
        return None
    return max(0.0, seconds)
