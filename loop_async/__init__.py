"""loop-async: an asyncio SDK for the Loop Returns REST API.

Start with :class:`LoopClient`; errors are in :mod:`loop_async.errors`, models in
:mod:`loop_async.models`.
"""

from __future__ import annotations

from loop_async import _logs
from loop_async._hooks import ErrorEvent, Hooks, RequestEvent, ResponseEvent, RetryEvent
from loop_async._response import Response, capture_responses
from loop_async._sansio.outcome import OutcomeKind, ReconcilePolicy
from loop_async._sansio.retry import RetryPolicy
from loop_async._version import __version__
from loop_async.client import LoopClient
from loop_async.errors import (
    AuthenticationError,
    BadRequestError,
    ClientClosedError,
    ConflictError,
    DecodeError,
    FieldProblem,
    FieldValidationError,
    LoopAPIError,
    LoopError,
    LoopTimeoutError,
    NotFoundError,
    OutcomeUnknownError,
    PartialFailureError,
    PartialOutcomeError,
    PermissionDeniedError,
    RateLimitError,
    RateLimiterTimeoutError,
    RateLimiterUnavailableError,
    RedirectError,
    RelNotAvailableError,
    ResponseTooLargeError,
    ReturnsUnavailableError,
    ServerError,
    TransportError,
    UnprocessableEntityError,
    UnsafeLinkError,
)
from loop_async.hypermedia.navigator import Navigator
from loop_async.ratelimit.bucket import TokenBucketLimiter
from loop_async.ratelimit.limiter import LimiterState, RateLimiter
from loop_async.resources.return_actions import ActionResult
from loop_async.webhooks.router import WebhookRouter
from loop_async.webhooks.signature import verify_signature

__all__ = [
    "ActionResult",
    "AuthenticationError",
    "BadRequestError",
    "ClientClosedError",
    "ConflictError",
    "DecodeError",
    "ErrorEvent",
    "FieldProblem",
    "FieldValidationError",
    "Hooks",
    "LimiterState",
    "LoopAPIError",
    "LoopClient",
    "LoopError",
    "LoopTimeoutError",
    "Navigator",
    "NotFoundError",
    "OutcomeKind",
    "OutcomeUnknownError",
    "PartialFailureError",
    "PartialOutcomeError",
    "PermissionDeniedError",
    "RateLimitError",
    "RateLimiter",
    "RateLimiterTimeoutError",
    "RateLimiterUnavailableError",
    "ReconcilePolicy",
    "RedirectError",
    "RelNotAvailableError",
    "RequestEvent",
    "Response",
    "ResponseEvent",
    "ResponseTooLargeError",
    "RetryEvent",
    "RetryPolicy",
    "ReturnsUnavailableError",
    "ServerError",
    "TokenBucketLimiter",
    "TransportError",
    "UnprocessableEntityError",
    "UnsafeLinkError",
    "WebhookRouter",
    "__version__",
    "capture_responses",
    "verify_signature",
]

_logs.setup_from_env()  # LOOP_LOG=debug|info: logging on without code
