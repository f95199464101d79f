"""The pytest plugin: its fixtures give a started server and a client for it, and clean up after."""

from __future__ import annotations

import pytest

from loop_async import LoopClient
from loop_async.testing import FakeLoopServer

pytest_plugins = ["pytester"]


async def test_fixtures_give_a_server_and_a_client_pointed_at_it(
    fake_loop_server: FakeLoopServer, loop_client: LoopClient
) -> None:
    assert loop_client.base_url == fake_loop_server.url / "api" / "v1"
    assert loop_client.rate_limiter is None
    return_id = fake_loop_server.seed_return()
    await loop_client.returns.close(return_id)
    assert fake_loop_server.returns[return_id].state == "closed"


USER_SUITE = """
import asyncio

from loop_async import LoopClient

seen = {}


async def test_uses_the_fixtures(fake_loop_server, loop_client):
    order = fake_loop_server.orders[0]
    link = await loop_client.returns.deep_link(order_name=order.name, zip=order.zip)
    assert link.url.startswith("https://")
    seen["client"] = loop_client
    seen["server"] = fake_loop_server


def test_the_client_was_closed_and_the_server_stopped():
    assert seen["client"].closed
    assert not seen["server"].started
"""


def test_plugin_is_registered_and_cleans_up(pytester: pytest.Pytester) -> None:
    pytester.makeini(
        """
        [pytest]
        asyncio_mode = auto
        asyncio_default_fixture_loop_scope = function
        filterwarnings = error
        """
    )
    pytester.makepyfile(test_user_suite=USER_SUITE)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=2)
