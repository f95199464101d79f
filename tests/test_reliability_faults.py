"""The fault matrix: every way a server can misbehave, one row each, with its documented outcome.

Each row runs one call (a GET that reads notes, or a POST that processes a return) against a
server that misbehaves in one way, and asserts three things the fault matrix (docs/reliability-evidence.md)
promises: the outcome (success, or the typed ``LoopError`` subclass), how many requests reached
the server (so "retried" and "not retried" are checked, not assumed), and how many side effects
the server counted (a POST that may have reached the server never acts twice). Each row also
records those numbers as pytest user properties (``requests``, ``outcome``, ``side_effects``),
so the JUnit report of CI carries the matrix.

Rows the embedded fake server can inject run against :class:`FakeLoopServer`; the rest (a
server that stops reading, a body that trickles, a body cut short, a reset on accept, nothing
listening) run against small servers written here.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any

import attrs
import pytest
from aiohttp import web
from yarl import URL

from loop_async import (
    AuthenticationError,
    DecodeError,
    LoopClient,
    LoopError,
    LoopTimeoutError,
    NotFoundError,
    OutcomeUnknownError,
    RateLimitError,
    ResponseTooLargeError,
    RetryPolicy,
    ServerError,
    TransportError,
)
from loop_async._sansio.outcome import may_have_taken_effect
from loop_async.testing import FakeLoopServer

PROCESS = "POST /api/v1/warehouse/return/{return_id}/process"
NOTES = "GET /api/v1/warehouse/return/{return_id}/notes"

MAX_RETRIES = 3
ATTEMPTS = MAX_RETRIES + 1
#: Far below any real answer of Loop's API, far above every normal fake-server body.
MAX_RESPONSE_BYTES = 1024 * 1024
#: A wall-clock bound for any one row: a hang fails the row instead of the suite.
ROW_BOUND = 10.0

# A backoff so slow that only an honoured Retry-After lets the row finish within ROW_BOUND.
SLOW_BACKOFF = RetryPolicy(max_retries=MAX_RETRIES, backoff_base=60.0, backoff_max=60.0)
FAST_BACKOFF = RetryPolicy(max_retries=MAX_RETRIES, backoff_base=0.001, backoff_max=0.01)


def _http_date(offset: timedelta) -> str:
    return format_datetime(datetime.now(timezone.utc) + offset, usegmt=True)


@attrs.frozen
class Row:
    """One row of the matrix: a fault, a method, and what must come of it."""

    name: str
    method: str  # "GET" (list notes) or "POST" (process a return)
    fault: dict[str, Any]  # keyword arguments of server.faults.inject (without route)
    outcome: type[LoopError] | None  # None: the call succeeds
    requests: int  # requests the server counted on the route
    side_effects: int = 0  # for POST: ("process", id) counted by the server
    policy: RetryPolicy = FAST_BACKOFF
    timeout: float = 5.0
    check: Callable[[BaseException | None], None] | None = None

    @property
    def id(self) -> str:
        return f"{self.name}-{self.method}"


def _retry_after_is(value: float, tolerance: float = 5.0) -> Callable[[BaseException | None], None]:
    def check(exc: BaseException | None) -> None:
        assert isinstance(exc, RateLimitError)
        assert exc.retry_after is not None and abs(exc.retry_after - value) <= tolerance

    return check


def _both(name: str, fault: dict[str, Any], **per_method: Any) -> list[Row]:
    """The GET and the POST row of one fault; ``get_*`` / ``post_*`` keywords differ by method."""
    rows = []
    for method in ("GET", "POST"):
        prefix = method.lower() + "_"
        own = {k.removeprefix(prefix): v for k, v in per_method.items() if k.startswith(prefix)}
        shared = {k: v for k, v in per_method.items() if not k.startswith(("get_", "post_"))}
        rows.append(Row(name, method, fault, **{**shared, **own}))
    return rows


ROWS: list[Row] = [
    # 429 storms: Retry-After is honoured (seconds or HTTP date), backoff when absent, a huge one is raised at once.
    *_both(
        "429-retry-after-seconds",
        {"kind": "status", "status": 429, "retry_after": "0", "times": 3},
        outcome=None,
        requests=4,
        post_side_effects=1,
        policy=SLOW_BACKOFF,
    ),
    *_both(
        "429-retry-after-http-date",
        {"kind": "status", "status": 429, "retry_after": _http_date(timedelta(seconds=-5)), "times": 2},
        outcome=None,
        requests=3,
        post_side_effects=1,
        policy=SLOW_BACKOFF,
    ),
    *_both(
        "429-no-retry-after",
        {"kind": "status", "status": 429, "times": 2},
        outcome=None,
        requests=3,
        post_side_effects=1,
    ),
    *_both(
        "429-storm-exhausts-retries",
        {"kind": "status", "status": 429, "times": 10},
        outcome=RateLimitError,
        requests=ATTEMPTS,
    ),
    *_both(
        "429-retry-after-absurd-seconds",
        {"kind": "status", "status": 429, "retry_after": "86400", "times": 10},
        outcome=RateLimitError,
        requests=1,
        policy=SLOW_BACKOFF,
        check=_retry_after_is(86400),
    ),
    *_both(
        "429-retry-after-absurd-date",
        # A callable: the date is made when the row runs, not when the module is imported.
        {"kind": "status", "status": 429, "retry_after": lambda: _http_date(timedelta(days=2)), "times": 10},
        outcome=RateLimitError,
        requests=1,
        policy=SLOW_BACKOFF,
        check=_retry_after_is(2 * 86400, tolerance=600),
    ),
    # 5xx bursts: 500 is raised; 503 retried for every method; 502/504 retried for GET only.
    *_both("500-burst", {"kind": "status", "status": 500, "times": 3}, outcome=ServerError, requests=1),
    *_both(
        "502-burst",
        {"kind": "status", "status": 502, "times": 2},
        get_outcome=None,
        get_requests=3,
        post_outcome=ServerError,
        post_requests=1,
    ),
    *_both("503-burst", {"kind": "status", "status": 503, "times": 2}, outcome=None, requests=3, post_side_effects=1),
    *_both("503-storm", {"kind": "status", "status": 503, "times": 10}, outcome=ServerError, requests=ATTEMPTS),
    *_both(
        "504-burst",
        {"kind": "status", "status": 504, "times": 2},
        get_outcome=None,
        get_requests=3,
        post_outcome=ServerError,
        post_requests=1,
    ),
    # Dropped connections: before the handler (nothing done) and after it (done, answer lost).
    *_both(
        "reset-before-handler",
        {"kind": "drop_before"},
        get_outcome=None,
        get_requests=2,
        post_outcome=TransportError,
        post_requests=1,
    ),
    *_both(
        "reset-after-handler",
        {"kind": "drop_after"},
        get_outcome=None,
        get_requests=2,
        post_outcome=TransportError,
        post_requests=1,
        post_side_effects=1,
    ),
    # Read timeout: the answer comes after the client's timeout. The late POST acts at most once.
    *_both(
        "read-timeout",
        {"kind": "delay", "delay": 0.8},
        get_outcome=None,
        get_requests=2,
        post_outcome=LoopTimeoutError,
        post_requests=1,
        post_side_effects=1,
        timeout=0.3,
    ),
    # Bodies that are not what the reference promises.
    *_both("truncated-json", {"kind": "truncated"}, outcome=DecodeError, requests=1, post_side_effects=1),
    *_both("not-json-200", {"kind": "malformed"}, outcome=DecodeError, requests=1),
    *_both("html-page-200", {"kind": "html", "status": 200}, outcome=DecodeError, requests=1),
    *_both("html-page-500", {"kind": "html", "status": 500}, outcome=ServerError, requests=1),
    *_both(
        "html-page-503",
        {"kind": "html", "status": 503},
        outcome=None,
        requests=2,
        post_side_effects=1,
    ),
    *_both("body-over-cap", {"kind": "large_body"}, outcome=ResponseTooLargeError, requests=1),
    *_both("invalid-utf8", {"kind": "invalid_utf8"}, outcome=DecodeError, requests=1),
    *_both("array-for-object", {"kind": "array"}, outcome=DecodeError, requests=1),
    *_both("error-shape-200", {"kind": "error200"}, outcome=NotFoundError, requests=1),
    *_both(
        "error-shape-200-auth",
        {"kind": "error200", "body": {"error": {"code": "401", "message": "Unauthorized"}}},
        outcome=AuthenticationError,
        requests=1,
    ),
]


def _report(
    props: Callable[[str, object], None], requests: int, outcome: BaseException | None, side_effects: int
) -> None:
    props("requests", requests)
    props("outcome", "success" if outcome is None else type(outcome).__name__)
    props("side_effects", side_effects)


async def _run_bounded(call: Awaitable[Any]) -> tuple[Any, BaseException | None, float]:
    started = time.monotonic()
    try:
        value = await asyncio.wait_for(call, ROW_BOUND)
    except LoopError as exc:
        return None, exc, time.monotonic() - started
    return value, None, time.monotonic() - started


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
async def test_fault_matrix(row: Row, record_property: Callable[[str, object], None]) -> None:
    async with FakeLoopServer(orders=3) as server:
        return_id = server.seed_return()
        async with LoopClient(
            server.api_key,
            base_url=server.url,
            rate_limit=None,
            retry_policy=row.policy,
            timeout=row.timeout,
            max_response_bytes=MAX_RESPONSE_BYTES,
        ) as loop:
            await loop.returns.create_note(return_id, "seeded")  # so the GET has a 200 body to break
            route = NOTES if row.method == "GET" else PROCESS
            fault = {name: value() if callable(value) else value for name, value in row.fault.items()}
            server.faults.inject(fault.pop("kind"), route=route, **fault)
            call = loop.returns.list_notes(return_id) if row.method == "GET" else loop.returns.process(return_id)
            value, error, elapsed = await _run_bounded(call)
            requests = server.request_counts[route]
    # After the server stopped (in-flight handlers finished): a late handler has counted too.
    side_effects = server.side_effects[("process", return_id)]
    _report(record_property, requests, error, side_effects)

    if row.outcome is None:
        assert error is None, f"expected success, got {error!r}"
        if row.method == "GET":
            assert [n.content for n in value] == ["seeded"]
        else:
            assert value.queued
    else:
        # A return action whose outcome is uncertain says so: OutcomeUnknownError around the cause.
        cause = error.error if isinstance(error, OutcomeUnknownError) else error
        assert isinstance(cause, row.outcome), f"expected {row.outcome.__name__}, got {error!r}"
        uncertain = row.method == "POST" and may_have_taken_effect(cause)
        assert isinstance(error, OutcomeUnknownError) == uncertain, f"{error!r}: uncertain={uncertain}"
    assert requests == row.requests
    assert side_effects == (row.side_effects if row.method == "POST" else 0)
    if row.policy is SLOW_BACKOFF:
        assert elapsed < 5.0  # a Retry-After was honoured (or raised), never the 60 s backoff
    if row.check is not None:
        row.check(error)


# -- faults the fake server cannot make: small servers of our own -------------------------


@attrs.define
class RawServer:
    """A TCP server on loopback that counts connections and misbehaves as ``behaviour`` says."""

    url: URL
    connections: int = 0


class _Protocol(asyncio.Protocol):
    def __init__(self, owner: RawServer, behaviour: str, transports: list[asyncio.Transport]) -> None:
        self.owner = owner
        self.behaviour = behaviour
        self.transports = transports

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.owner.connections += 1
        self.transports.append(transport)
        if self.behaviour == "reset-on-accept":
            sock = transport.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            transport.abort()  # RST before reading a byte of the request
        elif self.behaviour == "stops-reading":
            transport.pause_reading()  # accept, then never read and never answer

    def data_received(self, data: bytes) -> None:
        pass  # "stops-reading" never gets here; the others answer from aiohttp servers below


@asynccontextmanager
async def raw_server(behaviour: str) -> AsyncIterator[RawServer]:
    """A raw asyncio server: ``reset-on-accept`` or ``stops-reading``."""
    loop = asyncio.get_running_loop()
    transports: list[asyncio.Transport] = []
    owner = RawServer(URL("http://127.0.0.1"))
    server = await loop.create_server(lambda: _Protocol(owner, behaviour, transports), "127.0.0.1", 0)
    owner.url = URL.build(scheme="http", host="127.0.0.1", port=server.sockets[0].getsockname()[1])
    try:
        yield owner
    finally:
        server.close()
        for transport in transports:
            transport.abort()
        await server.wait_closed()


@asynccontextmanager
async def web_server(behaviour: str) -> AsyncIterator[RawServer]:
    """An aiohttp.web server whose every answer misbehaves: ``slow-body``, ``cut-body`` or ``huge-chunked-body``."""
    owner = RawServer(URL("http://127.0.0.1"))

    async def handler(request: web.Request) -> web.StreamResponse:
        owner.connections += 1
        await request.read()
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        if behaviour == "huge-chunked-body":
            response.enable_chunked_encoding()  # no Content-Length: the cap must hold while streaming
            await response.prepare(request)
            for _ in range(4 * MAX_RESPONSE_BYTES // 65536):
                await response.write(b" " * 65536)
            await response.write_eof()
            return response
        response.content_length = 4096
        await response.prepare(request)
        await response.write(b'{"notes": [')
        if behaviour == "cut-body":
            assert request.transport is not None
            request.transport.abort()  # fewer bytes than Content-Length promised, then gone
            return response
        # slow-body: one byte per 50 ms; the whole body would take minutes.
        for _ in range(4096):
            await asyncio.sleep(0.05)
            await response.write(b" ")
        return response

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    owner.url = URL.build(scheme="http", host="127.0.0.1", port=runner.addresses[0][1])
    try:
        yield owner
    finally:
        await runner.cleanup()


def _refused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@attrs.frozen
class CustomRow:
    name: str
    method: str
    outcome: type[LoopError]
    requests: int  # connections (or requests) the server saw
    attempts: int  # attempts the client made (its own retries; aiohttp may add one per dropped GET)
    timeout: float = 5.0
    sent: bool | str | None = "any"  # TransportError.request_sent, when checked

    @property
    def id(self) -> str:
        return f"{self.name}-{self.method}"


CUSTOM_ROWS = [
    # Nothing listening: certainly not sent, so even a POST is retried, then raised.
    CustomRow("connection-refused", "GET", TransportError, 0, ATTEMPTS, sent=False),
    CustomRow("connection-refused", "POST", TransportError, 0, ATTEMPTS, sent=False),
    # Reset the moment the connection is accepted: the client cannot tell whether the request
    # was read, so a GET is retried and a POST is raised after one attempt. (aiohttp's own
    # silent re-send of an idempotent request, RFC 9112 section 9.3.1, is refused by the
    # transport: one connection per counted attempt.)
    CustomRow("reset-on-accept", "GET", TransportError, ATTEMPTS, ATTEMPTS),
    CustomRow("reset-on-accept", "POST", TransportError, 1, 1, sent=None),
    # Accepts, never reads, never answers.
    CustomRow("stops-reading", "GET", LoopTimeoutError, ATTEMPTS, ATTEMPTS, timeout=0.3),
    CustomRow("stops-reading", "POST", LoopTimeoutError, 1, 1, timeout=0.3, sent=None),
    # Headers on time, body trickling far slower than the timeout.
    CustomRow("slow-body", "GET", LoopTimeoutError, ATTEMPTS, ATTEMPTS, timeout=0.3),
    CustomRow("slow-body", "POST", LoopTimeoutError, 1, 1, timeout=0.3, sent=None),
    # The connection closes before Content-Length bytes arrived.
    CustomRow("cut-body", "GET", TransportError, ATTEMPTS, ATTEMPTS),
    CustomRow("cut-body", "POST", TransportError, 1, 1, sent=None),
    # A streamed (chunked) body with no Content-Length, larger than max_response_bytes: not retried.
    CustomRow("huge-chunked-body", "GET", ResponseTooLargeError, 1, 1),
    CustomRow("huge-chunked-body", "POST", ResponseTooLargeError, 1, 1),
]


@asynccontextmanager
async def _custom_server(name: str) -> AsyncIterator[RawServer]:
    if name == "connection-refused":
        yield RawServer(URL.build(scheme="http", host="127.0.0.1", port=_refused_port()))
    elif name in ("reset-on-accept", "stops-reading"):
        async with raw_server(name) as server:
            yield server
    else:
        async with web_server(name) as server:
            yield server


@pytest.mark.parametrize("row", CUSTOM_ROWS, ids=[r.id for r in CUSTOM_ROWS])
async def test_fault_matrix_custom_servers(row: CustomRow, record_property: Callable[[str, object], None]) -> None:
    async with _custom_server(row.name) as server:
        async with LoopClient(
            "test-key",
            base_url=server.url,
            rate_limit=None,
            retry_policy=FAST_BACKOFF,
            timeout=row.timeout,
            max_response_bytes=MAX_RESPONSE_BYTES,
        ) as loop:
            # Half a MiB: a real write the server never reads (aiohttp warns about raw bodies over 1 MiB).
            body = {"pad": "x" * (512 * 1024)} if row.method == "POST" else None
            call = (
                loop.request(row.method, "warehouse/return/1/process", json=body)
                if body
                else loop.request(row.method, "warehouse/return/1/notes")
            )
            _, error, elapsed = await _run_bounded(call)
            sent_by_client = loop.stats["requests"]
        requests = server.connections
    _report(record_property, requests, error, requests if row.method == "POST" else 0)

    assert isinstance(error, row.outcome), f"expected {row.outcome.__name__}, got {error!r}"
    assert requests == row.requests
    assert sent_by_client == row.attempts
    if row.sent != "any":
        assert isinstance(error, TransportError) and error.request_sent is row.sent
    # Bounded by the timeout per attempt, never a hang.
    assert elapsed < row.timeout * row.attempts + 2.0
