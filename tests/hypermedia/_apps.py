"""Small aiohttp.web state machines for the hypermedia tests (none of them is about returns).

``DoorApp`` serves doors in Loop's ``links[]`` format: closed -> open -> closed -> locked,
with a rel family (``knock-{n}``), an enum field, a partial failure (blue paint), a DELETE
with a query, an optional off-origin link, dropped connections on demand and in-flight
counting per door.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import attrs
from aiohttp import web
from aiohttp.test_utils import TestServer
from yarl import URL

from loop_async._sansio.outcome import ReconcilePolicy
from loop_async._sansio.retry import RetryPolicy
from loop_async._transport import Transport
from loop_async.hypermedia import LoopLinksFormat, Navigator

ROOT = "/api/v1"


@attrs.frozen
class Door:
    id: int
    state: str
    color: str
    opened: int
    knocks: int


def decode_door(data: Any) -> Door:
    return Door(**data["door"])


class DoorApp:
    def __init__(self, *, evil: bool = False) -> None:
        self.evil = evil
        self.doors: dict[int, dict[str, Any]] = {}
        self.effects: Counter[tuple[str, int]] = Counter()
        self.requests: list[tuple[str, str, dict[str, str], Any]] = []
        self.drop_after: Counter[str] = Counter()  # action -> how many times to drop after acting
        self.drop_before: Counter[str] = Counter()
        self.inflight: Counter[int] = Counter()
        self.max_inflight: Counter[int] = Counter()
        self.max_total_inflight = 0
        self.hold_for: int | None = None  # hold each action until this many are in flight ...
        self.hold_timeout = 0.0  # ... or this many seconds passed
        self._inflight_changed = asyncio.Event()
        self.app = web.Application()
        self.app.router.add_post(f"{ROOT}/doors", self.create)
        self.app.router.add_get(f"{ROOT}/doors/{{id}}", self.read)
        self.app.router.add_post(f"{ROOT}/doors/{{id}}/knock/{{n}}", self.knock)
        self.app.router.add_delete(f"{ROOT}/doors/{{id}}/sign", self.remove_sign)
        self.app.router.add_post(f"{ROOT}/doors/{{id}}/{{action}}", self.act)

    # -- rendering ---------------------------------------------------------------------------

    def render(self, request: web.Request, door_id: int, errors: list[dict[str, str]] | None = None) -> web.Response:
        door = self.doors[door_id]
        base = request.url.origin().with_path(f"{ROOT}/doors/{door_id}")
        links: list[dict[str, Any]] = []
        if door["state"] == "closed":
            links.append(
                {"rel": "open", "href": str(base / "open"), "method": "POST", "is_required": door["opened"] == 0}
            )
            links.append(
                {
                    "rel": "lock",
                    "href": str(base / "lock"),
                    "method": "POST",
                    "is_required": door["opened"] > 0,
                    "fields": [
                        {"name": "code", "type": "string", "is_required": True},
                        {"name": "bolts", "type": "int", "allowed_values": [1, 2, 3]},
                    ],
                }
            )
            links.append(
                {
                    "rel": "paint",
                    "href": str(base / "paint"),
                    "method": "POST",
                    "fields": [
                        {"name": "color", "type": "enum", "allowed_values": ["red", "blue"], "is_required": True},
                        {"name": "glossy", "type": "bool"},
                    ],
                }
            )
            for n in (1, 2):
                links.append(
                    {
                        "rel": f"knock-{n}",
                        "href": str(base / "knock" / str(n)),
                        "method": "POST",
                        "fields": [{"name": "times", "type": "int", "is_required": True}],
                    }
                )
            if door["sign"]:
                links.append(
                    {
                        "rel": "remove-sign",
                        "href": str(base / "sign"),
                        "method": "DELETE",
                        "fields": [{"name": "reason", "type": "string"}],
                    }
                )
            if self.evil:
                links.append({"rel": "escape", "href": "http://evil.example.test/steal", "method": "POST"})
        elif door["state"] == "open":
            links.append({"rel": "close", "href": str(base / "close"), "method": "POST", "is_required": True})
        public = {k: v for k, v in door.items() if k != "sign"}
        return web.json_response({"door": public, "links": links, "errors": errors or []})

    # -- handlers ----------------------------------------------------------------------------

    async def create(self, request: web.Request) -> web.Response:
        door_id = len(self.doors) + 1
        self.doors[door_id] = {
            "id": door_id,
            "state": "closed",
            "color": "white",
            "opened": 0,
            "knocks": 0,
            "sign": True,
        }
        return self.render(request, door_id)

    async def read(self, request: web.Request) -> web.Response:
        self.requests.append(("GET", request.path, dict(request.query), None))
        return self.render(request, int(request.match_info["id"]))

    async def _enter(self, request: web.Request, action: str) -> tuple[int, Any]:
        door_id = int(request.match_info["id"])
        body = await request.json() if request.can_read_body else None
        self.requests.append((request.method, request.path, dict(request.query), body))
        if self.drop_before[action] > 0:
            self.drop_before[action] -= 1
            self._drop(request)
        self.inflight[door_id] += 1
        self.max_inflight[door_id] = max(self.max_inflight[door_id], self.inflight[door_id])
        total = sum(self.inflight.values())
        self.max_total_inflight = max(self.max_total_inflight, total)
        self._inflight_changed.set()
        if self.hold_for is not None:
            with contextlib.suppress(TimeoutError, asyncio.TimeoutError):
                await asyncio.wait_for(self._wait_total(self.hold_for), self.hold_timeout)
        return door_id, body

    async def _wait_total(self, target: int) -> None:
        # Until that many were in flight at once (not "are now": the first may finish meanwhile).
        while self.max_total_inflight < target:
            self._inflight_changed.clear()
            await self._inflight_changed.wait()

    def _leave(self, request: web.Request, door_id: int, action: str) -> None:
        self.inflight[door_id] -= 1
        self.effects[(action, door_id)] += 1
        if self.drop_after[action] > 0:
            self.drop_after[action] -= 1
            self._drop(request)

    @staticmethod
    def _drop(request: web.Request) -> None:
        assert request.transport is not None
        request.transport.abort()
        raise ConnectionResetError("dropped on purpose")

    async def act(self, request: web.Request) -> web.Response:
        action = request.match_info["action"]
        door_id, body = await self._enter(request, action)
        door = self.doors[door_id]
        errors: list[dict[str, str]] = []
        if action == "open":
            door.update(state="open", opened=door["opened"] + 1)
        elif action == "close":
            door["state"] = "closed"
        elif action == "lock":
            door["state"] = "locked"
        elif action == "paint":
            door["color"] = body["color"]
            if body["color"] == "blue":
                errors.append({"code": "paint-shortage", "message": "only one coat applied"})
        else:
            raise web.HTTPNotFound
        self._leave(request, door_id, action)
        return self.render(request, door_id, errors)

    async def knock(self, request: web.Request) -> web.Response:
        door_id, body = await self._enter(request, "knock")
        self.doors[door_id]["knocks"] += body["times"] * int(request.match_info["n"])
        self._leave(request, door_id, "knock")
        return self.render(request, door_id)

    async def remove_sign(self, request: web.Request) -> web.Response:
        door_id, _ = await self._enter(request, "remove-sign")
        self.doors[door_id]["sign"] = False
        self._leave(request, door_id, "remove-sign")
        return web.Response(status=204)


@contextlib.asynccontextmanager
async def serve(
    app: web.Application, *, root: str = ROOT, max_retries: int = 2
) -> AsyncIterator[tuple[TestServer, Transport]]:
    """Run ``app`` on loopback port 0 and give a transport whose API root is on it."""
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    transport = Transport(
        api_key="secret-test-key",
        api_root=server.make_url(root),
        timeout=aiohttp.ClientTimeout(total=5),
        retry=RetryPolicy(max_retries=max_retries, backoff_base=0.0),
        limiter=None,
        max_concurrency=8,
        max_response_bytes=1 << 20,
        user_agent="loop-async-tests",
        reconcile=ReconcilePolicy(reads=2, interval=0),  # settle at once: the test servers are not slow
    )
    try:
        yield server, transport
    finally:
        await transport.aclose()
        await server.close()


async def new_door(transport: Transport) -> Navigator[Door]:
    """Create a door and return a navigator over it (the resource layer's job for real APIs)."""
    response = await transport.request("POST", transport.url("doors"), json={})
    door_id = response.data["door"]["id"]
    return Navigator(
        transport,
        response,
        format=LoopLinksFormat(),
        decode=decode_door,
        self_url=transport.url("doors", door_id),
        key=("door", door_id),
        created=True,
    )


def door_url(transport: Transport, door_id: int, *segments: str) -> URL:
    return transport.url("doors", door_id, *segments)
