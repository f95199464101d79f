"""A navigator's resource, decoded on first access: a step that never reads it never pays for it.

Holds the response (or plain data) and the ``decode`` function until the first read; knows
nothing of links or keys.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from loop_async._response import Response

__all__ = ["UNDECODED", "LazyResource"]

UNDECODED: Any = object()


class LazyResource:
    """A state's resource, decoded on first access from the response's body (or the plain data).

    The parsed JSON of a response is not kept: the first access parses the body again. Keeping
    it even for one event-loop step was measured slower, for the step *and* for the typed read
    (the garbage collector walks and promotes every parsed tree still alive), than the second
    parse (``docs/performance.md``).
    """

    __slots__ = ("_decode", "_source", "_value")

    def __init__(self, decode: Callable[[Any], Any], source: Any) -> None:
        self._decode: Callable[[Any], Any] | None = decode
        self._source = source
        self._value: Any = UNDECODED

    def get(self) -> Any:
        if self._value is UNDECODED:
            source = self._source
            data = source.data if isinstance(source, Response) else source
            assert self._decode is not None
            self._value = self._decode(data)  # a DecodeError leaves it undecoded: raised again next time
            self._decode = self._source = None  # the navigator keeps the body; this needs neither
        return self._value
