"""pytest plugin (registered by entry point): fixtures for testing code that uses loop-async.

``fake_loop_server`` yields a started :class:`~loop_async.testing.FakeLoopServer`;
``loop_client`` yields a :class:`~loop_async.LoopClient` pointed at it (client-side rate
limiting off), closed after the test. Both need pytest-asyncio; without it the plugin
registers nothing, so it never breaks a test suite that does not use it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

try:
    import pytest_asyncio
except ImportError:  # pragma: no cover - the fixtures need pytest-asyncio; without it, stay out of the way
    pytest_asyncio = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from loop_async.client import LoopClient
    from loop_async.testing import FakeLoopServer

__all__ = ["fake_loop_server", "loop_client"]

if pytest_asyncio is not None:

    @pytest_asyncio.fixture
    async def fake_loop_server() -> AsyncIterator[FakeLoopServer]:
        """A started fake Loop server with the default key and seed data; stopped after the test."""
        from loop_async.testing import FakeLoopServer

        async with FakeLoopServer() as server:
            yield server

    @pytest_asyncio.fixture
    async def loop_client(fake_loop_server: FakeLoopServer) -> AsyncIterator[LoopClient]:
        """A ``LoopClient`` for ``fake_loop_server`` (``rate_limit=None``), closed after the test."""
        from loop_async.client import LoopClient

        async with LoopClient(fake_loop_server.api_key, base_url=fake_loop_server.url, rate_limit=None) as client:
            yield client
