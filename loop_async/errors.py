"""Every exception loop-async raises, in one hierarchy.

::

    LoopError
    ├── TransportError ............... the request did not complete (connection refused, reset, ...)
    │   ├── LoopTimeoutError ......... also a builtin ``TimeoutError``
    │   │   └── RateLimiterTimeoutError  no rate-limit slot within ``acquire_timeout``: nothing sent
    │   └── RateLimiterUnavailableError  the rate limiter failed (Redis down or frozen): nothing sent
    ├── LoopAPIError ................. Loop answered with an error (any status, even 200)
    │   ├── BadRequestError .......... 400
    │   ├── AuthenticationError ...... 401 (bad key *or* missing scope: Loop answers 401 for both)
    │   ├── PermissionDeniedError .... 403
    │   ├── NotFoundError ............ 404, and Loop's "no match" answers sent with status 200
    │   ├── ConflictError ............ 409
    │   ├── UnprocessableEntityError . 422
    │   │   └── ReturnsUnavailableError  ``returns-unavailable-for-order``: do not retry the submit
    │   ├── RateLimitError ........... 429, with ``retry_after``
    │   ├── ServerError .............. 5xx
    │   └── RedirectError ............ a 3xx the SDK does not follow (unsafe method, loop, off-spec)
    ├── OutcomeUnknownError .......... an unsafe request may or may not have taken effect: check, don't re-send
    ├── PartialOutcomeError .......... part of a compound action happened (flagged, but the note failed)
    ├── PartialFailureError .......... a 2xx carrying ``errors[]``, raised only when asked (strict)
    ├── DecodeError .................. the body is not what the reference promises (a ``ValueError``)
    │   ├── ResponseTooLargeError .... the body is larger than ``max_response_bytes``
    │   └── InvalidWebhookError ...... a webhook body that is not a Loop webhook event
    ├── FieldValidationError ......... bad arguments, every problem listed, nothing sent (``ValueError``;
    │                                  an ``ExceptionGroup`` of ``FieldProblem``, one per bad field)
    ├── FieldProblem ................. one bad argument: its ``name`` and what is wrong (a ``ValueError``)
    ├── RelNotAvailableError ......... the navigator has no link with that rel (a ``LookupError``)
    ├── UnsafeLinkError .............. a link or redirect off the client's origin (``ValueError``)
    ├── DriveLimitError .............. ``drive`` made ``max_steps`` follows without an end (a ``RuntimeError``)
    ├── ClientClosedError ............ the client was used after ``aclose()`` (a ``RuntimeError``)
    └── PoolInputError ............... a pool job's input failed for some merchants (the others' work was done)

No exception text, ``repr`` or attribute holds the API key: requests are described by
method and URL only, and the key travels in a header that is never copied into an error.

Over 400 lines because, by rule, every exception of the SDK is here, in one hierarchy. Which class an
answer becomes is decided in :mod:`loop_async._sansio.protocol`, not here.
"""

from __future__ import annotations

import copy
import pickle
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar

import attrs
from yarl import URL

from loop_async._response import Response
from loop_async._suggest import did_you_mean

if sys.version_info >= (3, 11):
    _ExceptionGroup = ExceptionGroup  # noqa: F821 - a builtin from Python 3.11
else:  # pragma: no cover - cattrs depends on the backport on Python 3.10
    from exceptiongroup import ExceptionGroup as _ExceptionGroup

__all__ = [
    "ApiErrorEntry",
    "AuthenticationError",
    "BadRequestError",
    "ClientClosedError",
    "ConflictError",
    "DecodeError",
    "DriveLimitError",
    "FieldProblem",
    "FieldValidationError",
    "InvalidWebhookError",
    "LoopAPIError",
    "LoopError",
    "LoopTimeoutError",
    "NotFoundError",
    "OutcomeUnknownError",
    "PartialFailureError",
    "PartialOutcomeError",
    "PermissionDeniedError",
    "PoolInputError",
    "RateLimitError",
    "RateLimiterTimeoutError",
    "RateLimiterUnavailableError",
    "RedirectError",
    "RelNotAvailableError",
    "ResponseTooLargeError",
    "ReturnsUnavailableError",
    "ServerError",
    "TransportError",
    "UnprocessableEntityError",
    "UnsafeLinkError",
]


@attrs.frozen(kw_only=True)
class ApiErrorEntry:
    """One entry of Loop's ``errors[]``: a code (kebab or SCREAMING case), a message, a field.

    Also available as :class:`loop_async.models.ApiErrorEntry`.
    """

    code: str | None = None
    message: str | None = None
    field: str | None = None


class LoopError(Exception):
    """Base class of every exception raised by loop-async.

    Every one survives :mod:`pickle` (process pools, task-queue result backends) and
    :func:`copy.copy`/:func:`copy.deepcopy` with all its attributes. An attribute that cannot
    be pickled (a navigator holds a live client, and the API key is never pickled) is set to
    ``None`` in the pickled copy, with a note saying so.
    """

    def __reduce__(self) -> tuple[Any, ...]:
        # BaseException rebuilds by calling ``type(self)(*self.args)``, which the keyword-only
        # constructors here refuse: rebuild without ``__init__`` and restore the attributes.
        return (_rebuild_error, (type(self), self.args), _portable_state(self))

    def __copy__(self) -> LoopError:
        clone = _rebuild_error(type(self), self.args)
        clone.__dict__.update(self.__dict__)
        return clone

    def __deepcopy__(self, memo: dict[int, Any]) -> LoopError:
        clone = _rebuild_error(type(self), copy.deepcopy(self.args, memo))
        memo[id(self)] = clone
        for name, value in self.__dict__.items():
            try:
                clone.__dict__[name] = copy.deepcopy(value, memo)
            except Exception:  # noqa: BLE001 - not deep-copyable (a live client): share it
                clone.__dict__[name] = value
        return clone


def _rebuild_error(cls: type[LoopError], args: tuple[Any, ...]) -> LoopError:
    error = cls.__new__(cls, *args)
    error.args = args
    return error


def _portable_state(error: LoopError) -> dict[str, Any]:
    """``error``'s attributes, each one that does not pickle replaced by ``None`` with a note."""
    state = dict(error.__dict__)
    dropped = []
    for name, value in state.items():
        if name == "__notes__":
            continue
        try:
            pickle.dumps(value)
        except Exception:  # noqa: BLE001 - whatever the reason, this value cannot travel
            state[name] = None
            dropped.append(f"{name} ({type(value).__name__})")
    if dropped:
        note = f"loop-async: not pickled, set to None: {', '.join(dropped)}"
        state["__notes__"] = [*state.get("__notes__", ()), note]
    return state


class TransportError(LoopError):
    """The request did not complete: no HTTP response was read.

    ``request_sent`` is ``False`` when the request certainly never reached Loop (the
    connection could not be opened), ``True`` or ``None`` when it may have: a non-idempotent
    action in that state may have taken effect and is not retried automatically.
    """

    def __init__(
        self,
        message: str,
        *,
        method: str | None = None,
        url: URL | None = None,
        request_sent: bool | None = None,
        attempts: int = 1,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.method = method
        self.url = url
        self.request_sent = request_sent
        self.attempts = attempts

    #: What the failure means for the caller, set by the transport when it gives up (e.g.
    #: "nothing was sent (3 attempts)", or that an unsafe request may have taken effect).
    hint: str = ""

    def __str__(self) -> str:
        where = f" ({self.method} {self.url})" if self.method and self.url else ""
        hint = f"; {self.hint}" if self.hint else ""
        return f"{self.message}{where}{hint}"


class LoopTimeoutError(TransportError, TimeoutError):
    """The request timed out. Also a builtin :class:`TimeoutError`."""


class RateLimiterTimeoutError(LoopTimeoutError):
    """No rate-limit slot came within ``acquire_timeout``: the request was never sent.

    ``request_sent`` is always ``False``: it is safe to try again later, whatever the method.
    """


class RateLimiterUnavailableError(TransportError):
    """The rate limiter itself failed (its Redis refused, dropped or timed out): nothing was sent.

    ``request_sent`` is always ``False``: it is safe to try again later, whatever the method.
    """


class LoopAPIError(LoopError):
    """Loop answered with an error, whatever the HTTP status (Loop sends some with 200).

    Attributes: ``status`` (HTTP status), ``code`` (the first of Loop's error codes) and
    ``codes`` (all of them), ``message``, ``errors`` (the parsed ``errors[]`` entries),
    ``method`` and ``url`` of the request, ``request_id`` when Loop sent one, ``retry_after``
    (seconds, when the answer had a ``Retry-After``: a 429 or a 503), and ``response``
    (status, headers, body) for anything else.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int,
        codes: Sequence[str] = (),
        errors: Sequence[ApiErrorEntry] = (),
        method: str | None = None,
        url: URL | None = None,
        request_id: str | None = None,
        response: Response | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.codes = tuple(codes)
        self.errors = tuple(errors)
        self.method = method
        self.url = url
        self.request_id = request_id
        self.response = response
        self.retry_after = retry_after

    @property
    def code(self) -> str | None:
        """The first error code Loop sent, or ``None``."""
        return self.codes[0] if self.codes else None

    def __str__(self) -> str:
        parts = [f"HTTP {self.status}"]
        if self.codes:
            parts.append(", ".join(self.codes))
        head = " ".join(parts)
        where = f" ({self.method} {self.url})" if self.method and self.url else ""
        rid = f" [request id {self.request_id}]" if self.request_id else ""
        return f"{head}: {self.message}{where}{rid}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status}, codes={self.codes!r}, message={self.message!r})"

    #: ``True`` when an earlier attempt of this request may have reached Loop (the transport
    #: retried an idempotent request after a drop or a 502/504): this answer may describe
    #: the state after that attempt acted, e.g. a 404 for a DELETE whose first attempt worked.
    replayed: bool = False


class BadRequestError(LoopAPIError):
    """400: Loop rejected the request as malformed."""


class AuthenticationError(LoopAPIError):
    """401: the API key is wrong, or lacks the scope this action needs."""

    def __str__(self) -> str:
        return (
            f"{super().__str__()} (check the API key, and that it has the scope this endpoint needs: "
            "Loop answers 401 for both)"
        )


class PermissionDeniedError(LoopAPIError):
    """403: the key may not do this."""


class NotFoundError(LoopAPIError):
    """404, or Loop's "no match" answer that arrives with status 200.

    ``looked_up`` says what was looked for, when the SDK knows (``"return_id=5"``).
    """

    looked_up: str | None = None

    def __str__(self) -> str:
        text = super().__str__()
        return f"nothing found for {self.looked_up}: {text}" if self.looked_up else text


class ConflictError(LoopAPIError):
    """409: the resource is not in a state that allows this."""


class UnprocessableEntityError(LoopAPIError):
    """422: Loop understood the request and refused it (e.g. ``UNPROCESSABLE_RETURN``)."""


class ReturnsUnavailableError(UnprocessableEntityError):
    """422 ``returns-unavailable-for-order``: Loop will not create a return for this order.

    Loop's reference says not to retry the submit: ``retryable`` is ``False``.
    """

    retryable: ClassVar[bool] = False


class RateLimitError(LoopAPIError):
    """429: over Loop's rate limit. ``retry_after`` is in seconds, when Loop said."""


class ServerError(LoopAPIError):
    """5xx: Loop failed. A POST that got one may still have taken effect.

    ``retry_after`` keeps a ``Retry-After`` that was too long to wait for (a 503 in maintenance).
    """


class RedirectError(LoopAPIError):
    """A 3xx the SDK did not follow; ``location`` is where it pointed (``None`` if nowhere).

    Only safe methods (GET, HEAD, OPTIONS) follow redirects, on the client's own origin and
    at most a few hops: a POST or PATCH is never re-sent by a redirect. Raised for a redirect
    of any other method, a redirect loop, or a 3xx that names no ``Location``.
    """

    def __init__(self, message: str, *, location: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.location = location


class OutcomeUnknownError(LoopError):
    """An unsafe request may have taken effect, and the SDK could not find out whether it did.

    Loop has no idempotency key, so the SDK does not send it again on its own: check the
    resource (``navigator`` holds a fresh read when one was made) and decide. ``error`` is
    what happened to the request (a timeout, a reset, a 5xx); ``method`` and ``url`` name it;
    ``request_sent`` is always ``True`` (or at least: not known to be ``False``).
    """

    request_sent = True

    def __init__(
        self,
        message: str,
        *,
        error: LoopError,
        method: str | None = None,
        url: URL | None = None,
        navigator: object = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.error = error
        self.method = method
        self.url = url
        self.navigator = navigator

    def __str__(self) -> str:
        return f"{self.message}: {self.error}"  # the error names the request


class PartialOutcomeError(LoopError):
    """Part of a compound action took effect and the rest failed; do not simply retry it all.

    ``done`` is the result of the part that happened (e.g. the flag's
    :class:`~loop_async.ActionResult`), ``error`` the failure of the rest (e.g. the note).
    """

    def __init__(self, message: str, *, done: object, error: BaseException) -> None:
        super().__init__(message)
        self.message = message
        self.done = done
        self.error = error

    def __str__(self) -> str:
        return f"{self.message}: {self.error}"


class PartialFailureError(LoopError):
    """A 2xx whose ``errors[]`` is not empty, raised only by strict calls.

    ``resource`` holds the decoded data (for a navigator call, the new navigator), so nothing
    that Loop sent is lost; ``errors`` holds the entries.
    """

    def __init__(self, errors: Sequence[ApiErrorEntry], resource: object) -> None:
        self.errors = tuple(errors)
        self.resource = resource
        described = "; ".join(f"{e.code or 'error'}: {e.message or ''}".rstrip(": ") for e in self.errors)
        super().__init__(f"the request succeeded with {len(self.errors)} error(s): {described}")


class DecodeError(LoopError, ValueError):
    """The body is not the JSON the API reference promises. ``excerpt`` shows its start."""

    def __init__(self, message: str, *, excerpt: str | None = None, status: int | None = None) -> None:
        self.excerpt = excerpt
        self.status = status
        text = message if excerpt is None else f"{message}; body starts: {excerpt!r}"
        super().__init__(text)


class ResponseTooLargeError(DecodeError):
    """The body is larger than the client's ``max_response_bytes``; reading stopped there."""


class InvalidWebhookError(DecodeError):
    """The body is not a Loop webhook: not a JSON object with ``topic`` and ``trigger``, or a
    known topic whose payload does not decode."""


class FieldProblem(LoopError, ValueError):
    """One bad argument or field: its ``name`` and what is wrong with it.

    The members of a :class:`FieldValidationError` group.
    """

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name
        self.message = message

    def __repr__(self) -> str:
        return f"FieldProblem({self.name!r}, {self.message!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        # BaseException would rebuild from ``args`` (the joined text): rebuild from the parts.
        return (FieldProblem, (self.name, self.message), {"__notes__": getattr(self, "__notes__", [])})

    # Copied the way it is pickled (through ``__reduce__``), not by LoopError's copy methods.
    __copy__ = None  # type: ignore[assignment]
    __deepcopy__ = None  # type: ignore[assignment]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FieldProblem) and (self.name, self.message) == (other.name, other.message)

    def __hash__(self) -> int:
        return hash((self.name, self.message))


class FieldValidationError(_ExceptionGroup, LoopError, ValueError):
    """Arguments failed validation before anything was sent; every problem is listed.

    As in attrs/cattrs, it is an ``ExceptionGroup``: one :class:`FieldProblem` per bad field,
    each with a note naming the field (``except* FieldProblem`` works). ``problems`` is the
    same tuple, ``names`` their field names. It is also a ``ValueError``.
    """

    problems: tuple[FieldProblem, ...]
    action: str | None

    def __new__(cls, problems: Iterable[FieldProblem], *, action: str | None = None) -> FieldValidationError:
        found = tuple(problems)
        if not found:
            raise ValueError("FieldValidationError needs at least one FieldProblem")
        lines = "\n".join(f"  - {p.name}: {p.message}" for p in found)
        head = f"invalid arguments for {action}" if action else "invalid arguments"
        message = f"{head} ({len(found)} problem(s), nothing was sent):\n{lines}"
        self: FieldValidationError = super().__new__(cls, message, found)
        self.problems = found
        self.action = action
        return self

    def __init__(self, problems: Iterable[FieldProblem], *, action: str | None = None) -> None:
        super().__init__(self.message, self.problems)
        for problem in self.problems:
            add_note = getattr(problem, "add_note", None)  # Python 3.11+
            if add_note is not None and not getattr(problem, "__notes__", None):
                add_note(f"while validating field {problem.name!r}" + (f" of {action}" if action else ""))

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuilt from the problems (pickle, copy), not from ``args``.
        return (_rebuild_field_validation_error, (self.problems, self.action))

    __copy__ = None  # type: ignore[assignment]  # copied through ``__reduce__`` too
    __deepcopy__ = None  # type: ignore[assignment]

    def derive(self, excs: Sequence[FieldProblem]) -> FieldValidationError:  # type: ignore[override]
        """The same error over a subset of problems (``split``/``subgroup`` keep the type)."""
        return FieldValidationError(excs, action=self.action)

    def __str__(self) -> str:
        return str(self.message)

    @property
    def names(self) -> tuple[str, ...]:
        """The names of the bad fields, in order."""
        return tuple(p.name for p in self.problems)


def _rebuild_field_validation_error(problems: Sequence[FieldProblem], action: str | None) -> FieldValidationError:
    return FieldValidationError(problems, action=action)


class RelNotAvailableError(LoopError, LookupError):
    """No link with this rel is available now. ``available`` lists the rels that are."""

    def __init__(self, rel: str, available: Sequence[str]) -> None:
        self.rel = rel
        self.available = tuple(available)
        hint = did_you_mean(rel, self.available)
        listed = ", ".join(self.available) if self.available else "none (the resource is terminal)"
        suffix = f" Did you mean {hint!r}?" if hint else ""
        super().__init__(f"rel {rel!r} is not available; available rels: {listed}.{suffix}")

    def __str__(self) -> str:
        # LookupError/KeyError-style quoting would hide the message; show it plainly.
        return str(self.args[0])


class UnsafeLinkError(LoopError, ValueError):
    """A link, page URL or redirect points off the client's origin; nothing was sent there.

    The API key travels in a header, so following such a URL would hand it to another host.
    """

    def __init__(self, url: URL | str, expected_origin: URL | str, reason: str = "") -> None:
        self.url = str(url)
        self.expected_origin = str(expected_origin)
        why = f": {reason}" if reason else ""
        super().__init__(
            f"refusing to send a request to {self.url} (the client's origin is {self.expected_origin}){why}"
        )


class DriveLimitError(LoopError, RuntimeError):
    """``drive`` made ``max_steps`` follows without reaching an end.

    ``result`` is the :class:`~loop_async.hypermedia.DriveResult` so far (its navigator, the
    steps made); typed ``Any`` so that this module imports nothing above it.
    """

    def __init__(self, max_steps: int, result: Any) -> None:
        self.max_steps = max_steps
        self.result = result
        rels = " -> ".join(step.rel for step in result.steps[-5:])
        super().__init__(
            f"drive stopped after max_steps={max_steps} follows without reaching a terminal state "
            f"(last: {rels}; rels now: {', '.join(result.navigator.rels)})"
        )


class ClientClosedError(LoopError, RuntimeError):
    """The client was used after ``aclose()``."""


class PoolInputError(LoopError):
    """The input of one or more merchants of a pool job failed; the other merchants' work was done.

    ``errors`` maps each such merchant to the exception its items raised.
    """

    def __init__(self, errors: Mapping[str, Exception]) -> None:
        self.errors = dict(errors)
        super().__init__(f"the input failed for merchant(s): {', '.join(map(str, self.errors))}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (PoolInputError, (self.errors,))
