"""``Response``, the raw answer behind a result or an error, and ``capture_responses``.

At the bottom of the layers: it imports nothing that imports :mod:`loop_async.errors`, so that
errors can hold a ``Response``. It does no I/O (the transport builds responses).
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator, Mapping
from typing import Any, Final

import attrs
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from loop_async._sansio import json as _json

__all__ = ["EXCERPT_CHARS", "Response", "capture_responses", "excerpt", "record_response"]

#: How much of a body an error message quotes.
EXCERPT_CHARS: Final = 200
_RELEASED: Final = object()  # a Response whose parsed body was dropped (see without_parsed_body)


def excerpt(content: bytes) -> str:
    """The start of a body as text, for error messages."""
    return content[:EXCERPT_CHARS].decode("utf-8", "replace")


@attrs.frozen(kw_only=True)
class Response:
    """The raw answer behind a result or an error: status, headers, body and timing.

    ``data`` is the parsed JSON body (``None`` for an empty body).
    """

    method: str
    url: URL
    status: int
    headers: Mapping[str, str] = attrs.field(repr=False)
    content: bytes = attrs.field(repr=False)
    _data: Any = attrs.field(repr=False, alias="data")
    request_id: str | None
    attempts: int
    elapsed: float

    @property
    def data(self) -> Any:
        """The parsed JSON body (``None`` for an empty body)."""
        if self._data is _RELEASED:
            return _json.loads(self.content) if self.content.strip() else None
        return self._data

    def without_parsed_body(self) -> Response:
        """A copy that keeps the body bytes but not their parsed form (parsed again on access).

        Parsed JSON is several times larger than its bytes: holders of many responses (a
        navigator per pending draft) keep this copy once they have decoded what they need.
        """
        # Built directly: ``attrs.evolve`` costs twice as much, once per navigator.
        return Response(
            method=self.method,
            url=self.url,
            status=self.status,
            headers=self.headers,
            content=self.content,
            data=_RELEASED,
            request_id=self.request_id,
            attempts=self.attempts,
            elapsed=self.elapsed,
        )

    @property
    def excerpt(self) -> str:
        """The start of the body as text, for error messages."""
        return excerpt(self.content)

    def __reduce__(self) -> tuple[Any, ...]:
        # An error's ``response`` travels with it (pickle, copy): aiohttp's read-only headers
        # proxy does not pickle, so the headers go as a CIMultiDict; a released body stays so.
        released = self._data is _RELEASED
        fields = (self.method, self.url, self.status, CIMultiDict(self.headers), self.content)
        rest = (None if released else self._data, released, self.request_id, self.attempts, self.elapsed)
        return (_restore_response, fields + rest)


def _restore_response(
    method: str,
    url: URL,
    status: int,
    headers: CIMultiDict[str],
    content: bytes,
    data: Any,
    released: bool,
    request_id: str | None,
    attempts: int,
    elapsed: float,
) -> Response:
    return Response(
        method=method,
        url=url,
        status=status,
        headers=CIMultiDictProxy(headers),
        content=content,
        data=_RELEASED if released else data,
        request_id=request_id,
        attempts=attempts,
        elapsed=elapsed,
    )


_captured: contextvars.ContextVar[list[Response] | None] = contextvars.ContextVar("loop_async_captured", default=None)


@contextlib.contextmanager
def capture_responses() -> Iterator[list[Response]]:
    """Collect the raw :class:`Response` of every call made inside the block.

    For the calls that return a bare model (``returns.get``, ``deep_link``, ...)::

        with capture_responses() as responses:
            ret = await loop.returns.get(return_id=1)
        print(responses[-1].status, responses[-1].request_id)

    The list is per task (a :mod:`contextvars` variable), so concurrent calls elsewhere do
    not leak into it; tasks started inside the block capture into the same list.
    """
    responses: list[Response] = []
    token = _captured.set(responses)
    try:
        yield responses
    finally:
        _captured.reset(token)


def record_response(response: Response) -> Response:
    """Hand the final response of a call to any :func:`capture_responses` block around it."""
    captured = _captured.get()
    if captured is not None:
        captured.append(response)
    return response
