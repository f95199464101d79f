"""LoopClient lifecycle, options and secrecy."""

from __future__ import annotations

import asyncio
import gc

import aiohttp
import pytest

from loop_async import ClientClosedError, FieldValidationError, LoopClient, RetryPolicy
from tests.conftest import API_KEY
from tests.scripted import ScriptedServer


async def test_async_with_closes_its_own_session(scripted: ScriptedServer) -> None:
    async with LoopClient(API_KEY, base_url=scripted.url, rate_limit=None) as loop:
        await loop.returns.close(1)
        session = loop._transport._session
        assert session is not None and not session.closed
    assert session.closed
    assert loop.closed


async def test_aclose_is_idempotent_and_closed_client_refuses(scripted: ScriptedServer) -> None:
    loop = LoopClient(API_KEY, base_url=scripted.url, rate_limit=None)
    await loop.returns.close(1)
    await loop.aclose()
    await loop.aclose()
    with pytest.raises(ClientClosedError):
        await loop.returns.close(1)
    assert len(scripted.requests) == 1


async def test_session_is_created_lazily() -> None:
    loop = LoopClient(API_KEY)
    assert loop._transport._session is None
    await loop.aclose()


async def test_caller_owned_session_is_not_closed(scripted: ScriptedServer) -> None:
    async with aiohttp.ClientSession() as session:
        async with LoopClient(API_KEY, base_url=scripted.url, rate_limit=None, session=session) as loop:
            await loop.returns.close(1)
        assert not session.closed
        async with session.get(scripted.url / "ping") as response:
            assert response.status == 200


def _client_tasks() -> set[asyncio.Task[object]]:
    # The scripted server's own connection handlers are not the client's business.
    return {t for t in asyncio.all_tasks() if "RequestHandler" not in t.get_coro().__qualname__}  # type: ignore[union-attr]


async def test_open_and_close_200_clients_leaves_nothing_behind(scripted: ScriptedServer) -> None:
    tasks_before = _client_tasks()
    for n in range(200):
        async with LoopClient(API_KEY, base_url=scripted.url, rate_limit=None) as loop:
            if n % 20 == 0:
                await loop.returns.close(1)
    gc.collect()
    leftover = [obj for obj in gc.get_objects() if isinstance(obj, aiohttp.ClientSession) and not obj.closed]
    assert leftover == []
    connectors = [o for o in gc.get_objects() if isinstance(o, aiohttp.BaseConnector) and not o.closed]
    assert connectors == []
    assert _client_tasks() == tasks_before


def test_repr_hides_the_key() -> None:
    loop = LoopClient(API_KEY)
    assert API_KEY not in repr(loop)
    assert API_KEY not in repr(loop._transport)
    assert "***" in repr(loop)


def test_api_root_and_version() -> None:
    assert str(LoopClient("k").base_url) == "https://api.loopreturns.com/api/v1"
    assert str(LoopClient("k", base_url="http://h:1/", api_version="2026-10").base_url) == "http://h:1/api/2026-10"


@pytest.mark.parametrize(
    ("kwargs", "names"),
    [
        ({"api_key": ""}, ("api_key",)),
        ({"api_key": "abc\r\nX-Evil: 1"}, ("api_key",)),
        ({"api_key": "k", "base_url": "ftp://x"}, ("base_url",)),
        ({"api_key": "k", "base_url": "https://user:pw@x"}, ("base_url",)),
        ({"api_key": "k", "max_concurrency": 0, "max_retries": -1}, ("max_concurrency", "max_retries")),
        ({"api_key": "k", "timeout": 0, "rate_limit": -5}, ("timeout", "rate_limit")),
        ({"api_key": "k", "max_retries": 5, "retry_policy": RetryPolicy()}, ("max_retries",)),
        ({"api_key": "k", "max_response_bytes": 0}, ("max_response_bytes",)),
    ],
)
def test_bad_options_are_named(kwargs: dict[str, object], names: tuple[str, ...]) -> None:
    with pytest.raises(FieldValidationError) as info:
        LoopClient(**kwargs)  # type: ignore[arg-type]
    assert info.value.names == names
    assert "abc" not in str(info.value)  # the key itself is never echoed


async def test_stats_count_requests(client: LoopClient, scripted: ScriptedServer) -> None:
    await client.returns.close(1)
    await client.returns.close(2)
    assert client.stats == {"requests": 2, "retries": 0}
