"""Shared test configuration. Fixtures of the fake server come from loop_async's pytest plugin."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from loop_async import LoopClient
from tests.scripted import ScriptedServer, scripted_server

API_KEY = "sk_test_SECRET-KEY-0123456789"


@pytest_asyncio.fixture
async def scripted() -> AsyncIterator[ScriptedServer]:
    """A scripted loopback server (see tests/scripted.py)."""
    async with scripted_server() as server:
        yield server


@pytest_asyncio.fixture
async def client(scripted: ScriptedServer) -> AsyncIterator[LoopClient]:
    """A client of the scripted server: fast backoff, no client-side rate limit."""
    from loop_async import RetryPolicy

    async with LoopClient(
        API_KEY,
        base_url=scripted.url,
        rate_limit=None,
        retry_policy=RetryPolicy(max_retries=3, backoff_base=0.001, backoff_max=0.01),
        timeout=5,
    ) as loop:
        yield loop
