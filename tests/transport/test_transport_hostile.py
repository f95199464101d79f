"""The transport against servers that misbehave on purpose (issue 12, points 7-12).

Redirects of unsafe methods, parse bombs (memory measured in a subprocess), the API key in
traceback locals and in echoed error texts, ``retry_after`` on a 5xx, a query in a raw path,
and aiohttp's silent re-send on a reset keep-alive connection. Raw ``asyncio`` servers play
the parts aiohttp.web cannot.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import asynccontextmanager
from types import FrameType
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from loop_async import (
    AuthenticationError,
    DecodeError,
    LoopAPIError,
    LoopClient,
    LoopError,
    LoopTimeoutError,
    RedirectError,
    RetryPolicy,
    ServerError,
    TokenBucketLimiter,
    TransportError,
    UnsafeLinkError,
)
from loop_async.webhooks import SIGNATURE_HEADER, WebhookRouter, compute_signature, webhook_handler
from tests.scripted import ScriptedServer

KEY = "sk_live_HOSTILE-5e4d3c2b1a09"  # a module constant: a local of a test frame would be found
FAST = RetryPolicy(max_retries=2, backoff_base=0.001, backoff_max=0.01)
BOUND = 10.0
NOTES = "/warehouse/return/7/notes"

Conversation = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def raw_server(conversation: Conversation) -> AsyncIterator[str]:
    """A raw TCP server on loopback running ``conversation`` per connection; yields its base URL."""
    tasks: set[asyncio.Task[None]] = set()

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        try:
            await conversation(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            tasks.discard(task)

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()


async def read_request(reader: asyncio.StreamReader) -> bytes:
    """One HTTP/1.1 request (head and a Content-Length body)."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return head + (await reader.readexactly(length) if length else b"")


def http_answer(status: int, body: bytes, *, content_type: str = "application/json", close: bool = False) -> bytes:
    extra = b"Connection: close\r\n" if close else b""
    return (
        f"HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n".encode()
        + extra
        + b"\r\n"
        + body
    )


# -- 7. redirects ----------------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("method", ["POST", "PATCH", "PUT", "DELETE"])
async def test_an_unsafe_method_is_never_re_sent_by_a_redirect(
    client: LoopClient, scripted: ScriptedServer, status: int, method: str
) -> None:
    location = "/api/v1/elsewhere"
    scripted.answer("/action", None, status=status, headers={"Location": location})
    with pytest.raises(RedirectError) as info:
        await client.request(method, "action", json={"refund": 1})
    assert scripted.paths() == ["/api/v1/action"]  # nothing re-sent, neither as itself nor as a GET
    error = info.value
    assert error.location == location
    assert location in str(error)
    assert (error.status, error.method) == (status, method)
    assert isinstance(error, LoopAPIError)


async def test_a_same_origin_redirect_loop_is_bounded_and_typed(client: LoopClient, scripted: ScriptedServer) -> None:
    scripted.answer("/a", None, status=302, headers={"Location": "/api/v1/b"}, times=10)
    scripted.answer("/b", None, status=302, headers={"Location": "/api/v1/a"}, times=10)
    with pytest.raises(RedirectError) as info:
        await client.request("GET", "a")
    assert len(scripted.requests) == 6  # the request and 5 hops
    assert "redirects" in str(info.value)
    # A 307 loop after a POST: sent once, not six times.
    scripted.requests.clear()
    with pytest.raises(RedirectError):
        await client.request("POST", "a", json={})
    assert len(scripted.requests) == 1


NGINX_301 = b"<html><head><title>301 Moved Permanently</title></head><body><center>nginx</center></body></html>"


async def test_a_redirect_body_is_never_parsed(client: LoopClient, scripted: ScriptedServer) -> None:
    moved = {"Location": "/api/v1/warehouse/return/8/notes"}
    scripted.answer(NOTES, status=301, headers=moved, raw=NGINX_301, content_type="text/html")
    scripted.answer("/warehouse/return/8/notes", {"notes": []})
    assert await client.returns.list_notes(7) == []  # followed, the HTML never parsed
    scripted.answer("/action", status=301, headers=moved, raw=NGINX_301, content_type="text/html")
    with pytest.raises(RedirectError):  # not DecodeError
        await client.request("POST", "action", json={})
    scripted.answer("/nowhere", status=302, raw=NGINX_301, content_type="text/html")
    with pytest.raises(RedirectError) as info:
        await client.request("GET", "nowhere")
    assert info.value.location is None


# -- 8. parse bombs ----------------------------------------------------------------------------

# A child process: a raw server answers one request with ``BODY``; the client reads it; the
# child prints what was raised and how much its peak RSS grew while reading and parsing.
_CHILD = textwrap.dedent(
    """
    import asyncio, json, resource, sys
    if sys.argv[1] == "stdlib":
        sys.modules["orjson"] = None  # as if the speedups extra were not installed
    from loop_async import LoopClient, LoopError
    from loop_async._sansio import json as _json

    STATUS = int(sys.argv[2])
    BODY = {"bomb": b"[" + b"[]," * 5_499_999 + b"[]]", "deep": b"[" * 100_000 + b"]" * 100_000}[sys.argv[3]]

    async def answer(reader, writer):
        await reader.readuntil(b"\\r\\n\\r\\n")
        head = f"HTTP/1.1 {STATUS} X\\r\\nContent-Type: application/json\\r\\nContent-Length: {len(BODY)}\\r\\n\\r\\n"
        writer.write(head.encode() + BODY)
        await writer.drain()
        writer.close()

    def peak_mb():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    async def webhook():
        # The deep body, correctly signed, to the webhook receiver: the answer's status.
        import aiohttp
        from aiohttp import web
        from loop_async.webhooks import SIGNATURE_HEADER, WebhookRouter, compute_signature, webhook_handler
        app = web.Application()
        app.router.add_post("/hook", webhook_handler(WebhookRouter(), "whsec_CHILD"))
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        body = b'{"topic":"return","trigger":"return.closed","x":' + BODY + b"}"
        headers = {SIGNATURE_HEADER: compute_signature("whsec_CHILD", body)}
        async with aiohttp.ClientSession() as http:
            async with http.post(f"http://127.0.0.1:{runner.addresses[0][1]}/hook", data=body, headers=headers) as r:
                status = r.status
        await runner.cleanup()
        print(json.dumps({"backend": _json.backend, "raised": f"HTTP {status}", "growth_mb": 0}))

    async def main():
        if sys.argv[4:] == ["webhook"]:
            return await webhook()
        server = await asyncio.start_server(answer, "127.0.0.1", 0)
        url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        async with LoopClient("sk_test_CHILD-0123456789", base_url=url, rate_limit=None, max_retries=0) as loop:
            before = peak_mb()
            try:
                await loop.request("GET", "bomb")
                raised = None
            except LoopError as exc:
                raised = type(exc).__name__
            except BaseException as exc:
                raised = "escaped " + type(exc).__name__
        server.close()
        print(json.dumps({"backend": _json.backend, "raised": raised, "growth_mb": peak_mb() - before}))

    asyncio.run(main())
    """
)


def run_child(backend: str, status: int, body: str, *mode: str) -> dict[str, Any]:
    if backend == "orjson":
        pytest.importorskip("orjson")
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, backend, str(status), body, *mode], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


@pytest.mark.parametrize("backend", ["orjson", "stdlib"])
@pytest.mark.parametrize(("status", "expected"), [(200, "DecodeError"), (500, "ServerError")])
def test_a_parse_bomb_under_the_byte_cap_is_refused_before_it_is_parsed(
    backend: str, status: int, expected: str
) -> None:
    # 16.5 MB of ``[[],[],...]`` (under the 16 MiB cap) parsed to ~495 MB before; refusing it
    # costs the body's own copies.
    result = run_child(backend, status, "bomb")
    assert result["backend"] == ("json" if backend == "stdlib" else "orjson")
    assert result["raised"] == expected
    assert result["growth_mb"] < 150, result


@pytest.mark.parametrize("backend", ["orjson", "stdlib"])
def test_a_100k_deep_body_is_a_decode_error_not_a_recursion_error(backend: str) -> None:
    result = run_child(backend, 200, "deep")
    assert result["raised"] == "DecodeError", result


class RecordingExecutor(concurrent.futures.ThreadPoolExecutor):
    """The event loop's default executor, recording what was run in it."""

    def __init__(self) -> None:
        super().__init__(max_workers=2)
        self.ran: list[str] = []

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[Any]:
        self.ran.append(repr(args))
        return super().submit(fn, *args, **kwargs)


async def test_a_large_body_is_parsed_off_the_event_loop(client: LoopClient, scripted: ScriptedServer) -> None:
    scripted.answer("/big", [{"id": n, "body": "x" * 100} for n in range(5000)])  # ~600 KB
    scripted.answer("/small", [])
    executor = RecordingExecutor()
    loop = asyncio.get_running_loop()
    loop.set_default_executor(executor)
    try:
        assert len((await client.request("GET", "big")).data) == 5000
        parsed_in_thread = len(executor.ran)
        assert (await client.request("GET", "small")).data == []
    finally:
        executor.shutdown(wait=True)
    assert parsed_in_thread == 1  # the large body went to a worker thread
    assert len(executor.ran) == 1  # the small one did not


@pytest.mark.parametrize("backend", ["orjson", "stdlib"])
def test_a_signed_deep_webhook_body_is_a_4xx_never_a_500(backend: str) -> None:
    # Without orjson it raised RecursionError inside the receiver: a 500, redelivered by Loop.
    assert run_child(backend, 200, "deep", "webhook")["raised"] == "HTTP 400"


async def test_a_signed_webhook_body_nested_past_the_bound_is_refused() -> None:
    secret = "whsec_HOSTILE"
    handled: list[object] = []
    router = WebhookRouter()

    @router.on_any()
    async def anything(event: Any) -> None:
        handled.append(event)

    app = web.Application()
    app.router.add_post("/hook", webhook_handler(router, secret))
    # 500 deep: orjson would parse it (its own bound is 1024); the SDK's bound is 128.
    deep = b'{"topic":"return","trigger":"return.closed","x":' + b"[" * 500 + b"]" * 500 + b"}"
    headers = {SIGNATURE_HEADER: compute_signature(secret, deep), "Content-Type": "application/json"}
    async with (
        TestServer(app, host="127.0.0.1") as receiver,
        aiohttp.ClientSession() as http,
        http.post(receiver.make_url("/hook"), data=deep, headers=headers) as resp,
    ):
        assert resp.status == 400
    assert handled == []


# -- 9. the key in traceback locals -------------------------------------------------------------


def frames_of(exc: BaseException) -> Iterator[FrameType]:
    """Every frame in the tracebacks of ``exc`` and of its whole chain."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        tb = current.__traceback__
        while tb is not None:
            yield tb.tb_frame
            tb = tb.tb_next
        todo += [current.__cause__, current.__context__]


def shown(value: object, depth: int = 0) -> Iterator[str]:
    """What an error reporter would record of a local: its repr, and a mapping's or sequence's items."""
    yield repr(value)
    if depth > 3:
        return
    if isinstance(value, Mapping) or (hasattr(value, "items") and callable(value.items)):
        try:
            items = list(value.items())  # type: ignore[union-attr]
        except Exception:  # not a mapping after all
            items = []
        for k, v in items:
            yield from shown(k, depth + 1)
            yield from shown(v, depth + 1)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from shown(item, depth + 1)


def assert_no_key_in_locals(exc: BaseException) -> int:
    frames = 0
    for frame in frames_of(exc):
        frames += 1
        for name, value in frame.f_locals.items():
            for text in shown(value):
                assert KEY not in text, f"the key is in local {name!r} of {frame.f_code.co_name}"
    return frames


async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await read_request(reader)
    await asyncio.Event().wait()  # never answers


async def reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await read_request(reader)
    writer.transport.abort()


async def unauthorized(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await read_request(reader)
    writer.write(http_answer(401, b'{"message": "Unauthorized"}', close=True))
    await writer.drain()


async def html_200(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await read_request(reader)
    writer.write(http_answer(200, b"<html>maintenance</html>", content_type="text/html", close=True))
    await writer.drain()


@pytest.mark.parametrize(
    ("conversation", "expected"),
    [(silent, LoopTimeoutError), (reset, TransportError), (unauthorized, AuthenticationError), (html_200, DecodeError)],
)
async def test_no_frame_of_a_real_error_holds_the_key(conversation: Conversation, expected: type[LoopError]) -> None:
    async with (
        raw_server(conversation) as url,
        LoopClient(KEY, base_url=url, rate_limit=None, max_retries=0, timeout=0.3) as loop,
    ):
        with pytest.raises(expected) as info:
            await asyncio.wait_for(loop.request("POST", "x", json={"a": 1}), BOUND)
    assert assert_no_key_in_locals(info.value) >= 2


async def test_a_cancelled_request_leaves_the_key_in_no_frame() -> None:
    """Cancelled inside aiohttp: the traceback runs through aiohttp's own frames."""
    async with raw_server(silent) as url, LoopClient(KEY, base_url=url, rate_limit=None) as loop:
        with pytest.raises(asyncio.TimeoutError) as info:  # the builtin one from Python 3.11
            await asyncio.wait_for(loop.request("GET", "x"), 0.3)
    frames = assert_no_key_in_locals(info.value)
    names = {(frame.f_globals.get("__name__"), frame.f_code.co_name) for frame in frames_of(info.value)}
    assert ("aiohttp.client", "_request") in names, names  # aiohttp's own frames were walked
    assert frames >= 5


# -- 10. a key echoed by the server -------------------------------------------------------------

ECHOES: list[tuple[int, dict[str, str], bytes]] = [
    (401, {}, json.dumps({"errors": {"message": f"Unauthorized: key {KEY} is invalid"}}).encode()),
    (200, {}, json.dumps({"errors": [{"code": KEY, "message": f"bad {KEY}", "field": KEY}]}).encode()),
    (200, {}, b'{"message": "key \\u0073' + KEY[1:].encode() + b' is invalid"}'),  # escaped in the JSON
    (500, {"X-Debug": f"key={KEY}"}, f"<html>key {KEY} rejected</html>".encode()),
    (200, {}, f"<html>hello {KEY}</html>".encode()),
    (302, {"Location": f"https://evil.example/?key={KEY}"}, b""),
    (302, {"Location": f"/api/v1/next?key={KEY}"}, b""),
]


@pytest.mark.parametrize(("status", "headers", "body"), ECHOES)
async def test_a_key_echoed_by_the_server_is_scrubbed_before_raising(
    scripted: ScriptedServer, status: int, headers: dict[str, str], body: bytes
) -> None:
    scripted.answer("/x", status=status, headers=headers, raw=body)
    async with LoopClient(KEY, base_url=scripted.url, rate_limit=None, max_retries=0) as loop:
        with pytest.raises(LoopError) as info:
            await loop.request("POST", "x", json={})
    error = info.value
    texts = [str(error), repr(error), repr(error.args), repr(vars(error)), repr(getattr(error, "__notes__", []))]
    if isinstance(error, LoopAPIError):
        texts += [repr(error.errors), repr(error.codes)]
        if error.response is not None:
            texts += [error.response.content.decode(), repr(dict(error.response.headers)), repr(error.response.data)]
    if isinstance(error, DecodeError):
        texts.append(repr(error.excerpt))
    for text in texts:
        assert KEY not in text
    assert "***" in " ".join(texts)  # scrubbed, not dropped


# -- 11. retry_after on a 5xx; a query in a raw path ----------------------------------------------


async def test_a_503_with_a_long_retry_after_keeps_it(client: LoopClient, scripted: ScriptedServer) -> None:
    scripted.answer(NOTES, {"message": "maintenance"}, status=503, headers={"Retry-After": "3600"})
    with pytest.raises(ServerError) as info:
        await client.returns.list_notes(7)
    assert info.value.retry_after == 3600
    assert len(scripted.requests) == 1  # too long to wait for: raised at once


async def test_a_query_in_a_raw_path_is_merged_with_params(client: LoopClient, scripted: ScriptedServer) -> None:
    scripted.answer("/warehouse/return/details", {"id": 1})
    await client.request("GET", "warehouse/return/details?return_id=1&email=a%40b.example")
    await client.request("GET", "warehouse/return/details?return_id=1&state=open", params={"state": "closed"})
    first, second = scripted.requests
    assert first.path == second.path == "/api/v1/warehouse/return/details"
    assert first.query == {"return_id": "1", "email": "a@b.example"}
    assert second.query == {"return_id": "1", "state": "closed"}  # params win


# -- 12. aiohttp's silent re-send on a reset keep-alive connection -----------------------------------


class CountingLimiter(TokenBucketLimiter):
    """A real limiter that counts the slots it hands out."""

    acquired = 0

    async def acquire(self, *args: Any, **kwargs: Any) -> Any:
        self.acquired += 1
        return await super().acquire(*args, **kwargs)


async def test_every_attempt_on_the_wire_is_counted_and_rate_limited() -> None:
    on_the_wire = 0

    async def keep_alive_then_drop(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # Answers the first request of a connection and keeps it open; reads the second, then
        # drops the connection without answering: a pooled connection reset under the client.
        nonlocal on_the_wire
        await read_request(reader)
        on_the_wire += 1
        writer.write(http_answer(200, b"true"))
        await writer.drain()
        await read_request(reader)
        on_the_wire += 1
        writer.transport.abort()

    limiter = CountingLimiter(6000, burst=10)
    async with (
        raw_server(keep_alive_then_drop) as url,
        LoopClient(KEY, base_url=url, rate_limiter=limiter, retry_policy=FAST) as loop,
    ):
        await loop.request("GET", "one")
        await loop.request("GET", "two")  # the pooled connection is dropped: sent again
        stats = dict(loop.stats)
    assert on_the_wire == 3
    assert stats == {"requests": 3, "retries": 1}
    assert limiter.acquired == 3


async def test_an_unsafe_request_on_a_reset_connection_is_not_re_sent() -> None:
    requests: list[bytes] = []

    async def keep_alive_then_drop(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        requests.append(await read_request(reader))
        writer.write(http_answer(200, b"true"))
        await writer.drain()
        requests.append(await read_request(reader))
        writer.transport.abort()

    async with (
        raw_server(keep_alive_then_drop) as url,
        LoopClient(KEY, base_url=url, rate_limit=None, retry_policy=FAST) as loop,
    ):
        await loop.request("GET", "one")
        with pytest.raises(TransportError) as info:
            await loop.request("POST", "two", json={"refund": 1})
        assert loop.stats["requests"] == 2
    assert len(requests) == 2
    assert info.value.request_sent is not False


async def test_off_origin_redirect_of_a_post_is_refused_as_unsafe(client: LoopClient, scripted: ScriptedServer) -> None:
    scripted.answer("/x", None, status=307, headers={"Location": "http://127.0.0.2:9/steal"})
    with pytest.raises(UnsafeLinkError):
        await client.request("POST", "x", json={})
    assert len(scripted.requests) == 1
