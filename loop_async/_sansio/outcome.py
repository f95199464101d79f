"""The one rule for uncertain outcomes: may a request that failed have taken effect at Loop?

Pure code, no I/O. Every caller (retries, the navigator, return actions, bulk jobs, the CLI,
Temporal) asks it, so they cannot disagree; the rule, as a table, is in docs/reliability.md.
"""

from __future__ import annotations

import asyncio
from enum import Enum
from typing import Final

import attrs

from loop_async.errors import (
    AuthenticationError,
    ClientClosedError,
    DecodeError,
    FieldValidationError,
    LoopAPIError,
    OutcomeUnknownError,
    PartialOutcomeError,
    PermissionDeniedError,
    RedirectError,
    RelNotAvailableError,
    TransportError,
    UnsafeLinkError,
)

__all__ = [
    "IDEMPOTENT_METHODS",
    "REFUSED_STATUSES",
    "SAFE_METHODS",
    "OutcomeKind",
    "ReconcilePolicy",
    "classify",
    "is_fatal",
    "is_idempotent",
    "is_refusal",
    "is_uncertain",
    "may_have_taken_effect",
    "status_may_have_acted",
]

#: Methods that change nothing: their failure is always "nothing happened".
SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
#: Methods whose repetition is harmless (HTTP's definition); the transport may retry them.
IDEMPOTENT_METHODS: Final = SAFE_METHODS | {"PUT", "DELETE"}
#: 5xx statuses Loop answers before it acts (load shedding), besides every 4xx.
REFUSED_STATUSES: Final = frozenset({429, 503})

# Redirects that ask for the same request elsewhere: the server did not act on it.
_SEND_ELSEWHERE: Final = frozenset({307, 308})

# Raised before anything was sent: the arguments, the link or the client were refused locally.
_NEVER_SENT: Final = (FieldValidationError, RelNotAvailableError, UnsafeLinkError, ClientClosedError)


class OutcomeKind(str, Enum):
    """How one item of a job ended, as far as a retry is concerned."""

    OK = "ok"  #: the action took effect
    FAILED = "failed"  #: nothing happened: safe to retry
    UNKNOWN = "unknown"  #: it may have happened: check before retrying
    PARTIAL = "partial"  #: part of it happened (e.g. flagged, but the note failed)


def is_fatal(error: BaseException) -> bool:
    """Whether ``error`` condemns every later request with the same key: a 401 (a bad key, or a
    key without the scope: Loop answers 401 for both) or a 403. A job stops sending on it."""
    return isinstance(error, AuthenticationError | PermissionDeniedError)


def is_idempotent(method: str) -> bool:
    """Whether repeating ``method`` is harmless (GET, HEAD, OPTIONS, PUT, DELETE)."""
    return method.upper() in IDEMPOTENT_METHODS


def status_may_have_acted(status: int) -> bool:
    """Whether an error answer with HTTP ``status`` leaves open that Loop acted (5xx but 503)."""
    return status >= 500 and status not in REFUSED_STATUSES


def may_have_taken_effect(error: BaseException) -> bool:
    """Whether the request that raised ``error`` may have taken effect at Loop.

    Answers for the request as sent, whatever its method; callers that know the method is
    safe (a GET) need not ask. Anything this rule does not know (an exception from the
    caller's own code) counts as "may have": a wrong "no" could repeat a refund.
    """
    if isinstance(error, PartialOutcomeError | OutcomeUnknownError):
        return True
    if isinstance(error, _NEVER_SENT):
        return False
    if isinstance(error, TransportError):
        return error.request_sent is not False
    if isinstance(error, RedirectError):
        # 307/308 ask for the same request elsewhere (not acted on); a 303 says "done, see there";
        # 301/302 after a POST say nothing either way.
        return error.status not in _SEND_ELSEWHERE
    if isinstance(error, LoopAPIError):
        return status_may_have_acted(error.status) or error.replayed
    if isinstance(error, DecodeError):
        # Loop answered; a 2xx that could not be read probably did what it was asked.
        return error.status is None or error.status < 400 or status_may_have_acted(error.status)
    return True  # includes asyncio.CancelledError: interrupted in flight


def is_refusal(error: BaseException) -> bool:
    """Whether Loop answered ``error``'s request with a refusal (a 4xx, 429, 503, an error in a 200).

    A refusal of a *replayed* request (see :attr:`~loop_async.errors.LoopAPIError.replayed`)
    still leaves open that the earlier attempt acted; the refusal itself is certain.
    """
    if isinstance(error, RedirectError):
        return error.status in _SEND_ELSEWHERE
    return isinstance(error, LoopAPIError) and not status_may_have_acted(error.status)


def is_uncertain(method: str, error: BaseException) -> bool:
    """Whether a ``method`` request that raised ``error`` has an outcome the SDK cannot know.

    Reads are never uncertain (they change nothing); an unsafe request is when the rule says
    it may have taken effect.
    """
    return method.upper() not in SAFE_METHODS and may_have_taken_effect(error)


@attrs.frozen(kw_only=True)
class ReconcilePolicy:
    """How a navigator settles an uncertain follow (the rule and its limits: ``docs/reliability.md``).

    After an unsafe follow whose outcome is uncertain, the navigator re-reads the resource up
    to ``reads`` times, ``interval`` seconds apart, and reports *took effect* as soon as the
    resource's own state differs from the last state known before the follow. When it never
    does, it raises :class:`~loop_async.errors.OutcomeUnknownError`: a server still working
    on the request (a slow one, or one whose effect shows late) cannot be told apart from one
    that did nothing.

    ``resend_if_unchanged=True`` sends the request once more instead. **Risk:** if the first
    request is still being worked on, or its effect shows late, the action happens twice (two
    cart items, two submits). Use it only for actions that are harmless to repeat.
    """

    reads: int = attrs.field(default=3, validator=attrs.validators.ge(1))
    interval: float = attrs.field(default=0.5, validator=attrs.validators.ge(0))
    resend_if_unchanged: bool = False


def classify(error: BaseException | None) -> OutcomeKind:
    """The outcome kind of an item that ended with ``error`` (``None``: it succeeded).

    A failed read (GET) is always ``failed``: it changed nothing.
    """
    if error is None:
        return OutcomeKind.OK
    if isinstance(error, PartialOutcomeError):
        return OutcomeKind.PARTIAL
    method = getattr(error, "method", None)
    if isinstance(method, str) and method.upper() in SAFE_METHODS and not isinstance(error, OutcomeUnknownError):
        return OutcomeKind.FAILED
    if isinstance(error, asyncio.CancelledError):
        return OutcomeKind.UNKNOWN
    return OutcomeKind.UNKNOWN if may_have_taken_effect(error) else OutcomeKind.FAILED
