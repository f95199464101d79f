"""Soak: many clients opened and closed, many calls on one client; nothing may grow.

Growth is measured, not printed: open file descriptors (``/proc/self/fd``, sockets included),
running tasks, and memory still allocated (``tracemalloc``) after a warm-up, compared with a
small bound. The fake server runs in the same process, so its request log (which grows by
design, one record a request) is cleared between rounds.
"""

from __future__ import annotations

import asyncio
import gc
import os
import sys
import tracemalloc
from collections.abc import Awaitable, Callable

import pytest

from loop_async import LoopClient
from loop_async.testing import FakeLoopServer

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="counts descriptors in /proc/self/fd")

CYCLES = 1_000
CALLS = 10_000
CONCURRENCY = 16
#: Live memory that may be gained between two measurements thousands of calls apart (a leak of
#: 16 bytes a call over 8,000 calls is already 128 KiB).
MEMORY_BOUND = 96 * 1024


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def other_tasks() -> set[asyncio.Task[object]]:
    return asyncio.all_tasks() - {asyncio.current_task()}  # type: ignore[operator]


async def _in_batches(count: int, call: Callable[[], Awaitable[object]]) -> None:
    for start in range(0, count, CONCURRENCY):
        await asyncio.gather(*(call() for _ in range(min(CONCURRENCY, count - start))))


def _live_bytes() -> int:
    gc.collect()
    current, _ = tracemalloc.get_traced_memory()
    return current


async def test_thousand_clients_opened_and_closed_leave_nothing_behind() -> None:
    async with FakeLoopServer(orders=3) as server:
        return_id = server.seed_return()

        async def one_cycle() -> None:
            async with LoopClient(server.api_key, base_url=server.url, rate_limit=None) as loop:
                await loop.returns.list_notes(return_id)  # opens the session and a connection

        async def cycles(n: int) -> None:
            await _in_batches(n, one_cycle)
            server.request_log.clear()

        await cycles(50)  # warm-up: imports, caches, the server's first connections
        fds, tasks = open_fds(), other_tasks()
        tracemalloc.start()
        try:
            await cycles(150)  # traced warm-up: one-time allocations land before the first measurement
            before = _live_bytes()
            await cycles(CYCLES - 200)
            grown = _live_bytes() - before
        finally:
            tracemalloc.stop()
        assert server.request_counts["GET /api/v1/warehouse/return/{return_id}/notes"] == CYCLES
        # Every client closed its sockets (the server may still be tearing its side down: allow the batch).
        assert open_fds() <= fds + CONCURRENCY
        assert len(other_tasks()) <= len(tasks) + CONCURRENCY
        assert grown < MEMORY_BOUND, f"{grown} bytes more still allocated after {CYCLES - 200} client cycles"
    # With the server gone too, every descriptor of the run is closed.
    assert open_fds() <= fds


async def test_ten_thousand_calls_on_one_client_do_not_grow() -> None:
    async with FakeLoopServer(orders=3) as server:
        return_id = server.seed_return()
        async with LoopClient(
            server.api_key, base_url=server.url, rate_limit=None, max_concurrency=CONCURRENCY
        ) as loop:
            await loop.returns.create_note(return_id, "soak")

            async def one_call() -> None:
                notes = await loop.returns.list_notes(return_id)
                assert len(notes) == 1

            async def calls(n: int) -> None:
                await _in_batches(n, one_call)
                server.request_log.clear()

            await calls(1_000)  # warm-up: the connection pool fills up to max_concurrency
            fds, tasks = open_fds(), len(other_tasks())
            tracemalloc.start()
            try:
                await calls(1_000)  # traced warm-up: one-time allocations land before the first measurement
                before = _live_bytes()
                await calls(CALLS - 2_000)
                grown = _live_bytes() - before
            finally:
                tracemalloc.stop()
            assert loop.stats == {"requests": CALLS + 1, "retries": 0}
            assert open_fds() <= fds  # pooled connections reused, never more
            assert len(other_tasks()) <= tasks
            assert grown < MEMORY_BOUND, f"{grown} bytes more still allocated after {CALLS - 2_000} calls"
