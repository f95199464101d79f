"""Loop's wire protocol, without I/O: error-body shapes, error mapping, success bodies.

Loop sends errors in many shapes, some with HTTP 200 (Loop's error-code reference). Everything
that decides "is this an error, and which one" lives here, so it is tested without a socket.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import attrs
from yarl import URL

from loop_async.errors import (
    ApiErrorEntry,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    LoopAPIError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ReturnsUnavailableError,
    ServerError,
    UnprocessableEntityError,
)

__all__ = [
    "LOOP_WINDOW",
    "ParsedError",
    "build_api_error",
    "error_class_for_status",
    "is_true_body",
    "parse_error_body",
    "request_id_from",
]

#: Loop's rate-limit window in seconds (a guess: Loop documents "300 per minute" only). A 429
#: without ``Retry-After`` is taken to mean "this window is full": the 429s that follow within
#: one window of the rate cut it caused are its echo, not a new signal, and cut nothing.
LOOP_WINDOW = 60.0

# Keys that make up an error body; a body with any other key is data (maybe with errors[]).
_ERROR_KEYS = frozenset({"errors", "error", "message", "content", "code", "status", "status_code", "http_code"})

# Error codes whose meaning is an HTTP status, for errors that arrive with status 200.
_CODE_STATUS: Mapping[str, int] = {
    "NOT_AUTHORIZED": 401,
    "GEN-UNAUTHORIZED": 401,
    "NOT_FOUND": 404,
    "ORDER_NOT_FOUND": 404,
    "order-not-found": 404,
    "shop-not-found": 404,
    "UNPROCESSABLE_RETURN": 422,
    "UNPROCESSABLE_FLAGGED_RETURN": 422,
    "validation-failed": 422,
    "secondary-input-mismatch": 422,
    "returns-unavailable-from-order-address": 422,
    "returns-unavailable-for-order": 422,
    "action-validation-failed": 422,
    "terminal-state": 422,
    "draft-return-not-found": 404,
    "product-variant-unavailable": 422,
    "unsupported-feature": 422,
    "draft-returns-not-enabled": 403,
    "DESTINATION_LIMIT_EXCEEDED": 422,
}

# Loop's "no match" answers carry no code, only a message, and arrive with status 200:
# "No return found with this ID." (return actions), "Return not found." (details). The wording
# of others is a guess: "not found", or "no ... found" within the first sentence.
_NO_MATCH = re.compile(r"\bnot found\b|^\s*no\b[^.]*\bfound\b", re.IGNORECASE)

# The exception class of each HTTP status (a 5xx is a ServerError).
_STATUS_CLASSES: Mapping[int, type[LoopAPIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def error_class_for_status(status: int | None) -> type[LoopAPIError]:
    """The exception class for an HTTP status (``LoopAPIError`` when none fits)."""
    if status is None:
        return LoopAPIError
    if status >= 500:
        return ServerError
    return _STATUS_CLASSES.get(status, LoopAPIError)


# Error codes with their own exception class (a subclass of the status's class).
_CODE_CLASSES: Mapping[str, type[LoopAPIError]] = {"returns-unavailable-for-order": ReturnsUnavailableError}

_REQUEST_ID_HEADERS = ("X-Request-Id", "X-Request-ID", "Request-Id", "X-Amzn-Trace-Id", "CF-Ray")


@attrs.frozen
class ParsedError:
    """What one error body says: a message, codes, entries, and a status if it names one."""

    message: str
    codes: tuple[str, ...] = ()
    entries: tuple[ApiErrorEntry, ...] = ()
    status_hint: int | None = None


def _as_status(value: object) -> int | None:
    text = str(value).strip() if isinstance(value, str | int) and not isinstance(value, bool) else ""
    if text.isdigit() and 400 <= int(text) <= 599:
        return int(text)
    return None


def _entry_from(obj: object) -> ApiErrorEntry | None:
    if isinstance(obj, str):
        return ApiErrorEntry(message=obj)
    if isinstance(obj, Mapping):
        code = obj.get("code")
        message = obj.get("message") or obj.get("detail") or obj.get("title")
        return ApiErrorEntry(
            code=str(code) if code is not None else None,
            message=str(message) if message is not None else None,
            field=str(obj["field"]) if isinstance(obj.get("field"), str) else None,
        )
    return None


def _entries_from_errors(value: object) -> list[ApiErrorEntry]:
    """``errors`` as a string, a list of entries, one entry object, or a field → messages map."""
    if isinstance(value, str):
        return [ApiErrorEntry(message=value)]
    if isinstance(value, list):
        return [e for e in map(_entry_from, value) if e is not None]
    if isinstance(value, Mapping):
        if "message" in value or "code" in value:
            entry = _entry_from(value)
            return [entry] if entry else []
        entries: list[ApiErrorEntry] = []
        for field, messages in value.items():  # Laravel-style validation map
            items = messages if isinstance(messages, list) else [messages]
            entries.extend(ApiErrorEntry(field=str(field), message=str(m), code="validation-failed") for m in items)
        return entries
    return []


def parse_error_body(data: Any) -> ParsedError | None:
    """Recognise every documented error shape; ``None`` when ``data`` is not an error body.

    A dict is an error body when all its keys are error keys (``errors``, ``error``,
    ``message``, ``content``, ...) and at least one of them says something. A dict with data
    keys (``draft_return``, ``notes``, ...) is data, whatever ``errors`` it also carries.
    """
    if not isinstance(data, Mapping) or not data or not set(data) <= _ERROR_KEYS:
        return None
    entries: list[ApiErrorEntry] = []
    status_hint = _as_status(data.get("status")) or _as_status(data.get("status_code"))
    if "errors" in data:
        entries.extend(_entries_from_errors(data["errors"]))
    error = data.get("error")
    if isinstance(error, Mapping):
        status_hint = status_hint or _as_status(error.get("code")) or _as_status(error.get("http_code"))
        named = [c for c in (error.get("code"), error.get("http_code")) if isinstance(c, str) and not _as_status(c)]
        message = error.get("message")
        entries.append(ApiErrorEntry(code=named[0] if named else None, message=str(message) if message else None))
    elif isinstance(error, str):
        entries.append(ApiErrorEntry(message=error))
    top_message = data.get("message") or data.get("content")
    top_code = data.get("code") if isinstance(data.get("code"), str) else None
    if top_code and _as_status(top_code):
        status_hint = status_hint or _as_status(top_code)
        top_code = None
    if not entries and not top_message and not top_code:
        return None  # e.g. {"errors": []}: nothing wrong was said
    codes = tuple(dict.fromkeys(c for c in [top_code, *(e.code for e in entries)] if c))
    message = str(top_message) if top_message else next((e.message for e in entries if e.message), None)
    return ParsedError(
        message=message or (codes[0] if codes else "error"),
        codes=codes,
        entries=tuple(entries),
        status_hint=status_hint,
    )


def _status_for(http_status: int, parsed: ParsedError | None) -> int:
    """The status an error stands for: the HTTP one, or for a 2xx what the body says."""
    if http_status >= 400:
        return http_status
    if parsed is None:
        return http_status
    if parsed.status_hint:
        return parsed.status_hint
    for code in parsed.codes:
        if code in _CODE_STATUS:
            return _CODE_STATUS[code]
    if "unauthorized" in parsed.message.lower():
        return 401
    if _NO_MATCH.search(parsed.message):
        return 404
    return http_status


def build_api_error(
    http_status: int,
    parsed: ParsedError | None,
    *,
    fallback_message: str,
    method: str | None = None,
    url: URL | None = None,
    request_id: str | None = None,
    retry_after: float | None = None,
    response: Any = None,
) -> LoopAPIError:
    """The typed exception for an error answer (HTTP error status, or error body in a 2xx)."""
    status = _status_for(http_status, parsed)
    cls = error_class_for_status(status if status >= 400 else None)
    for code in parsed.codes if parsed else ():
        special = _CODE_CLASSES.get(code)
        if special is not None and issubclass(special, cls):
            cls = special
            break
    kwargs: dict[str, Any] = {
        "status": http_status,
        "codes": parsed.codes if parsed else (),
        "errors": parsed.entries if parsed else (),
        "method": method,
        "url": url,
        "request_id": request_id,
        "response": response,
        "retry_after": retry_after,  # a 429's, and a 503's that was too long to wait for
    }
    message = parsed.message if parsed else fallback_message
    return cls(message, **kwargs)


def is_true_body(data: Any) -> bool:
    """Whether a return action's body means success: ``true`` or the JSON string ``"true"``."""
    return data is True or (isinstance(data, str) and data.strip().lower() == "true")


def request_id_from(headers: Mapping[str, str]) -> str | None:
    """The request id Loop (or its edge) sent, if any."""
    for name in _REQUEST_ID_HEADERS:
        value = headers.get(name)
        if value:
            return value
    return None
