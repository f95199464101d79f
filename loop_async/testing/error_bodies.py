"""Loop's error bodies, and the exception the fake server's handlers raise to answer with one.

Every shape is one Loop's API reference (its error codes) documents, including errors sent with
status 200, so that the SDK's error parser meets the real variety.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aiohttp import web

from loop_async._sansio import json as _json

__all__ = [
    "LoopHTTPError",
    "action_error",
    "draft_error",
    "json_response",
    "message_error",
    "unauthorized_key",
    "unauthorized_scope",
    "validation_error",
]


class LoopHTTPError(Exception):
    """Raised by the fake server's logic: answer ``status`` with ``body`` (a Loop error shape)."""

    def __init__(self, status: int, body: Any, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.body = body
        self.headers = dict(headers or {})

    def response(self) -> web.Response:
        """The aiohttp response for this error."""
        return json_response(self.body, status=self.status, headers=self.headers)


def json_response(data: Any, *, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    """A JSON response serialised with the SDK's own JSON backend (Decimal as string)."""
    return web.Response(body=_json.dumps(data), status=status, headers=headers, content_type="application/json")


def action_error(status: int, code: str, message: str) -> LoopHTTPError:
    """Return actions: ``{"errors": {"message", "code"}}`` (e.g. ``UNPROCESSABLE_RETURN``)."""
    return LoopHTTPError(status, {"errors": {"message": message, "code": code}})


def draft_error(status: int, code: str, message: str) -> LoopHTTPError:
    """Draft returns: ``{"errors": [{"code", "message"}]}`` with a kebab-case code."""
    return LoopHTTPError(status, {"errors": [{"code": code, "message": message}]})


def validation_error(fields: Mapping[str, Sequence[str]], *, status: int = 422) -> LoopHTTPError:
    """Laravel-style validation: ``{"message", "errors": {"field": ["..."]}}``."""
    first = next(iter(fields.values()))[0] if fields else "The given data was invalid."
    return LoopHTTPError(status, {"message": first, "errors": {k: list(v) for k, v in fields.items()}})


def message_error(status: int, message: str) -> LoopHTTPError:
    """The bare ``{"message": "..."}`` shape (used for 429 and the returns-list range check)."""
    return LoopHTTPError(status, {"message": message})


def unauthorized_key() -> LoopHTTPError:
    """Missing or unknown API key: Loop's gateway shape."""
    return LoopHTTPError(401, {"error": {"code": "401", "http_code": "GEN-UNAUTHORIZED", "message": "Unauthorized."}})


def unauthorized_scope(scope: str) -> LoopHTTPError:
    """A known key without the scope this route needs: also 401, as Loop does."""
    return action_error(401, "NOT_AUTHORIZED", f"This API key does not have the {scope} scope.")
