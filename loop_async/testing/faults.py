"""Fault injection: make the fake server misbehave on purpose, N times, per route or globally.

``server.faults.inject(kind, route=..., times=...)`` (or ``inject_spec("kind,route=...,times=2")``,
the form ``fake-server --fault`` takes); the middleware from :func:`fault_middleware` consumes one
fault per matching request. The kinds are :data:`FAULT_KINDS`: ``status``, ``slow_after_read``,
``act_then_drop``, ``drop_before_read``, ``late_effect``, ``volatile_context``, ``delay``,
``truncated``, ``malformed``, ``html``, ``invalid_utf8``, ``large_body``, ``array``, ``error200``;
what each does is in ``docs/testing.md`` ("Fault injection").
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import attrs
from aiohttp import web

from loop_async.testing.error_bodies import json_response

__all__ = ["FAULT_ALIASES", "FAULT_KINDS", "LARGE_BODY_BYTES", "Fault", "FaultInjector", "RouteKey", "parse_fault_spec"]

#: Old names of fault kinds, kept working.
FAULT_ALIASES = {"drop_before": "drop_before_read", "drop_after": "act_then_drop"}
FAULT_KINDS = frozenset(
    {
        "status",
        "slow_after_read",
        "act_then_drop",
        "drop_before_read",
        "late_effect",
        "volatile_context",
        *FAULT_ALIASES,
        "delay",
        "truncated",
        "malformed",
        "html",
        "invalid_utf8",
        "large_body",
        "array",
        "error200",
    }
)
LARGE_BODY_BYTES = 6 * 1024 * 1024

#: Computes the "METHOD /route/template" key of a request (as in ``server.request_counts``).
RouteKey = Callable[[web.Request], str]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _without_api_root(route_key: str) -> str:
    method, _, path = route_key.partition(" ")
    parts = path.split("/", 3)  # "", "api", version, rest
    if len(parts) == 4 and parts[1] == "api":
        return f"{method} /{parts[3]}"
    return route_key


@attrs.define
class Fault:
    """One injected fault; ``remaining`` counts down to 0 as requests consume it."""

    kind: str
    route: str | None = None
    times: int = 1
    status: int = 503
    retry_after: str | None = None
    delay: float = 0.0
    body: Any = None
    remaining: int = attrs.field(init=False)
    fired: int = attrs.field(init=False, default=0)

    def __attrs_post_init__(self) -> None:
        self.remaining = self.times

    def matches(self, route_key: str) -> bool:
        """Whether this fault applies to a request on ``route_key``.

        ``route`` may name the full key ("POST /api/v1/draft-returns") or leave out the API
        root ("POST /draft-returns"), which then matches every API version.
        """
        if self.remaining <= 0:
            return False
        return self.route is None or self.route in (route_key, _without_api_root(route_key))


class FaultInjector:
    """The faults waiting to fire, in the order they were injected."""

    def __init__(self, on_volatile: Callable[[web.Request], None] | None = None) -> None:
        self.pending: list[Fault] = []
        self.fired: list[tuple[str, str]] = []  # (kind, route key) of each fault that fired
        #: Called by ``volatile_context`` faults: the server changes its volatile context there.
        self.on_volatile = on_volatile
        #: Effects still to be applied (``slow_after_read``, ``late_effect``): awaited by ``server.wait_idle()``.
        self.effects: set[asyncio.Task[Any]] = set()

    async def settle(self) -> None:
        """Wait until every delayed effect has been applied."""
        while pending := [task for task in self.effects if not task.done()]:
            await asyncio.gather(*pending, return_exceptions=True)

    async def aclose(self) -> None:
        """Cancel the delayed effects not applied yet (the server is stopping)."""
        for task in list(self.effects):
            task.cancel()
        await asyncio.gather(*list(self.effects), return_exceptions=True)

    def inject_spec(self, spec: str) -> Fault:
        """Inject a fault from text: ``"kind,route=POST /draft-returns,times=2,delay=1.5,status=504"``."""
        kind, options = parse_fault_spec(spec)
        return self.inject(kind, **options)

    def inject(
        self,
        kind: str,
        *,
        route: str | None = None,
        times: int = 1,
        status: int = 503,
        retry_after: str | float | None = None,
        delay: float = 0.0,
        body: Any = None,
    ) -> Fault:
        """Make the next ``times`` requests on ``route`` ("METHOD /template", ``None`` = any) fail as ``kind``.

        ``body`` overrides the JSON error body of ``status`` and ``error200`` faults.
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; known: {', '.join(sorted(FAULT_KINDS))}")
        kind = FAULT_ALIASES.get(kind, kind)
        if kind == "late_effect" and status == 503:
            status = 504  # the default of ``status`` faults; a gateway gives up with 504
        if times < 1:
            raise ValueError(f"times must be at least 1, got {times}")
        header = None if retry_after is None else str(retry_after)
        fault = Fault(kind, route, times, status, header, delay, body)
        self.pending.append(fault)
        return fault

    def clear(self) -> None:
        """Forget every pending fault."""
        self.pending.clear()

    def take(self, route_key: str) -> Fault | None:
        """Consume one firing of the first fault matching ``route_key``, if any."""
        for fault in self.pending:
            if fault.matches(route_key):
                fault.remaining -= 1
                fault.fired += 1
                if fault.remaining == 0:
                    self.pending.remove(fault)
                self.fired.append((fault.kind, route_key))
                return fault
        return None


def parse_fault_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """``"kind,route=...,times=N,status=N,delay=S,retry_after=S"`` -> ``(kind, options)`` for ``inject``."""
    kind, *parts = (part.strip() for part in spec.split(","))
    options: dict[str, Any] = {}
    converters: dict[str, Callable[[str], Any]] = {
        "route": str,
        "times": int,
        "status": int,
        "delay": float,
        "retry_after": str,
    }
    for part in parts:
        name, sep, value = part.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or name not in converters:
            raise ValueError(f"fault option {part!r} is not one of {', '.join(f'{n}=...' for n in converters)}")
        try:
            options[name] = converters[name](value.strip())
        except ValueError:
            raise ValueError(f"fault option {name} has a bad value {value!r}") from None
    if kind not in FAULT_KINDS:
        raise ValueError(f"unknown fault kind {kind!r}; known: {', '.join(sorted(FAULT_KINDS))}")
    return kind, options


class DroppedConnection(Exception):
    """Raised after the connection was dropped on purpose: there is no response to log."""


def _drop(request: web.Request) -> None:
    transport = request.transport
    if transport is not None:
        transport.abort()  # RST, no response bytes: the client sees a dropped connection


def _error_body(fault: Fault) -> Any:
    if fault.body is not None:
        return fault.body
    if fault.status == 429:
        return {"message": "Too Many Attempts."}
    return {"errors": {"message": f"Injected fault: HTTP {fault.status}", "code": "UNEXPECTED_ERROR"}}


def _in_background(injector: FaultInjector, coro: Awaitable[web.StreamResponse]) -> asyncio.Task[web.StreamResponse]:
    """Run ``coro`` (the handler: the effect) as a task of its own, so a client that leaves cannot stop it."""
    task: asyncio.Task[web.StreamResponse] = asyncio.ensure_future(coro)
    injector.effects.add(task)
    task.add_done_callback(injector.effects.discard)
    return task


async def _delayed(delay: float, request: web.Request, handler: Handler) -> web.StreamResponse:
    await asyncio.sleep(delay)
    return await handler(request)


async def apply_fault(
    fault: Fault, request: web.Request, handler: Handler, injector: FaultInjector
) -> web.StreamResponse:
    """Answer ``request`` as ``fault`` says (running ``handler`` for the kinds that do)."""
    kind = fault.kind
    if kind == "status":
        headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else None
        return json_response(_error_body(fault), status=fault.status, headers=headers)
    if kind == "drop_before_read":
        _drop(request)
        raise DroppedConnection
    if kind == "act_then_drop":
        await handler(request)
        _drop(request)
        raise DroppedConnection
    if kind == "slow_after_read":
        await request.read()  # the whole request is in: from here on the server acts, whoever waits
        # shield: the effect happens even if aiohttp cancels this handler when the client leaves
        return await asyncio.shield(_in_background(injector, _delayed(fault.delay, request, handler)))
    if kind == "late_effect":
        await request.read()
        _in_background(injector, _delayed(fault.delay, request, handler))
        return json_response(_error_body(fault), status=fault.status)
    if kind == "volatile_context":
        if injector.on_volatile is not None:
            injector.on_volatile(request)
        return await handler(request)
    if kind == "delay":
        await asyncio.sleep(fault.delay)
        return await handler(request)
    if kind == "truncated":
        real = await handler(request)
        body = real.body if isinstance(real, web.Response) and isinstance(real.body, bytes) else b'{"data": true}'
        return web.Response(body=body[: max(1, len(body) // 2)], status=real.status, content_type="application/json")
    if kind == "malformed":
        return web.Response(body=b"<<this is not json>>", content_type="application/json")
    if kind == "html":
        page = f"<html><head><title>{fault.status}</title></head><body><h1>{fault.status} Error</h1></body></html>"
        return web.Response(text=page, status=fault.status, content_type="text/html")
    if kind == "invalid_utf8":
        return web.Response(body=b'{"message": "\xff\xfe\xfd"}', content_type="application/json")
    if kind == "large_body":
        return web.Response(body=b'{"padding": "' + b"x" * LARGE_BODY_BYTES + b'"}', content_type="application/json")
    if kind == "array":
        return json_response([{"id": 1}, {"id": 2}])
    # error200
    error = fault.body if fault.body is not None else {"errors": {"message": "Injected error", "code": "NOT_FOUND"}}
    return json_response(error, status=200)


def fault_middleware(injector: FaultInjector, route_key: RouteKey) -> Any:
    """An aiohttp middleware that fires the injector's faults before the rest of the chain."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        fault = injector.take(route_key(request))
        if fault is None:
            return await handler(request)
        return await apply_fault(fault, request, handler, injector)

    return middleware
