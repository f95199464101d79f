"""The pytest plugin: lazy to load, fixtures that start and stop a server and clients, strict mode."""

from __future__ import annotations

import subprocess
import sys

import pytest

from loop_async import LoopClient, NotFoundError, ServerError
from loop_async.testing import FakeLoopFactory, FakeLoopServer

pytest_plugins = ["pytester"]


async def test_fixtures_give_a_server_and_a_client_pointed_at_it(
    fake_loop_server: FakeLoopServer, loop_client: LoopClient
) -> None:
    assert loop_client.base_url == fake_loop_server.url / "api" / "v1"
    assert loop_client.rate_limiter is None
    return_id = fake_loop_server.seed_return()
    await loop_client.returns.close(return_id)
    assert fake_loop_server.returns[return_id].state == "closed"


async def test_the_factory_seeds_injects_faults_and_picks_version_and_scopes(make_fake_loop: FakeLoopFactory) -> None:
    fake = await make_fake_loop(
        returns=2,
        seed=7,
        orders=3,
        faults=["status,route=POST /warehouse/return/{return_id}/process,status=503"],
        api_version="2026-10",
        scopes=["Returns"],
        client_options={"max_retries": 0},
    )
    assert len(fake.return_ids) == 2 and all(fake.server.returns[i].state == "open" for i in fake.return_ids)
    assert len(fake.server.orders) == 3
    assert fake.client.base_url == fake.server.url / "api" / "2026-10"
    with pytest.raises(ServerError):
        await fake.client.returns.process(fake.return_ids[0])  # the injected fault (503: refused)
    assert fake.server.side_effects[("process", fake.return_ids[0])] == 0
    await fake.client.returns.close(fake.return_ids[1])  # the Returns scope is enough
    order = fake.server.orders[0]
    with pytest.raises(Exception) as no_scope:  # deep links need the Orders scope
        await fake.client.returns.deep_link(order_name=order.name, zip=order.zip)
    assert "Orders" in str(no_scope.value)
    # A second call makes another, independent server.
    other = await make_fake_loop(orders=1)
    assert other.server.url != fake.server.url and len(other.server.orders) == 1
    with pytest.raises(NotFoundError):
        await other.client.returns.get(return_id=fake.return_ids[0])


async def test_the_factory_refuses_bad_options(make_fake_loop: FakeLoopFactory) -> None:
    with pytest.raises(ValueError, match="unknown scopes"):
        await make_fake_loop(scopes=["Everything"])
    with pytest.raises(TypeError, match="list of scope names"):
        await make_fake_loop(scopes="Returns")
    with pytest.raises(ValueError, match="returns"):
        await make_fake_loop(returns=-1)


USER_SUITE = """
from loop_async import LoopClient

seen = {}


async def test_uses_the_fixtures(fake_loop_server, loop_client):
    order = fake_loop_server.orders[0]
    link = await loop_client.returns.deep_link(order_name=order.name, zip=order.zip)
    assert link.url.startswith("https://")
    seen["client"] = loop_client
    seen["server"] = fake_loop_server


async def test_uses_the_factory(make_fake_loop):
    fake = await make_fake_loop(returns=1)
    await fake.client.returns.close(fake.return_ids[0])
    seen["made"] = fake


def test_everything_was_closed_and_stopped():
    assert seen["client"].closed
    assert not seen["server"].started
    assert seen["made"].client.closed and not seen["made"].server.started
"""

STRICT_SUITE = """
import pytest

seen = {}


@pytest.mark.asyncio
async def test_marked(fake_loop_server, loop_client, make_fake_loop):
    fake = await make_fake_loop(returns=1)
    await loop_client.returns.close(fake_loop_server.seed_return())
    await fake.client.returns.close(fake.return_ids[0])
    seen["ok"] = True


def test_the_marked_test_ran():
    assert seen["ok"]
"""


def _ini(pytester: pytest.Pytester, mode: str) -> None:
    pytester.makeini(
        f"""
        [pytest]
        asyncio_mode = {mode}
        asyncio_default_fixture_loop_scope = function
        filterwarnings = error
        """
    )


def test_plugin_is_registered_and_cleans_up(pytester: pytest.Pytester) -> None:
    _ini(pytester, "auto")
    pytester.makepyfile(test_user_suite=USER_SUITE)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=3)


def test_fixtures_work_in_strict_mode(pytester: pytest.Pytester) -> None:
    _ini(pytester, "strict")
    pytester.makepyfile(test_strict_suite=STRICT_SUITE)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=2)


UNRELATED_SUITE = """
import sys


def test_the_plugin_is_loaded_but_imported_nothing(request):
    assert request.config.pluginmanager.get_plugin("loop_async") is not None
    heavy = sorted(
        name for name in sys.modules
        if name in ("loop_async", "aiohttp", "cattrs", "attrs", "yarl")
        or name.startswith(("loop_async.", "aiohttp.", "cattrs."))
    )
    assert heavy == []
"""


def test_an_unrelated_suite_imports_nothing_of_the_sdk(pytester: pytest.Pytester) -> None:
    # The plugin is loaded by its entry point, as in any project of the environment.
    _ini(pytester, "strict")
    pytester.makepyfile(test_unrelated=UNRELATED_SUITE)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=1)


def test_loading_the_plugin_module_imports_nothing_of_the_sdk() -> None:
    code = (
        "import sys; import loop_async_pytest; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('loop_async', 'aiohttp', 'cattrs', 'attrs', 'yarl')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_without_pytest_asyncio_a_fixture_says_what_to_install(pytester: pytest.Pytester) -> None:
    # pytest-asyncio disabled, and its module made unimportable, as on a machine without it.
    pytester.makeini("[pytest]\nfilterwarnings = error\n")
    pytester.mkpydir("pytest_asyncio").joinpath("__init__.py").write_text("raise ImportError('not installed')\n")
    pytester.makepyfile(test_needs="def test_x(fake_loop_server):\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:asyncio", "-p", "no:cacheprovider", "-q")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*fixture 'fake_loop_server' needs pytest-asyncio: pip install 'pytest-asyncio>=0.24'*"]
    )
