"""Hooks around every call, the LOOP_LOG switch, aiohttp trace configs and middlewares, and the
OpenTelemetry span per call (recorded by the SDK's in-memory exporter, never the key)."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
from typing import Any

import aiohttp
import pytest

from loop_async import (
    ErrorEvent,
    FieldValidationError,
    Hooks,
    LoopClient,
    OutcomeUnknownError,
    RequestEvent,
    RetryEvent,
    RetryPolicy,
)
from loop_async.testing import ALL_SCOPES, FakeLoopServer

KEY = "sk_live_HOOKS-SECRET-0042"
NOTES = "GET /warehouse/return/{return_id}/notes"
FAST = RetryPolicy(max_retries=3, backoff_base=0.001, backoff_max=0.01)


async def test_every_call_reports_its_attempts_retries_and_end() -> None:
    events: list[Any] = []
    hooks = Hooks(on_request=events.append, on_retry=events.append, on_response=events.append, on_error=events.append)
    async with FakeLoopServer(api_keys={KEY: ALL_SCOPES}) as server:
        rid = server.seed_return()
        async with LoopClient(KEY, base_url=server.url, rate_limit=None, retry_policy=FAST, hooks=hooks) as loop:
            server.faults.inject("status", route=NOTES, status=503)
            await loop.returns.list_notes(rid)  # 503 then 422 "no notes" -> []
            first = list(events)
            events.clear()
            server.faults.inject("status", route="POST /warehouse/return/{return_id}/close", status=500)
            with pytest.raises(OutcomeUnknownError):
                await loop.returns.close(rid)
    # list_notes answers its 422 as [] inside the SDK: for the transport the call ended in an error.
    assert [type(e) for e in first] == [RequestEvent, RetryEvent, RequestEvent, ErrorEvent]
    assert len({e.tag for e in first}) == 1 and [e.attempt for e in first if isinstance(e, RequestEvent)] == [1, 2]
    assert first[1].status == 503 and "HTTP 503" in first[1].reason
    [request, failed] = events
    assert isinstance(request, RequestEvent) and request.method == "POST"
    assert isinstance(failed, ErrorEvent) and getattr(failed.error, "status", None) == 500
    assert all(KEY not in repr(e) for e in [*first, *events])


async def test_a_hook_that_raises_changes_nothing(caplog: pytest.LogCaptureFixture) -> None:
    def broken(_: object) -> None:
        raise RuntimeError("hook bug")

    async with FakeLoopServer() as server:
        rid = server.seed_return()
        async with LoopClient(
            server.api_key, base_url=server.url, rate_limit=None, hooks=Hooks(on_response=broken)
        ) as loop:
            result = await loop.returns.close(rid)
    assert result.action == "close" and server.returns[rid].state == "closed"
    assert any("hook on_response failed" in r.getMessage() for r in caplog.records)


async def test_a_cancelled_call_ends_in_on_error() -> None:
    ends: list[ErrorEvent] = []
    started = asyncio.Event()
    hooks = Hooks(on_request=lambda _: started.set(), on_error=ends.append)
    async with FakeLoopServer() as server:
        rid = server.seed_return()
        server.faults.inject("delay", delay=30)
        async with LoopClient(server.api_key, base_url=server.url, rate_limit=None, hooks=hooks) as loop:
            task = asyncio.create_task(loop.returns.list_notes(rid))
            await started.wait()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
    assert len(ends) == 1 and isinstance(ends[0].error, asyncio.CancelledError)


async def test_trace_configs_and_middlewares_reach_the_session_never_the_key() -> None:
    seen_headers: list[dict[str, str]] = []

    async def middleware(request: aiohttp.ClientRequest, handler: Any) -> aiohttp.ClientResponse:
        seen_headers.append(dict(request.headers))
        return await handler(request)

    started: list[str] = []

    async def on_start(_: Any, __: Any, params: aiohttp.TraceRequestStartParams) -> None:
        started.append(params.method)

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_start)
    async with FakeLoopServer(api_keys={KEY: ALL_SCOPES}) as server:
        rid = server.seed_return()
        async with LoopClient(
            KEY, base_url=server.url, rate_limit=None, trace_configs=[trace], middlewares=[middleware]
        ) as loop:
            await loop.returns.close(rid)
    assert started == ["POST"]
    assert len(seen_headers) == 1 and "User-Agent" in seen_headers[0]
    assert all(KEY not in value for value in seen_headers[0].values())  # the key is added innermost
    with pytest.raises(FieldValidationError) as both:
        async with aiohttp.ClientSession() as own:
            LoopClient(KEY, session=own, middlewares=[middleware], hooks="yes")  # type: ignore[arg-type]
    assert set(both.value.names) == {"session", "hooks"}


async def test_log_lines_carry_a_request_tag_and_the_attempt(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="loop_async")
    async with FakeLoopServer() as server:
        rid = server.seed_return()
        async with LoopClient(server.api_key, base_url=server.url, rate_limit=None, timeout=0.2) as loop:
            server.faults.inject("slow_after_read", delay=0.4)
            with pytest.raises(OutcomeUnknownError):
                await loop.returns.process(rid)
            await server.wait_idle()
    lines = [r.getMessage() for r in caplog.records if r.name == "loop_async"]
    decision = [r for r in caplog.records if "may have taken effect" in r.getMessage()]
    assert decision and decision[0].levelno == logging.INFO  # not retrying an unsafe request is visible at INFO
    assert any(line.startswith("[") and " #1] POST " in line for line in lines)


def test_loop_log_switches_logging_on_without_code() -> None:
    code = (
        "import asyncio, logging\n"
        "import loop_async\n"
        "assert logging.getLogger('loop_async').level == logging.DEBUG\n"
        "logging.getLogger('loop_async').debug('hello from the SDK')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, env={**os.environ, "LOOP_LOG": "debug"}, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert b"hello from the SDK" in done.stderr
    quiet = subprocess.run(
        [sys.executable, "-c", "import logging, loop_async; assert not logging.getLogger('loop_async').handlers"],
        capture_output=True,
        env={k: v for k, v in os.environ.items() if k != "LOOP_LOG"},
        timeout=60,
    )
    assert quiet.returncode == 0, quiet.stderr


async def test_one_span_per_call_with_attempts_status_and_error_code() -> None:
    pytest.importorskip("opentelemetry.sdk")
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from loop_async.otel import tracing_hooks

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    async with FakeLoopServer(api_keys={KEY: ALL_SCOPES, "sk_orders_only": ("Orders",)}) as server:
        rid = server.seed_return()
        hooks = tracing_hooks(provider)
        async with LoopClient(KEY, base_url=server.url, rate_limit=None, retry_policy=FAST, hooks=hooks) as loop:
            server.faults.inject(
                "status", route="POST /warehouse/return/{return_id}/close", status=429, retry_after="0"
            )
            await loop.returns.close(rid)
        async with LoopClient("sk_orders_only", base_url=server.url, rate_limit=None, hooks=hooks) as narrow:
            with pytest.raises(Exception, match="401"):
                await narrow.returns.close(rid)
    ok, refused = exporter.get_finished_spans()
    assert ok.name == "POST" and ok.attributes is not None and refused.attributes is not None
    assert ok.attributes["http.response.status_code"] == 200 and ok.attributes["loop.attempts"] == 2
    assert [e.name for e in ok.events] == ["retry"]
    assert refused.attributes["http.response.status_code"] == 401
    assert refused.attributes["loop.error_code"] and refused.attributes["loop.outcome"] == "failed"
    assert refused.status.is_ok is False
    everything = repr(
        [(s.name, dict(s.attributes or {}), [dict(e.attributes or {}) for e in s.events]) for s in (ok, refused)]
    )
    assert KEY not in everything and "sk_orders_only" not in everything
