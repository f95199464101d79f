"""The transport against a real loopback server: headers, error mapping, retries, limits."""

from __future__ import annotations

import asyncio
import itertools
import logging
import socket
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest
from aiohttp import web

from loop_async import (
    AuthenticationError,
    BadRequestError,
    ConflictError,
    DecodeError,
    FieldValidationError,
    LoopAPIError,
    LoopClient,
    LoopTimeoutError,
    NotFoundError,
    OutcomeUnknownError,
    PermissionDeniedError,
    RateLimitError,
    ResponseTooLargeError,
    RetryPolicy,
    ServerError,
    TransportError,
    UnprocessableEntityError,
    UnsafeLinkError,
)
from tests.conftest import API_KEY
from tests.scripted import ScriptedServer

PROCESS = "/warehouse/return/7/process"


async def test_sends_auth_user_agent_and_json(client: LoopClient, scripted: ScriptedServer) -> None:
    await client.returns.process(7, {"note": "ok"})
    [request] = scripted.requests
    assert request.method == "POST"
    assert request.path == "/api/v1/warehouse/return/7/process"
    assert request.headers["X-Authorization"] == API_KEY
    assert request.headers["User-Agent"].startswith("loop-async/")
    assert request.headers["Content-Type"] == "application/json"
    assert request.body == b'{"note":"ok"}'


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (409, ConflictError),
        (422, UnprocessableEntityError),
        (500, ServerError),
        (418, LoopAPIError),
    ],
)
async def test_status_maps_to_exception(
    client: LoopClient, scripted: ScriptedServer, status: int, error: type[LoopAPIError]
) -> None:
    scripted.answer(PROCESS, {"errors": {"message": "nope", "code": "SOME_CODE"}}, status=status)
    with pytest.raises(error) as info:
        await client.request("POST", PROCESS)  # the transport itself: return actions wrap an uncertain 500
    assert type(info.value) is error
    assert info.value.status == status
    assert info.value.code == "SOME_CODE"
    assert info.value.message == "nope"
    assert info.value.method == "POST"
    assert str(info.value.url).endswith(PROCESS)
    assert info.value.response is not None and info.value.response.status == status


@pytest.mark.parametrize(
    ("body", "error", "code"),
    [
        ({"errors": {"message": "Return cannot be processed", "code": "UNPROCESSABLE_RETURN"}}, UnprocessableEntityError, "UNPROCESSABLE_RETURN"),
        ({"message": "Something failed"}, LoopAPIError, None),
        ({"content": "Something failed"}, LoopAPIError, None),
        ({"error": {"message": "No return found"}}, LoopAPIError, None),
        ({"error": {"code": "401", "http_code": "GEN-UNAUTHORIZED", "message": "Unauthorized."}}, AuthenticationError, "GEN-UNAUTHORIZED"),
        ({"errors": "Unauthorized."}, AuthenticationError, None),
        ({"errors": [{"message": "Order not found", "code": "ORDER_NOT_FOUND"}]}, NotFoundError, "ORDER_NOT_FOUND"),
        ({"message": "The given data was invalid.", "errors": {"content": ["too long"]}}, UnprocessableEntityError, "validation-failed"),
    ],
)  # fmt: skip
async def test_every_error_shape_with_status_200_raises(
    client: LoopClient, scripted: ScriptedServer, body: object, error: type[LoopAPIError], code: str | None
) -> None:
    scripted.answer(PROCESS, body, status=200)
    with pytest.raises(error) as info:
        await client.returns.process(7)
    assert info.value.status == 200
    assert info.value.code == code
    assert info.value.message


async def test_success_requires_true_body(client: LoopClient, scripted: ScriptedServer) -> None:
    scripted.answer(PROCESS, "true")
    assert (await client.returns.process(7)).queued
    scripted.answer(PROCESS, False)
    with pytest.raises(OutcomeUnknownError) as info:  # a 200 that is not Loop's success: it may have acted
        await client.returns.process(7)
    assert isinstance(info.value.error, DecodeError)


async def test_429_with_retry_after_seconds_then_success(client: LoopClient, scripted: ScriptedServer) -> None:
    scripted.answer(PROCESS, {"message": "Too Many Attempts."}, status=429, headers={"Retry-After": "0"})
    result = await client.returns.process(7)
    assert result.response.attempts == 2
    assert len(scripted.requests) == 2  # a 429 is safe to retry even for a POST


async def test_429_with_http_date_retry_after(client: LoopClient, scripted: ScriptedServer) -> None:
    past = format_datetime(datetime.now(timezone.utc) - timedelta(seconds=5), usegmt=True)
    scripted.answer(PROCESS, {"message": "slow down"}, status=429, headers={"Retry-After": past})
    assert (await client.returns.process(7)).response.attempts == 2


async def test_429_without_retry_after_backs_off_then_gives_up(client: LoopClient, scripted: ScriptedServer) -> None:
    scripted.answer(PROCESS, {"message": "slow down"}, status=429, times=4)
    with pytest.raises(RateLimitError) as info:
        await client.returns.process(7)
    assert len(scripted.requests) == 4  # 1 + max_retries
    assert info.value.retry_after is None


async def test_retry_after_above_cap_raises_at_once(scripted: ScriptedServer) -> None:
    scripted.answer(PROCESS, {"message": "slow down"}, status=429, headers={"Retry-After": "3600"})
    policy = RetryPolicy(max_retries=3, max_retry_after=60)
    async with LoopClient(API_KEY, base_url=scripted.url, rate_limit=None, retry_policy=policy) as loop:
        with pytest.raises(RateLimitError) as info:
            await loop.returns.process(7)
    assert info.value.retry_after == 3600
    assert len(scripted.requests) == 1


async def test_503_then_200_is_retried(client: LoopClient, scripted: ScriptedServer) -> None:
    scripted.answer(PROCESS, {"message": "maintenance"}, status=503)
    assert (await client.returns.process(7)).response.attempts == 2


@pytest.mark.parametrize("status", [500, 502, 504])
async def test_post_that_may_have_reached_loop_is_not_retried(
    client: LoopClient, scripted: ScriptedServer, status: int
) -> None:
    scripted.answer(PROCESS, {"message": "boom"}, status=status)
    with pytest.raises(OutcomeUnknownError) as info:
        await client.returns.process(7)
    assert isinstance(info.value.error, ServerError) and info.value.error.status == status
    assert len(scripted.requests) == 1


async def test_get_is_retried_on_502(client: LoopClient, scripted: ScriptedServer) -> None:
    scripted.answer("/warehouse/return/7/notes", {"message": "bad gateway"}, status=502)
    scripted.answer("/warehouse/return/7/notes", {"notes": []})
    assert await client.returns.list_notes(7) == []
    assert len(scripted.requests) == 2


async def test_connection_dropped_get_retried_post_not(client: LoopClient, scripted: ScriptedServer) -> None:
    async def drop(request: web.Request) -> web.StreamResponse:
        assert request.transport is not None
        request.transport.close()
        return web.Response()

    scripted.handle("/warehouse/return/7/notes", drop)
    scripted.answer("/warehouse/return/7/notes", {"notes": []})
    assert await client.returns.list_notes(7) == []
    assert len(scripted.requests) == 2

    scripted.handle(PROCESS, drop)
    with pytest.raises(TransportError) as info:
        await client.request("POST", PROCESS)
    assert info.value.request_sent is not False
    assert info.value.attempts == 1
    assert "may have taken effect" in str(info.value)
    assert len(scripted.requests) == 3


def _refused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed on exit: nothing listens there


async def test_connection_refused_is_retried_even_for_post() -> None:
    policy = RetryPolicy(max_retries=2, backoff_base=0.001)
    async with LoopClient(API_KEY, base_url=f"http://127.0.0.1:{_refused_port()}", rate_limit=None,
                          retry_policy=policy) as loop:  # fmt: skip
        with pytest.raises(TransportError) as info:
            await loop.returns.process(7)
    assert info.value.request_sent is False
    assert info.value.attempts == 3
    assert loop.stats["retries"] == 2


async def test_timeout_raises_loop_timeout_error_and_post_not_retried(scripted: ScriptedServer) -> None:
    release = asyncio.Event()

    async def hang(_: web.Request) -> web.StreamResponse:
        await release.wait()
        return web.json_response(True)

    scripted.handle(PROCESS, hang)
    try:
        async with LoopClient(API_KEY, base_url=scripted.url, rate_limit=None, timeout=0.2) as loop:
            with pytest.raises(LoopTimeoutError) as info:
                await loop.request("POST", PROCESS)
    finally:
        release.set()
    assert isinstance(info.value, TimeoutError)
    assert len(scripted.requests) == 1


async def test_cancellation_mid_backoff_stops_at_once(scripted: ScriptedServer) -> None:
    scripted.answer(PROCESS, {"message": "slow"}, status=429, headers={"Retry-After": "30"})
    backing_off = asyncio.Event()

    class OnRetry(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "retrying" in record.getMessage():
                backing_off.set()

    handler = OnRetry(logging.DEBUG)
    logger = logging.getLogger("loop_async")
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        async with LoopClient(API_KEY, base_url=scripted.url, rate_limit=None) as loop:
            task = asyncio.create_task(loop.returns.process(7))
            await backing_off.wait()  # the client read the 429 and starts its 30 s wait
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    assert len(scripted.requests) == 1


async def test_html_error_page_maps_status(client: LoopClient, scripted: ScriptedServer) -> None:
    scripted.answer(PROCESS, raw=b"<html><body>Bad gateway</body></html>", status=500, content_type="text/html")
    with pytest.raises(ServerError) as info:
        await client.request("POST", PROCESS)
    assert "Bad gateway" in info.value.message


async def test_html_with_200_is_decode_error(client: LoopClient, scripted: ScriptedServer) -> None:
    scripted.answer("/warehouse/return/7/notes", raw=b"<html>oops</html>", content_type="text/html")
    with pytest.raises(DecodeError) as info:
        await client.returns.list_notes(7)
    assert "oops" in str(info.value)


async def test_body_over_cap_is_refused(scripted: ScriptedServer) -> None:
    scripted.answer("/warehouse/return/7/notes", {"notes": [], "pad": "x" * 5000})
    async with LoopClient(API_KEY, base_url=scripted.url, rate_limit=None, max_response_bytes=1000) as loop:
        with pytest.raises(ResponseTooLargeError):
            await loop.returns.list_notes(7)


async def test_redirect_to_other_origin_is_refused_without_sending_key(
    client: LoopClient, scripted: ScriptedServer
) -> None:
    scripted.answer(PROCESS, None, status=307, headers={"Location": "http://127.0.0.2:9/steal"})
    with pytest.raises(UnsafeLinkError):
        await client.returns.process(7)
    assert len(scripted.requests) == 1


async def test_same_origin_redirect_of_a_get_is_followed(client: LoopClient, scripted: ScriptedServer) -> None:
    scripted.answer(
        "/warehouse/return/7/notes", None, status=307, headers={"Location": "/api/v1/warehouse/return/8/notes"}
    )
    scripted.answer("/warehouse/return/8/notes", {"notes": []})
    assert await client.returns.list_notes(7) == []
    assert scripted.paths() == ["/api/v1/warehouse/return/7/notes", "/api/v1/warehouse/return/8/notes"]


async def test_max_concurrency_bounds_requests_in_flight(scripted: ScriptedServer) -> None:
    in_flight = 0
    peak = 0
    gate = asyncio.Event()

    async def slow(_: web.Request) -> web.StreamResponse:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        if peak >= 3:
            gate.set()
        await gate.wait()
        in_flight -= 1
        return web.json_response(True)

    for n in range(1, 11):
        scripted.handle(f"/warehouse/return/{n}/close", slow)
    async with LoopClient(API_KEY, base_url=scripted.url, rate_limit=None, max_concurrency=3) as loop:
        await asyncio.gather(*(loop.returns.close(n) for n in range(1, 11)))
    assert peak == 3


async def test_every_attempt_logged_at_debug_without_key(
    client: LoopClient, scripted: ScriptedServer, caplog: pytest.LogCaptureFixture
) -> None:
    scripted.answer(PROCESS, {"message": "busy"}, status=503)
    with caplog.at_level(logging.DEBUG, logger="loop_async"):
        await client.returns.process(7)
    messages = [r.getMessage() for r in caplog.records if r.name == "loop_async"]
    assert any("-> 503" in m for m in messages)
    assert any("retrying" in m for m in messages)
    assert any("-> 200" in m for m in messages)
    assert all(API_KEY not in m for m in messages)


async def test_raw_request_escape_hatch(client: LoopClient, scripted: ScriptedServer) -> None:
    scripted.answer("/anything/new", {"hello": "world"}, headers={"X-Request-Id": "req-1"})
    response = await client.request("GET", "anything/new", params={"q": "a b"})
    assert response.data == {"hello": "world"}
    assert response.request_id == "req-1"
    assert scripted.requests[0].query == {"q": "a b"}


async def test_retry_after_above_cap_does_not_stall_later_calls(scripted: ScriptedServer) -> None:
    scripted.answer(PROCESS, {"message": "slow down"}, status=429, headers={"Retry-After": "3600"})
    async with LoopClient(API_KEY, base_url=scripted.url, retry_policy=RetryPolicy(max_retry_after=0.01)) as loop:
        with pytest.raises(RateLimitError):
            await loop.returns.process(7)
        # The limiter paused for at most the policy's cap, not the hour Loop asked for.
        assert loop.rate_limiter is not None
        assert loop.rate_limiter.state.paused_for <= 0.01  # type: ignore[attr-defined]
        await asyncio.wait_for(loop.returns.process(7), 5)


async def test_compressed_body_is_capped_after_decompression(scripted: ScriptedServer) -> None:
    import gzip

    payload = b'{"notes": [], "pad": "' + b"x" * 200_000 + b'"}'
    scripted.answer("/warehouse/return/7/notes", raw=gzip.compress(payload), headers={"Content-Encoding": "gzip"})
    async with LoopClient(API_KEY, base_url=scripted.url, rate_limit=None, max_response_bytes=50_000) as loop:
        with pytest.raises(ResponseTooLargeError):
            await loop.returns.list_notes(7)


async def test_timeout_applies_to_a_caller_owned_session(scripted: ScriptedServer) -> None:
    import aiohttp

    release = asyncio.Event()

    async def hang(_: web.Request) -> web.StreamResponse:
        await release.wait()
        return web.json_response(True)

    scripted.handle(PROCESS, hang)
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session,
            LoopClient(API_KEY, base_url=scripted.url, rate_limit=None, timeout=0.2, session=session) as loop,
        ):
            with pytest.raises(LoopTimeoutError):
                await asyncio.wait_for(loop.request("POST", PROCESS), 10)
    finally:
        release.set()


async def test_rate_limit_slots_are_taken_inside_the_concurrency_bound(scripted: ScriptedServer) -> None:
    """A stalled server then answering everything must not release a burst of queued requests."""
    arrived = asyncio.Event()
    release = asyncio.Event()
    stamps: list[float] = []

    async def first_stalls(_: web.Request) -> web.StreamResponse:
        arrived.set()
        await release.wait()
        return web.json_response(True)

    async def record(_: web.Request) -> web.StreamResponse:
        stamps.append(asyncio.get_running_loop().time())
        return web.json_response(True)

    scripted.handle("/warehouse/return/1/close", first_stalls)
    for n in range(2, 7):
        scripted.handle(f"/warehouse/return/{n}/close", record)
    async with LoopClient(API_KEY, base_url=scripted.url, rate_limit=1200, max_concurrency=2) as loop:
        first = asyncio.create_task(loop.returns.close(1))
        await arrived.wait()
        rest = [asyncio.create_task(loop.returns.close(n)) for n in range(2, 7)]
        release.set()
        await asyncio.gather(first, *rest)
    gaps = [b - a for a, b in itertools.pairwise(sorted(stamps))]
    assert min(gaps) >= 0.05 * 0.5  # paced at 1200/min (50 ms), never a burst of stale slots


async def test_a_body_that_is_not_json_serialisable_is_refused_before_sending(
    client: LoopClient, scripted: ScriptedServer
) -> None:
    with pytest.raises(FieldValidationError) as info:
        await client.returns.process(7, {"tags": {1, 2}})
    assert info.value.names == ("body",)
    assert scripted.requests == []


async def test_capture_responses_reaches_the_raw_response_of_model_calls(
    client: LoopClient, scripted: ScriptedServer
) -> None:
    from loop_async import capture_responses

    scripted.answer("/order/link", {"url": "https://x"}, headers={"X-Request-Id": "rid-9"})
    with capture_responses() as seen:
        await client.returns.deep_link(order_name="#1", zip="1")
    assert [(r.status, r.request_id) for r in seen] == [(200, "rid-9")]


async def test_capture_responses_includes_the_answers_that_raised(client: LoopClient, scripted: ScriptedServer) -> None:
    from loop_async import capture_responses

    scripted.answer(PROCESS, {"errors": {"message": "no", "code": "UNPROCESSABLE_RETURN"}}, status=200)
    scripted.answer(PROCESS, {"message": "gone"}, status=404)
    with capture_responses() as seen:
        for _ in range(2):
            with pytest.raises(LoopAPIError):
                await client.returns.process(7)
    assert [r.status for r in seen] == [200, 404]
