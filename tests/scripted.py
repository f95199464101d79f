"""A scripted HTTP server on loopback for transport-level tests.

Each test queues the answers it wants (status, body, headers) per path; the server records
every request it receives (method, path, query, headers, body) so tests can assert on the
wire format. Unscripted requests get ``true``.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import attrs
from aiohttp import web
from yarl import URL

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@attrs.define
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


@attrs.define
class ScriptedServer:
    url: URL
    requests: list[Recorded] = attrs.field(factory=list)
    script: dict[str, deque[Handler]] = attrs.field(factory=lambda: defaultdict(deque))
    arrived: asyncio.Event = attrs.field(factory=asyncio.Event)

    def answer(
        self,
        path: str,
        body: Any = True,
        *,
        status: int = 200,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
        content_type: str = "application/json",
        times: int = 1,
    ) -> None:
        """Queue ``times`` answers for ``path`` (the path after the API root, e.g. ``/warehouse/...``)."""
        import json

        payload = raw if raw is not None else json.dumps(body).encode()

        async def handler(_: web.Request) -> web.StreamResponse:
            return web.Response(status=status, body=payload, headers=headers, content_type=content_type)

        for _ in range(times):
            self.script[path].append(handler)

    def handle(self, path: str, handler: Handler, *, times: int = 1) -> None:
        """Queue a custom handler for ``path``."""
        for _ in range(times):
            self.script[path].append(handler)

    def paths(self) -> list[str]:
        return [r.path for r in self.requests]


API_ROOT = "/api/v1"


@asynccontextmanager
async def scripted_server() -> AsyncIterator[ScriptedServer]:
    """Start a scripted server on 127.0.0.1 (free port); stop it on exit."""
    server_ref: list[ScriptedServer] = []

    async def catch_all(request: web.Request) -> web.StreamResponse:
        server = server_ref[0]
        body = await request.read()
        server.requests.append(Recorded(request.method, request.path, dict(request.query), dict(request.headers), body))
        server.arrived.set()
        path = request.path.removeprefix(API_ROOT)
        queue = server.script.get(path)
        if queue:
            return await queue.popleft()(request)
        return web.json_response(True)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", catch_all)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    server = ScriptedServer(url=URL(f"http://127.0.0.1:{port}"))
    server_ref.append(server)
    try:
        yield server
    finally:
        await runner.cleanup()
