"""loop-async's pytest plugin (entry point ``pytest11``): fixtures over the embedded fake Loop server.

pytest loads every installed plugin in every run of every project in the environment, so this
module imports nothing of loop-async (nor aiohttp, attrs, cattrs) until a test asks for one of
its fixtures. It is a top-level module for that reason: importing ``loop_async.testing.…``
would first run ``loop_async/__init__.py``, which imports the whole SDK.

Fixtures (they need pytest-asyncio; in its default *strict* mode mark the tests
``@pytest.mark.asyncio``, or set ``asyncio_mode = "auto"``):

- ``fake_loop_server``: a started :class:`~loop_async.testing.FakeLoopServer` with the default
  key (all scopes) and seed data;
- ``loop_client``: a :class:`~loop_async.LoopClient` for it (``rate_limit=None``);
- ``make_fake_loop``: a factory, ``await make_fake_loop(returns=3, faults=[...],
  api_version="2026-10", scopes=["Returns"], seed=7)`` -> :class:`~loop_async.testing.FakeLoop`
  (``.server``, ``.client``, ``.return_ids``); call it as often as needed (annotate the
  argument with :class:`~loop_async.testing.FakeLoopFactory`).

Everything they start is stopped after the test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from loop_async.client import LoopClient
    from loop_async.testing import FakeLoop, FakeLoopFactory, FakeLoopServer

try:
    import pytest_asyncio
except ImportError:  # the fixtures say what to install when a test asks for them
    pytest_asyncio = None  # type: ignore[assignment]

__all__ = ["fake_loop_server", "loop_client", "make_fake_loop"]

_MISSING_PYTEST_ASYNCIO = (
    "loop-async's fixture {name!r} needs pytest-asyncio: pip install 'pytest-asyncio>=0.24' "
    '(then mark the test @pytest.mark.asyncio, or set asyncio_mode = "auto")'
)

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

    @pytest_asyncio.fixture
    async def make_fake_loop() -> AsyncIterator[FakeLoopFactory]:
        """A factory: ``await make_fake_loop(**options)`` starts a server and a client for it.

        The options are :func:`loop_async.testing.open_fake_loop`'s: ``orders``, ``seed``,
        ``returns`` (open returns to seed), ``faults`` (specs such as ``"status,route=POST
        /warehouse/return/{return_id}/process,status=503"``, or ``inject`` keywords),
        ``api_version``, ``scopes``, ``client_options``, and any ``FakeLoopServer`` keyword.
        Every server and client it made is stopped after the test.
        """
        from loop_async.testing import open_fake_loop

        async with AsyncExitStack() as stack:

            async def make(**options: Any) -> FakeLoop:
                return await stack.enter_async_context(open_fake_loop(**options))

            yield make

else:

    def _needs_pytest_asyncio(name: str) -> Any:
        @pytest.fixture(name=name)
        def fixture() -> None:
            pytest.fail(_MISSING_PYTEST_ASYNCIO.format(name=name), pytrace=False)

        return fixture

    fake_loop_server = _needs_pytest_asyncio("fake_loop_server")
    loop_client = _needs_pytest_asyncio("loop_client")
    make_fake_loop = _needs_pytest_asyncio("make_fake_loop")
