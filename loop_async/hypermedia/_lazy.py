"""A navigator's resource, decoded on first access: a step that never reads it never pays for it.

Holds the response (or plain data) and the ``decode`` function until the first read; knows
nothing of links or keys.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from loop_async._response import Response

__all__ = ["UNDECODED", "LazyResource"]

UNDECODED: Any = object()


class LazyResource:
    """A state's resource, decoded on first access from the response's body (or the plain data).

    The parsed JSON of a response is kept until the end of the current event-loop step only:
    a caller that reads ``resource`` right after the call returns decodes it without parsing
    the body again, and a navigator held across an ``await`` (a pending flow) holds the bytes.
    """

    __slots__ = ("_decode", "_parsed", "_source", "_value")

    def __init__(self, decode: Callable[[Any], Any], source: Any, parsed: Any = UNDECODED) -> None:
        self._decode: Callable[[Any], Any] | None = decode
        self._source = source
        self._parsed = parsed
        self._value: Any = UNDECODED
        if parsed is not UNDECODED:
            try:
                asyncio.get_running_loop().call_soon(self.release)
            except RuntimeError:  # no loop running: nothing to wait for
                self._parsed = UNDECODED

    def release(self) -> None:
        self._parsed = UNDECODED

    def get(self) -> Any:
        if self._value is UNDECODED:
            data = self._parsed
            if data is UNDECODED:
                source = self._source
                data = source.data if isinstance(source, Response) else source
            assert self._decode is not None
            self._value = self._decode(data)  # a DecodeError leaves it undecoded: raised again next time
            self._decode = self._source = self._parsed = None  # the navigator keeps the body; this needs neither
        return self._value
