"""Each injected fault, observed through the SDK: the client's retry rules hold against the fake server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from loop_async import (
    DecodeError,
    LoopAPIError,
    LoopClient,
    LoopTimeoutError,
    NotFoundError,
    OutcomeUnknownError,
    RateLimitError,
    ResponseTooLargeError,
    RetryPolicy,
    ServerError,
    TransportError,
)
from loop_async.testing import FAULT_KINDS, FakeLoopServer

PROCESS = "POST /api/v1/warehouse/return/{return_id}/process"
NOTES = "GET /api/v1/warehouse/return/{return_id}/notes"
LINK = "POST /api/v1/order/link"

FAST_RETRIES = RetryPolicy(max_retries=3, backoff_base=0.001, backoff_max=0.01)


@pytest_asyncio.fixture
async def client(fake_loop_server: FakeLoopServer) -> AsyncIterator[LoopClient]:
    async with LoopClient(
        fake_loop_server.api_key, base_url=fake_loop_server.url, rate_limit=None, retry_policy=FAST_RETRIES
    ) as loop:
        yield loop


async def test_503_on_a_get_is_retried_until_it_succeeds(client: LoopClient, fake_loop_server: FakeLoopServer) -> None:
    return_id = fake_loop_server.seed_return()
    fault = fake_loop_server.faults.inject("status", route=NOTES, times=2, status=503)
    assert await client.returns.list_notes(return_id) == []
    assert fake_loop_server.request_counts[NOTES] == 3
    assert fault.fired == 2
    assert fake_loop_server.faults.pending == []
    assert client.stats["retries"] == 2


async def test_429_with_retry_after_on_a_post_is_retried_and_acts_once(
    client: LoopClient, fake_loop_server: FakeLoopServer
) -> None:
    return_id = fake_loop_server.seed_return()
    fake_loop_server.faults.inject("status", route=PROCESS, status=429, retry_after="0")
    await client.returns.process(return_id)
    assert fake_loop_server.request_counts[PROCESS] == 2
    assert fake_loop_server.side_effects[("process", return_id)] == 1


async def test_429_beyond_max_retries_surfaces_with_retry_after(
    client: LoopClient, fake_loop_server: FakeLoopServer
) -> None:
    fake_loop_server.faults.inject("status", route=NOTES, status=429, retry_after="0", times=10)
    with pytest.raises(RateLimitError) as limited:
        await client.returns.list_notes(fake_loop_server.seed_return())
    assert limited.value.retry_after == 0
    assert fake_loop_server.request_counts[NOTES] == 4  # 1 + max_retries


async def test_500_on_a_post_is_not_retried(client: LoopClient, fake_loop_server: FakeLoopServer) -> None:
    return_id = fake_loop_server.seed_return()
    fake_loop_server.faults.inject("status", route=PROCESS, status=500)
    with pytest.raises(OutcomeUnknownError) as failed:
        await client.returns.process(return_id)
    assert isinstance(failed.value.error, ServerError) and failed.value.error.code == "UNEXPECTED_ERROR"
    assert fake_loop_server.request_counts[PROCESS] == 1
    assert fake_loop_server.side_effects[("process", return_id)] == 0


async def test_drop_after_on_a_post_is_not_retried_and_acted_once(
    client: LoopClient, fake_loop_server: FakeLoopServer
) -> None:
    return_id = fake_loop_server.seed_return()
    fake_loop_server.faults.inject("drop_after", route=PROCESS)
    with pytest.raises(OutcomeUnknownError) as dropped:
        await client.returns.process(return_id)
    assert isinstance(dropped.value.error, TransportError) and dropped.value.request_sent is True
    assert fake_loop_server.request_counts[PROCESS] == 1
    assert fake_loop_server.side_effects[("process", return_id)] == 1
    assert fake_loop_server.request_log[-1].status is None


async def test_drop_before_on_a_get_is_retried(client: LoopClient, fake_loop_server: FakeLoopServer) -> None:
    return_id = fake_loop_server.seed_return()
    fake_loop_server.faults.inject("drop_before", route=NOTES)
    assert await client.returns.list_notes(return_id) == []
    assert fake_loop_server.request_counts[NOTES] == 2


async def test_drop_before_on_a_post_has_no_side_effect(client: LoopClient, fake_loop_server: FakeLoopServer) -> None:
    return_id = fake_loop_server.seed_return()
    fake_loop_server.faults.inject("drop_before", route=PROCESS)
    with pytest.raises(OutcomeUnknownError):  # the client cannot tell it from a drop after acting
        await client.returns.process(return_id)
    assert fake_loop_server.side_effects[("process", return_id)] == 0
    await client.returns.process(return_id)  # the caller decides to try again: it acts once
    assert fake_loop_server.side_effects[("process", return_id)] == 1


async def test_delay_beyond_the_timeout_is_retried_for_a_get(fake_loop_server: FakeLoopServer) -> None:
    return_id = fake_loop_server.seed_return()
    fake_loop_server.faults.inject("delay", route=NOTES, delay=0.3)
    async with LoopClient(
        fake_loop_server.api_key, base_url=fake_loop_server.url, rate_limit=None, timeout=0.1, retry_policy=FAST_RETRIES
    ) as loop:
        assert await loop.returns.list_notes(return_id) == []
        fake_loop_server.faults.inject("delay", route=PROCESS, delay=0.3)
        with pytest.raises(OutcomeUnknownError) as timed_out:
            await loop.returns.process(return_id)
        assert isinstance(timed_out.value.error, LoopTimeoutError)
    assert fake_loop_server.request_counts[NOTES] == 2
    assert fake_loop_server.request_counts[PROCESS] == 1


async def test_short_delay_still_answers(client: LoopClient, fake_loop_server: FakeLoopServer) -> None:
    order = fake_loop_server.orders[0]
    fake_loop_server.faults.inject("delay", route=LINK, delay=0.01)
    link = await client.returns.deep_link(order_name=order.name, zip=order.zip)
    assert link.url.startswith("https://")


@pytest.mark.parametrize("kind", ["truncated", "malformed", "invalid_utf8", "array"])
async def test_bodies_that_are_not_the_promised_json(
    client: LoopClient, fake_loop_server: FakeLoopServer, kind: str
) -> None:
    order = fake_loop_server.orders[0]
    fake_loop_server.faults.inject(kind, route=LINK)
    with pytest.raises(DecodeError):
        await client.returns.deep_link(order_name=order.name, zip=order.zip)
    assert fake_loop_server.request_counts[LINK] == 1


async def test_html_error_page(client: LoopClient, fake_loop_server: FakeLoopServer) -> None:
    return_id = fake_loop_server.seed_return()
    fake_loop_server.faults.inject("html", route=PROCESS, status=502)
    with pytest.raises(OutcomeUnknownError) as bad_gateway:
        await client.returns.process(return_id)
    assert isinstance(bad_gateway.value.error, ServerError) and bad_gateway.value.error.status == 502
    assert fake_loop_server.request_counts[PROCESS] == 1  # a POST that got 502 is not retried
    fake_loop_server.faults.inject("html", route=PROCESS, status=200)
    with pytest.raises(OutcomeUnknownError) as page:  # a 200 we cannot read: it probably happened
        await client.returns.process(return_id)
    assert isinstance(page.value.error, DecodeError) and page.value.error.excerpt is not None
    assert page.value.error.excerpt.startswith("<html>")


async def test_large_body_is_capped(fake_loop_server: FakeLoopServer) -> None:
    order = fake_loop_server.orders[0]
    fake_loop_server.faults.inject("large_body", route=LINK)
    async with LoopClient(
        fake_loop_server.api_key, base_url=fake_loop_server.url, rate_limit=None, max_response_bytes=1024 * 1024
    ) as loop:
        with pytest.raises(ResponseTooLargeError):
            await loop.returns.deep_link(order_name=order.name, zip=order.zip)


async def test_error_with_status_200(client: LoopClient, fake_loop_server: FakeLoopServer) -> None:
    return_id = fake_loop_server.seed_return()
    fake_loop_server.faults.inject("error200", route=PROCESS)
    with pytest.raises(NotFoundError) as not_found:
        await client.returns.process(return_id)
    assert not_found.value.status == 200
    assert fake_loop_server.side_effects[("process", return_id)] == 0
    custom = {"errors": {"message": "Nope", "code": "UNPROCESSABLE_RETURN"}}
    fake_loop_server.faults.inject("error200", route=PROCESS, body=custom)
    with pytest.raises(Exception, match="Nope"):
        await client.returns.process(return_id)


async def test_global_faults_hit_any_route_and_clear(client: LoopClient, fake_loop_server: FakeLoopServer) -> None:
    return_id = fake_loop_server.seed_return()
    fake_loop_server.faults.inject("status", status=503, times=2)
    await client.returns.list_notes(return_id)  # both 503s land here, then it succeeds
    assert fake_loop_server.request_counts[NOTES] == 3
    fake_loop_server.faults.inject("status", status=400, times=5)
    fake_loop_server.faults.clear()
    await client.returns.close(return_id)
    assert fake_loop_server.returns[return_id].state == "closed"
    assert [kind for kind, _ in fake_loop_server.faults.fired] == ["status", "status"]


def test_inject_validates_its_arguments() -> None:
    server = FakeLoopServer(orders=1)
    with pytest.raises(ValueError, match="unknown fault kind"):
        server.faults.inject("explode")
    with pytest.raises(ValueError, match="times"):
        server.faults.inject("status", times=0)
    assert "drop_after" in FAULT_KINDS


async def test_a_route_without_the_api_root_matches_every_version(fake_loop_server: FakeLoopServer) -> None:
    fake_loop_server.faults.inject("status", route="GET /warehouse/return/{return_id}/notes", status=400, times=2)
    for version in ("v1", "2026-07"):
        async with LoopClient(
            fake_loop_server.api_key, base_url=fake_loop_server.url, api_version=version, rate_limit=None
        ) as loop:
            with pytest.raises(LoopAPIError) as refused:
                await loop.returns.list_notes(fake_loop_server.seed_return())
            assert refused.value.status == 400
    assert fake_loop_server.request_counts["GET /api/2026-07/warehouse/return/{return_id}/notes"] == 1


def test_fault_specs_parse_and_bad_ones_are_refused_before_serving(capsys: pytest.CaptureFixture[str]) -> None:
    from loop_async._cli.main import main
    from loop_async.testing.faults import FaultInjector, parse_fault_spec

    kind, options = parse_fault_spec("slow_after_read, route=POST /draft-returns, times=2, delay=1.5")
    assert (kind, options) == ("slow_after_read", {"route": "POST /draft-returns", "times": 2, "delay": 1.5})
    fault = FaultInjector().inject_spec("drop_after,times=3")
    assert (fault.kind, fault.remaining) == ("act_then_drop", 3)  # the old name is an alias
    for bad in ("no_such_kind", "status,times=many", "status,colour=red"):
        with pytest.raises(ValueError, match="fault"):
            parse_fault_spec(bad)
    assert main(["fake-server", "--port", "0", "--fault", "status,colour=red"]) == 2
    assert "colour" in capsys.readouterr().err
