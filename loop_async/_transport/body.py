"""Request and response bodies: encoding what is sent, reading (capped) and parsing what came back.

Parsing is bounded (:func:`loop_async._sansio.json.check_cost`); nothing here decides retries
or error classes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any, Final
from urllib.parse import urlencode

import aiohttp
from yarl import URL

from loop_async._response import excerpt
from loop_async._sansio import json as _json
from loop_async._sansio.problems import Problems
from loop_async.errors import DecodeError, ResponseTooLargeError

__all__ = ["NO_BODY", "FormBody", "encode_body", "encode_form", "parse_body", "read_capped"]

#: Marks "send no body" (``None`` would be the JSON body ``null``).
NO_BODY: Final = object()
# Bodies at least this large are parsed in a worker thread: parsing 16 MiB takes ~100 ms.
_PARSE_IN_THREAD_FROM: Final = 256 * 1024


class FormBody(bytes):
    """An ``application/x-www-form-urlencoded`` body: bytes that carry their content type."""

    content_type: Final = "application/x-www-form-urlencoded"


def encode_form(form: Sequence[tuple[str, str]] | Mapping[str, str]) -> FormBody:
    """A form body from name/value pairs (a name may repeat) or a mapping."""
    return FormBody(urlencode(list(form.items()) if isinstance(form, Mapping) else list(form)).encode())


def encode_body(value: Any) -> bytes:
    """The JSON body for ``value``; a value that is not JSON is a :class:`FieldValidationError`."""
    try:
        return _json.dumps(value)
    except (TypeError, ValueError) as exc:
        raise Problems.single("body", f"is not JSON-serialisable: {exc}") from None


async def read_capped(resp: aiohttp.ClientResponse, method: str, url: URL, cap: int) -> bytes:
    """The body of ``resp``, refused with :class:`ResponseTooLargeError` past ``cap`` bytes."""
    length = resp.content_length
    if length is not None and length > cap:
        resp.close()
        raise ResponseTooLargeError(f"{method} {url}: body of {length} bytes exceeds max_response_bytes={cap}")
    if length is not None and resp.headers.get("Content-Encoding", "identity") == "identity":
        return await resp.read()  # the fast path: the length on the wire is the length read
    chunks: list[bytes] = []
    total = 0
    async for chunk in resp.content.iter_chunked(65536):
        total += len(chunk)
        if total > cap:
            resp.close()
            raise ResponseTooLargeError(f"{method} {url}: body exceeds max_response_bytes={cap}")
        chunks.append(chunk)
    return b"".join(chunks)


async def parse_body(content: bytes, status: int) -> Any:
    """Parse the body; a non-JSON body is kept as ``None`` for errors, refused for 2xx.

    Parsing is bounded (:func:`loop_async._sansio.json.check_cost`: depth and value count), and a
    large body is parsed in a worker thread, so that it does not stall the event loop.
    """
    if not content or content.isspace():
        return None
    try:
        if len(content) >= _PARSE_IN_THREAD_FROM:
            return await asyncio.to_thread(_json.loads, content)
        return _json.loads(content)
    except ValueError as exc:
        if status >= 400:
            return None  # an HTML error page (or a parse bomb): the status says enough
        why = str(exc) if isinstance(exc, _json.JSONLimitError) else "is not JSON"
        raise DecodeError(f"HTTP {status} body {why}", excerpt=excerpt(content), status=status) from None
