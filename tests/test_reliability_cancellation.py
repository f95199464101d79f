"""Cancellation at every await point of a call: no further attempt, no leaked connection.

The await points of one call, in order: the first step of the task, the rate limiter, the
concurrency bound (queued for a connection slot, before connecting), waiting for the answer
and reading the body, and the backoff between attempts. Cancelling at each one must raise
``CancelledError`` in the caller, send nothing more, and leave no socket or task behind.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from types import SimpleNamespace

import aiohttp
import pytest
from aiohttp import web

from loop_async import LoopClient, RetryPolicy, TokenBucketLimiter
from loop_async.testing import FakeLoopServer
from tests.scripted import scripted_server

PROCESS = "POST /api/v1/warehouse/return/{return_id}/process"
NOTES = "GET /api/v1/warehouse/return/{return_id}/notes"
BOUND = 5.0  # no step of these tests may take longer


def open_fds() -> int:
    """File descriptors open in this process (sockets included)."""
    return len(os.listdir("/proc/self/fd"))


@contextmanager
def nothing_leaked() -> Iterator[None]:
    """Assert that the block leaves no extra file descriptor and no extra task behind."""
    fds = open_fds()
    tasks = asyncio.all_tasks()
    yield
    assert asyncio.all_tasks() <= tasks, "a task was left running"
    assert open_fds() <= fds, "a socket or file was left open"


class CountingLimiter:
    """A RateLimiter that never waits and tells when its ``n``-th acquire happened."""

    def __init__(self, n: int) -> None:
        self.calls = 0
        self.n = n
        self.reached = asyncio.Event()

    async def acquire(self) -> None:
        self.calls += 1
        if self.calls == self.n:
            self.reached.set()

    def observe(self, status: int | None, retry_after: float | None) -> None:
        pass


async def _cancelled(task: asyncio.Task[object]) -> None:
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, BOUND)
    assert task.cancelled()


async def test_cancelled_before_its_first_step_sends_nothing() -> None:
    with nothing_leaked():
        async with FakeLoopServer(orders=3) as server:
            return_id = server.seed_return()
            async with LoopClient(server.api_key, base_url=server.url, rate_limit=None) as loop:
                task = asyncio.create_task(loop.returns.process(return_id))
                await _cancelled(task)
                assert sum(server.request_counts.values()) == 0
                assert loop.stats["requests"] == 0
    assert server.side_effects[("process", return_id)] == 0


async def test_cancelled_while_waiting_for_the_rate_limiter() -> None:
    waiting = asyncio.Event()

    async def observed_sleep(delay: float) -> None:
        waiting.set()
        await asyncio.sleep(delay)

    limiter = TokenBucketLimiter(1, sleep=observed_sleep)  # one request a minute: the second waits 60 s
    with nothing_leaked():
        async with FakeLoopServer(orders=3) as server:
            first, second = server.seed_return(), server.seed_return()
            async with LoopClient(server.api_key, base_url=server.url, rate_limiter=limiter) as loop:
                await loop.returns.process(first)
                task = asyncio.create_task(loop.returns.process(second))
                await asyncio.wait_for(waiting.wait(), BOUND)
                await _cancelled(task)
                assert server.request_counts[PROCESS] == 1
                assert loop.stats["requests"] == 1
    assert server.side_effects[("process", second)] == 0


async def test_cancelled_while_queued_for_a_connection_slot() -> None:
    """``max_concurrency=1`` and one request in flight: the next one waits before connecting."""
    arrived, release = asyncio.Event(), asyncio.Event()

    async def held(_: web.Request) -> web.StreamResponse:
        arrived.set()
        await release.wait()
        return web.json_response(True)

    limiter = CountingLimiter(2)
    with nothing_leaked():
        async with (
            scripted_server() as scripted,
            LoopClient("k", base_url=scripted.url, rate_limiter=limiter, max_concurrency=1) as loop,
        ):
            scripted.handle("/warehouse/return/1/process", held)
            first = asyncio.create_task(loop.returns.process(1))
            await asyncio.wait_for(arrived.wait(), BOUND)
            second = asyncio.create_task(loop.returns.process(2))
            # One turn of the loop runs the new task until it blocks: on the connection slot,
            # before the rate limiter (taken inside the slot) was asked.
            await asyncio.sleep(0)
            assert limiter.calls == 1
            await _cancelled(second)
            release.set()
            await asyncio.wait_for(first, BOUND)
            # The cancelled waiter did not keep the slot: a later call still gets through.
            await asyncio.wait_for(loop.returns.process(3), BOUND)
    assert scripted.paths() == ["/api/v1/warehouse/return/1/process", "/api/v1/warehouse/return/3/process"]


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_cancelled_mid_backoff_makes_no_further_attempt(method: str) -> None:
    backing_off = asyncio.Event()

    class OnRetry(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "retrying" in record.getMessage():
                backing_off.set()

    logger = logging.getLogger("loop_async")
    handler, old_level = OnRetry(logging.DEBUG), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    route = NOTES if method == "GET" else PROCESS
    try:
        with nothing_leaked():
            async with FakeLoopServer(orders=3) as server:
                return_id = server.seed_return()
                server.faults.inject("status", route=route, status=429, retry_after="30", times=5)
                policy = RetryPolicy(max_retries=3, backoff_base=30.0)
                async with LoopClient(
                    server.api_key, base_url=server.url, rate_limit=None, retry_policy=policy
                ) as loop:
                    call = loop.returns.list_notes(return_id) if method == "GET" else loop.returns.process(return_id)
                    task = asyncio.create_task(call)
                    await asyncio.wait_for(backing_off.wait(), BOUND)  # the 429 was read; a 30 s wait began
                    await _cancelled(task)
                    assert server.request_counts[route] == 1
                    assert loop.stats["requests"] == 1
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    assert server.side_effects[("process", return_id)] == 0


@asynccontextmanager
async def half_answering_server() -> AsyncIterator[SimpleNamespace]:
    """Answers every request with headers and the start of a body, then nothing more.

    ``state.requests`` counts requests; ``state.closed`` resolves when the client closes a connection.
    """
    loop = asyncio.get_running_loop()
    state = SimpleNamespace(requests=0, closed=loop.create_future(), transports=[])

    class Protocol(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            assert isinstance(transport, asyncio.Transport)
            self.transport = transport
            state.transports.append(transport)

        def data_received(self, data: bytes) -> None:
            if data.startswith((b"GET ", b"POST ")):
                state.requests += 1
                head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 4096\r\n\r\n"
                self.transport.write(head + b'{"notes": [')

        def connection_lost(self, exc: Exception | None) -> None:
            if not state.closed.done():
                state.closed.set_result(True)

    server = await loop.create_server(Protocol, "127.0.0.1", 0)
    state.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    try:
        yield state
    finally:
        server.close()
        for transport in state.transports:
            transport.abort()
        await server.wait_closed()


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_cancelled_mid_body_closes_the_connection(method: str) -> None:
    headers_read = asyncio.Event()

    async def on_request_end(*_: object) -> None:
        headers_read.set()  # aiohttp read the status and headers; the body read comes next

    trace = aiohttp.TraceConfig()
    trace.on_request_end.append(on_request_end)
    with nothing_leaked():
        # A session of our own only to attach the trace hook; the connector is aiohttp's default.
        async with (
            half_answering_server() as server,
            aiohttp.ClientSession(trace_configs=[trace]) as session,
            LoopClient("k", base_url=server.url, rate_limit=None, session=session) as loop,
        ):
            task = asyncio.create_task(loop.request(method, "warehouse/return/1/notes"))
            await asyncio.wait_for(headers_read.wait(), BOUND)
            await _cancelled(task)
            # The half-read connection is closed now, not pooled or left open.
            await asyncio.wait_for(server.closed, BOUND)
            assert server.requests == 1
            assert loop.stats == {"requests": 1, "retries": 0}


async def test_cancelled_while_waiting_for_the_answer() -> None:
    """The client's own session and connector: cancelled while the server holds the answer back."""
    arrived, release = asyncio.Event(), asyncio.Event()

    async def held(_: web.Request) -> web.StreamResponse:
        arrived.set()
        await release.wait()
        return web.json_response(True)

    with nothing_leaked():
        async with scripted_server() as scripted, LoopClient("k", base_url=scripted.url, rate_limit=None) as loop:
            scripted.handle("/warehouse/return/1/process", held)
            task = asyncio.create_task(loop.returns.process(1))
            await asyncio.wait_for(arrived.wait(), BOUND)
            await _cancelled(task)
            release.set()
            assert loop.stats == {"requests": 1, "retries": 0}
    assert scripted.paths() == ["/api/v1/warehouse/return/1/process"]
