"""OpenTelemetry: one client span per call, with its attempts, status and Loop's error code.

Extra ``otel`` (``pip install 'loop-async[otel]'``)::

    from loop_async import LoopClient
    from loop_async.otel import tracing_hooks

    async with LoopClient(key, hooks=tracing_hooks()) as loop:
        ...

Attributes follow OpenTelemetry's HTTP client conventions (``http.request.method``,
``url.full``, ``server.address``, ``http.response.status_code``, ``error.type``) plus
``loop.attempts``, ``loop.error_code`` and ``loop.outcome`` (``failed`` or ``unknown``: the
uncertain-outcome rule). Each retry is an event on the span. No header is recorded, so the API
key never is.
"""

from __future__ import annotations

from typing import Any

from loop_async._hooks import ErrorEvent, Hooks, RequestEvent, ResponseEvent, RetryEvent
from loop_async._sansio.outcome import classify
from loop_async._version import __version__
from loop_async.errors import LoopAPIError, TransportError

__all__ = ["tracing_hooks"]


def tracing_hooks(tracer_provider: Any = None) -> Hooks:
    """:class:`~loop_async._hooks.Hooks` that record a span per call (the global provider by default)."""
    from opentelemetry import trace  # the `otel` extra

    tracer = trace.get_tracer("loop_async", __version__, tracer_provider=tracer_provider)
    spans: dict[str, Any] = {}  # open calls, by tag; every call ends in on_response or on_error

    def on_request(event: RequestEvent) -> None:
        if event.attempt == 1:
            spans[event.tag] = tracer.start_span(
                event.method,
                kind=trace.SpanKind.CLIENT,
                attributes={
                    "http.request.method": event.method,
                    "url.full": str(event.url),
                    "server.address": event.url.host or "",
                    "loop.request_tag": event.tag,
                },
            )

    def on_retry(event: RetryEvent) -> None:
        span = spans.get(event.tag)
        if span is not None:
            attributes: dict[str, Any] = {"loop.attempt": event.attempt, "loop.delay": event.delay}
            attributes["loop.reason"] = event.reason
            if event.status is not None:
                attributes["http.response.status_code"] = event.status
            span.add_event("retry", attributes)

    def on_response(event: ResponseEvent) -> None:
        span = spans.pop(event.tag, None)
        if span is not None:
            span.set_attribute("http.response.status_code", event.response.status)
            span.set_attribute("loop.attempts", event.response.attempts)
            span.end()

    def on_error(event: ErrorEvent) -> None:
        span = spans.pop(event.tag, None)
        if span is None:
            return
        error = event.error
        span.set_attribute("error.type", type(error).__name__)
        span.set_attribute("loop.outcome", classify(error).value)
        if isinstance(error, LoopAPIError):
            span.set_attribute("http.response.status_code", error.status)
            if error.code:
                span.set_attribute("loop.error_code", error.code)
            if error.response is not None:
                span.set_attribute("loop.attempts", error.response.attempts)
        elif isinstance(error, TransportError):
            span.set_attribute("loop.attempts", error.attempts)
        span.set_status(trace.Status(trace.StatusCode.ERROR, str(error)[:200]))
        span.end()

    return Hooks(on_request=on_request, on_retry=on_retry, on_response=on_response, on_error=on_error)
