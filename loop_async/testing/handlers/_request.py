"""What every handler reads from a request: a numeric path parameter, a JSON object body, its route.

Refusals are Loop's error bodies (:mod:`..error_bodies`), raised as :class:`LoopHTTPError`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from loop_async._sansio import json as _json
from loop_async.testing.error_bodies import action_error, validation_error

__all__ = ["Handler", "Route", "int_param", "json_object", "parse_object", "route_key"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
#: ``(method, path template under /api/{version}, scope needed, handler)``.
Route = tuple[str, str, str, Handler]


def int_param(request: web.Request, name: str) -> int:
    """The numeric path parameter ``name``; anything else is Loop's 404."""
    value = request.match_info[name]
    if not value.isdigit():
        raise action_error(404, "NOT_FOUND", f"No resource {value!r}.")
    return int(value)


async def json_object(request: web.Request, *, required: bool = False) -> dict[str, Any]:
    """The request's body as a JSON object (``{}`` when empty and not ``required``)."""
    return parse_object(await request.read(), required=required)


def parse_object(raw: bytes, *, required: bool = False) -> dict[str, Any]:
    """``raw`` as a JSON object, or Loop's 400 validation error."""
    if not raw.strip():
        if required:
            raise validation_error({"body": ["A JSON object body is required."]}, status=400)
        return {}
    try:
        data = _json.loads(raw)
    except ValueError:
        raise validation_error({"body": ["The body is not valid JSON."]}, status=400) from None
    if not isinstance(data, dict):
        raise validation_error({"body": ["The body must be a JSON object."]}, status=400)
    return data


def route_key(request: web.Request) -> str:
    """``"METHOD /api/{version}/template"``: the route a request matched (its path if none)."""
    resource = getattr(request.match_info.route, "resource", None)
    template = resource.canonical if resource is not None else request.path
    return f"{request.method} {template}"
