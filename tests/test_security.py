"""Security promises (SECURITY.md), each checked against real loopback servers.

- The API key never appears in a log record (any logger, any level), in any exception's text,
  ``repr`` or attributes (following ``__cause__`` and ``__context__``), or in a ``repr``.
- A URL off the client's origin (another host or port, ``http`` under an ``https`` base, user
  info) is refused before anything is sent, whether it comes as a link, a page URL or a redirect.
- CR/LF in any string argument cannot add a header or smuggle a request.
- A redirect to another host never carries ``X-Authorization``: a second server plays that host.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import AsyncIterator, Awaitable, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import datetime, timedelta, timezone
from typing import Any

import attrs
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from yarl import URL

from loop_async import (
    AuthenticationError,
    BadRequestError,
    ClientClosedError,
    ConflictError,
    DecodeError,
    FieldValidationError,
    LoopAPIError,
    LoopClient,
    LoopError,
    LoopTimeoutError,
    NotFoundError,
    OutcomeUnknownError,
    PartialFailureError,
    PermissionDeniedError,
    RateLimitError,
    RelNotAvailableError,
    ResponseTooLargeError,
    RetryPolicy,
    ServerError,
    TransportError,
    UnprocessableEntityError,
    UnsafeLinkError,
)
from loop_async.models import Field, Link
from loop_async.models.enums import FieldType
from loop_async.testing import ALL_SCOPES, SCOPE_ORDERS, FakeLoopServer
from loop_async.webhooks import WebhookRouter, webhook_handler
from tests._draft_values import values_from_metadata
from tests.scripted import Recorded, scripted_server

KEY = "sk_live_SECRET-7f3a9c1e5b2d"
WRONG_KEY = "sk_live_WRONG-0b1c2d3e4f5a"
NARROW_KEY = "sk_live_NARROW-a1b2c3d4e5f6"
SECRETS = (KEY, WRONG_KEY, NARROW_KEY)
PROCESS = "POST /api/v1/warehouse/return/{return_id}/process"
NOTES = "GET /api/v1/warehouse/return/{return_id}/notes"
FAST = RetryPolicy(max_retries=2, backoff_base=0.001, backoff_max=0.01)
BOUND = 10.0


# -- the key in logs, exceptions and reprs ---------------------------------------------------


class Capture(logging.Handler):
    """Keeps every record of every logger, formatted the way a real log file would show it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        # The formatted line (with any traceback), and the raw arguments a structured logger would keep.
        self.texts.append(self.format(record) + repr(record.args) + repr(record.msg))


@contextmanager
def all_logging_at_debug() -> Iterator[Capture]:
    root = logging.getLogger()
    capture = Capture()
    named = [logging.getLogger(name) for name in ("loop_async", "loop_async.testing", "aiohttp", "asyncio")]
    saved = [(logger, logger.level) for logger in (root, *named)]
    root.addHandler(capture)
    root.setLevel(logging.DEBUG)
    for logger in named:
        logger.setLevel(logging.DEBUG)
    try:
        yield capture
    finally:
        root.removeHandler(capture)
        for logger, level in saved:
            logger.setLevel(level)


def exception_texts(exc: BaseException) -> Iterator[str]:
    """Everything an exception can show: str, repr, args, attributes, traceback; and its chain's."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield str(current)
        yield repr(current)
        yield repr(current.args)
        yield repr(getattr(current, "__dict__", {}))
        yield repr(getattr(current, "__notes__", []))
        yield "".join(traceback.format_exception(current))
        todo.extend(e for e in (current.__cause__, current.__context__) if e is not None)


class Errors:
    """Runs calls that must fail with a given type and keeps each exception for the scan."""

    def __init__(self) -> None:
        self.caught: list[BaseException] = []

    async def expect(self, kind: type[BaseException], call: Awaitable[Any]) -> None:
        # A return action whose outcome is uncertain raises OutcomeUnknownError around ``kind``.
        with pytest.raises((kind, OutcomeUnknownError)) as info:
            await asyncio.wait_for(call, BOUND)
        if isinstance(info.value, OutcomeUnknownError) and not issubclass(kind, OutcomeUnknownError):
            assert isinstance(info.value.error, kind), info.value
            self.caught.append(info.value.error)
        self.caught.append(info.value)


async def exercise_everything(server: FakeLoopServer, errors: Errors, webhook_url: str) -> list[str]:
    """Successes, retries, every error kind, navigator follows and webhooks; returns reprs to scan."""
    reprs: list[str] = []
    start = datetime.now(timezone.utc) - timedelta(days=1)
    end = datetime.now(timezone.utc) + timedelta(days=1)
    async with LoopClient(KEY, base_url=server.url, rate_limit=None, retry_policy=FAST, timeout=2) as loop:
        reprs += [repr(loop), str(loop), repr(loop._transport), repr(loop.rate_limiter)]
        ids = [server.seed_return() for _ in range(6)]
        # Successes.
        result = await loop.returns.process(ids[0])
        reprs += [repr(result), repr(result.response)]
        await loop.returns.create_note(ids[1], "checked")
        reprs.append(repr(await loop.returns.list_notes(ids[1])))
        await loop.returns.flag(ids[1], reason="box damaged")
        await loop.returns.cancel(ids[2], reason="duplicate")
        reprs.append(repr(await loop.returns.get(return_id=ids[3])))
        reprs.append(repr([r async for r in loop.returns.list(start, end, page_size=2)]))
        order = server.orders[0]
        reprs.append(repr(await loop.returns.deep_link(order_name=order.name, zip=order.zip)))
        # Retries (logged at DEBUG), then success.
        server.faults.inject("status", route=NOTES, status=503, times=2)
        server.faults.inject("status", route=PROCESS, status=429, retry_after="0")
        await loop.returns.list_notes(ids[1])
        await loop.returns.process(ids[4])
        # Every status error.
        for status, kind in [
            (400, BadRequestError),
            (401, AuthenticationError),
            (403, PermissionDeniedError),
            (404, NotFoundError),
            (409, ConflictError),
            (418, LoopAPIError),
            (422, UnprocessableEntityError),
            (500, ServerError),
            (502, ServerError),
            (504, ServerError),
        ]:
            server.faults.inject("status", route=PROCESS, status=status)
            await errors.expect(kind, loop.returns.process(ids[5]))
        server.faults.inject("status", route=PROCESS, status=429, retry_after="99999")
        await errors.expect(RateLimitError, loop.returns.process(ids[5]))
        server.faults.inject("status", route=NOTES, status=503, times=5)
        await errors.expect(ServerError, loop.returns.list_notes(ids[1]))
        server.faults.inject("error200", route=PROCESS)
        await errors.expect(NotFoundError, loop.returns.process(ids[5]))
        # Transport and body errors.
        server.faults.inject("drop_before", route=PROCESS)
        await errors.expect(TransportError, loop.returns.process(ids[5]))
        server.faults.inject("drop_after", route=NOTES, times=3)  # one per attempt: 1 + FAST's 2 retries
        await errors.expect(TransportError, loop.returns.list_notes(ids[1]))
        for kind in ("malformed", "truncated", "invalid_utf8", "array", "html"):
            server.faults.inject(kind, route=NOTES, status=200)
            await errors.expect(DecodeError, loop.returns.list_notes(ids[1]))
        # Client-side refusals.
        await errors.expect(FieldValidationError, loop.returns.process(-1))
        await errors.expect(FieldValidationError, loop.request("GET\r\nX: y", "x"))
        await errors.expect(UnsafeLinkError, loop.request("GET", URL("http://example.test/api/v1/x")))
        # Navigator follows: a whole draft return, a lost follow recovered, a partial failure.
        nav = await loop.draft_returns.create(order.name, order.zip)
        reprs += [repr(nav), repr(nav.resource)]
        while not nav.can("submit-draft-return"):
            link = nav.required[0]
            nav = await nav.follow_link(link, values_from_metadata(nav, link))
        assert nav.resource.context is not None
        variants = [v for p in nav.resource.context.cart_products for v in p.variants]
        several = attrs.evolve(
            nav.link("add-cart-item"), fields=(Field(name="variant_ids", type=FieldType("array"), is_required=True),)
        )
        good, bad = next(v.id for v in variants if v.available), next(v.id for v in variants if not v.available)
        await errors.expect(PartialFailureError, nav.follow_link(several, variant_ids=[good, bad], strict=True))
        with pytest.raises(RelNotAvailableError) as missing:
            nav.link("no-such-rel")
        errors.caught.append(missing.value)
        evil = Link(rel="cancel-draft-return", href="https://evil.example.test/steal", method="POST")
        await errors.expect(UnsafeLinkError, nav.follow_link(evil))
        server.faults.inject("drop_after", route="POST /draft-returns/{draft_id}/submit")
        submitted = await nav.follow("submit-draft-return")
        assert submitted.recovered_from is not None
        reprs.append(repr(submitted))
        # Webhooks: the API for subscriptions, and a delivery to a receiver that fails once.
        hook = await loop.webhooks.create("return", "return.closed", webhook_url)
        reprs += [repr(hook), repr(await loop.webhooks.list())]
        await loop.returns.close(ids[3])
        await asyncio.wait_for(server.wait_for_webhooks(lambda d: any(x[3] == 200 for x in d)), BOUND)
        await loop.webhooks.delete(hook.id)
        # Timeouts.
        server.faults.inject("delay", route=NOTES, delay=0.5, times=5)
        async with LoopClient(KEY, base_url=server.url, rate_limit=None, max_retries=0, timeout=0.1) as hurried:
            await errors.expect(LoopTimeoutError, hurried.returns.list_notes(ids[1]))
        server.faults.clear()
        async with LoopClient(KEY, base_url=server.url, rate_limit=None, max_response_bytes=10) as capped:
            await errors.expect(ResponseTooLargeError, capped.returns.list_notes(ids[1]))
    await errors.expect(ClientClosedError, loop.returns.process(ids[5]))
    reprs.append(repr(loop))
    # Wrong key, and a key without the scope.
    for key in (WRONG_KEY, NARROW_KEY):
        async with LoopClient(key, base_url=server.url, rate_limit=None) as other:
            await errors.expect(AuthenticationError, other.returns.process(ids[5]))
    # A key with CR/LF is refused when the client is created, and the refusal does not echo it.
    with pytest.raises(FieldValidationError) as bad_key:
        LoopClient(KEY + "\r\nX-Injected: yes")
    errors.caught.append(bad_key.value)
    return reprs


@asynccontextmanager
async def webhook_receiver(secret: str) -> AsyncIterator[str]:
    router = WebhookRouter()
    calls = 0

    @router.on("return", trigger="return.closed")
    async def closed(event: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("handler failed once")  # logged with its traceback by the receiver

    app = web.Application()
    app.router.add_post("/hook", webhook_handler(router, secret))
    async with TestServer(app, host="127.0.0.1") as receiver:
        yield str(receiver.make_url("/hook"))


async def test_the_key_is_in_no_log_record_exception_or_repr() -> None:
    errors = Errors()
    keys = {KEY: ALL_SCOPES, NARROW_KEY: [SCOPE_ORDERS]}
    with all_logging_at_debug() as logs:
        async with FakeLoopServer(api_keys=keys, orders=5) as server:
            async with webhook_receiver(server.webhook_secret) as hook_url:
                reprs = await exercise_everything(server, errors, hook_url)
            assert any(r.key_id and r.key_id.startswith("key-") for r in server.request_log)  # the key was used
            assert any(d[3] == 500 for d in server.webhook_deliveries)  # the failing handler ran
    # The run really went through every path it claims to.
    assert len(errors.caught) >= 30
    assert any("retrying" in text for text in logs.texts)
    assert any("Traceback" in text for text in logs.texts)
    leaks = [
        text
        for text in (*logs.texts, *reprs, *(t for e in errors.caught for t in exception_texts(e)))
        if any(secret in text for secret in SECRETS)
    ]
    assert leaks == []


# -- requests that never leave for the wrong place ------------------------------------------


@attrs.define
class HostRecorder:
    """A loopback server playing "another host": records every request and its headers."""

    url: URL
    requests: list[Recorded] = attrs.field(factory=list)


@asynccontextmanager
async def other_host() -> AsyncIterator[HostRecorder]:
    """Records every request in a middleware (before routing: even a path with CR/LF) and answers JSON."""
    recorder = HostRecorder(URL("http://127.0.0.1"))

    @web.middleware
    async def record(request: web.Request, handler: Any) -> web.StreamResponse:  # never routes on
        body = await request.read()
        recorder.requests.append(
            Recorded(request.method, request.path, dict(request.query), dict(request.headers), body)
        )
        if request.method == "POST" and request.path.startswith("/api/v1/warehouse/return/"):
            return web.json_response(True)  # a return action's success
        return web.json_response({"returns": [], "url": "https://example.test/r"})

    app = web.Application(middlewares=[record])
    async with TestServer(app, host="127.0.0.1") as server:
        recorder.url = URL(str(server.make_url("/")))
        yield recorder


def off_origin_hrefs(own: URL, other: URL) -> list[str]:
    """URLs a server might hand out that must never receive the key."""
    path = "/api/v1/draft-returns/1/cancel"
    return [
        str(other.with_path(path)),  # another port on the same machine: another origin
        f"//127.0.0.1:{other.port}{path}",  # scheme-relative
        f"http://localhost:{own.port}{path}",  # same server, another host name
        f"http://user:pw@127.0.0.1:{own.port}{path}",  # user info
        f"http://127.0.0.1:{own.port}@127.0.0.1:{other.port}{path}",  # user info hiding the real host
        f"https://127.0.0.1:{own.port}{path}",  # another scheme
    ]


async def test_off_origin_links_are_refused_before_sending() -> None:
    async with (
        FakeLoopServer(orders=3) as server,
        other_host() as evil,
        LoopClient(server.api_key, base_url=server.url, rate_limit=None) as loop,
    ):
        order = server.orders[0]
        nav = await loop.draft_returns.create(order.name, order.zip)
        before = sum(server.request_counts.values())
        for href in off_origin_hrefs(server.url, evil.url):
            with pytest.raises(UnsafeLinkError) as info:
                await nav.follow_link(Link(rel="cancel-draft-return", href=href, method="POST"))
            assert "pw" not in str(info.value)  # user info is not echoed either
            with pytest.raises(UnsafeLinkError):
                await loop.request("GET", URL(href))
        # A URL that cannot even be parsed is refused as a bad answer, also before sending.
        for broken in (f"http://127.0.0.1:{server.url.port}x/", "http://[::1/", "//127.0.0.1:99999/"):
            with pytest.raises(DecodeError):
                await nav.follow_link(Link(rel="cancel-draft-return", href=broken, method="POST"))
        assert sum(server.request_counts.values()) == before
        assert loop.stats["requests"] == before
    assert evil.requests == []


async def test_http_link_under_an_https_base_is_refused_before_sending() -> None:
    async with other_host() as target:
        # The base is https on the same host and port: only the scheme differs.
        base = target.url.with_scheme("https")
        async with LoopClient(KEY, base_url=base, rate_limit=None) as loop:
            for href in (str(target.url / "api" / "v1" / "x"), f"http://{target.url.host}:{target.url.port}/x"):
                with pytest.raises(UnsafeLinkError):
                    await loop.request("GET", URL(href))
            assert loop.stats["requests"] == 0
    assert target.requests == []


async def test_next_page_url_off_origin_is_refused_before_sending() -> None:
    async with other_host() as evil, scripted_server() as scripted:
        start = datetime.now(timezone.utc) - timedelta(days=1)
        end = datetime.now(timezone.utc)
        hrefs = [
            str(evil.url / "api" / "v1" / "warehouse" / "return" / "list"),
            str(scripted.url.with_user("u") / "api" / "v1" / "warehouse" / "return" / "list"),
        ]
        for href in hrefs:
            scripted.answer("/warehouse/return/list", {"returns": [], "nextPageUrl": href})
        async with LoopClient(KEY, base_url=scripted.url, rate_limit=None) as loop:
            for _ in hrefs:
                with pytest.raises(UnsafeLinkError):
                    _ = [r async for r in loop.returns.list(start, end)]
        assert len(scripted.requests) == len(hrefs)  # the first page only, each time
    assert evil.requests == []


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_redirect_to_another_host_does_not_carry_the_key(status: int, method: str) -> None:
    async with other_host() as evil, scripted_server() as scripted:
        # A GET takes one same-origin hop first (followed, with the key), then off to the other
        # host; a POST is never re-sent by a redirect, so it is refused at the first one.
        first = "/api/v1/hop" if method == "GET" else str(evil.url / "steal")
        scripted.answer("/start", None, status=status, headers={"Location": first})
        scripted.answer("/hop", None, status=status, headers={"Location": str(evil.url / "steal")})
        async with LoopClient(KEY, base_url=scripted.url, rate_limit=None, retry_policy=FAST) as loop:
            with pytest.raises(UnsafeLinkError) as info:
                await loop.request(method, "start", json={"a": 1} if method == "POST" else None)
        assert scripted.paths() == ["/api/v1/start", "/api/v1/hop"][: 2 if method == "GET" else 1]
        assert all(r.headers.get("X-Authorization") == KEY for r in scripted.requests)
    assert evil.requests == []
    assert not any("X-Authorization" in r.headers for r in evil.requests)
    assert KEY not in str(info.value)


# -- header injection ----------------------------------------------------------------------

INJECTION = "x\r\nX-Injected: yes\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: evil\r\n\r\n"


async def test_crlf_in_any_argument_cannot_inject_a_header_or_a_request() -> None:
    async with other_host() as scripted:
        async with LoopClient(KEY, base_url=scripted.url, rate_limit=None, retry_policy=FAST) as loop:
            calls: list[Awaitable[Any]] = [
                loop.returns.cancel(7, reason=INJECTION),
                loop.returns.flag(7, reason=INJECTION),
                loop.returns.create_note(7, INJECTION),
                loop.returns.process(7, {INJECTION: INJECTION}),
                loop.returns.deep_link(order_name=INJECTION, zip=INJECTION),
                loop.returns.deep_link_qr(order_name=INJECTION, zip=INJECTION),
                loop.returns.get(order_name=INJECTION),
                loop.draft_returns.create(INJECTION, INJECTION),
                loop.webhooks.create(INJECTION, INJECTION, "https://example.test/hook"),
                loop.request("GET", "anything/" + INJECTION, params={INJECTION: INJECTION}),
                loop.request("POST", "anything", json={"v": INJECTION}),
            ]
            for call in calls:
                try:
                    await asyncio.wait_for(call, BOUND)
                except LoopError:
                    pass  # the recorder answers one JSON object to everything: decoding may fail, sending must not
            with pytest.raises(FieldValidationError):
                await loop.request(INJECTION, "anything")  # a method is a token or nothing is sent
        for version in (INJECTION, "v1/" + INJECTION):
            async with LoopClient(KEY, base_url=scripted.url, api_version=version, rate_limit=None) as odd:
                await odd.request("GET", "x")
        for bad_key in (INJECTION, KEY + "\x00"):
            with pytest.raises(FieldValidationError):
                LoopClient(bad_key)
    # One request per call (a flag with a reason is two: the flag and its note), nothing smuggled.
    assert len(scripted.requests) == len(calls) + 1 + 2
    for request in scripted.requests:
        assert "X-Injected" not in request.headers
        assert request.path != "/smuggled"
        assert request.headers.get("X-Authorization") == KEY
    # The text arrived intact, as data: in the query or the JSON body.
    by_path = {r.path: r for r in scripted.requests}
    assert by_path["/api/v1/warehouse/return/7/cancel"].query == {"reason": INJECTION}
    assert INJECTION in by_path["/api/v1/warehouse/return/7/note"].body.decode("unicode_escape")


async def test_a_malformed_answer_leaves_no_key_in_the_exception_chain() -> None:
    """aiohttp's parse errors carry ``request_info`` with our headers: none may be chained."""
    key = "sk_live_CHAIN-SECRET-42"

    async def bad_status_line(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 OK-ISH\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(bad_status_line, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with LoopClient(key, base_url=f"http://127.0.0.1:{port}", rate_limit=None, max_retries=0) as loop:
            with pytest.raises(TransportError) as info:
                await asyncio.wait_for(loop.returns.list_notes(1), BOUND)
    finally:
        server.close()
        await server.wait_closed()
    texts = list(exception_texts(info.value))
    assert not any(key in text for text in texts)
    assert info.value.__cause__ is None
    assert info.value.__context__ is None
