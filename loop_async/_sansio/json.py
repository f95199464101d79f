"""JSON in and out: orjson when it is installed (the ``speedups`` extra), else the stdlib.

Parsing is bounded, whichever the backend: too deep (:data:`MAX_DEPTH`) or too many values
(:data:`MAX_ITEMS`) is a :class:`JSONLimitError` (a ``ValueError``) before parsing. No I/O and
no SDK import: the one module of ``_sansio`` that :mod:`loop_async._response` may use.
"""

from __future__ import annotations

import itertools
import json
import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Final

__all__ = ["MAX_DEPTH", "MAX_ITEMS", "JSONLimitError", "backend", "check_cost", "dumps", "loads"]

#: Deepest nesting accepted. Loop's documents nest about 10 levels; orjson stops at 1024.
MAX_DEPTH: Final = 128
#: Most values (containers and scalars) accepted in one document: ~100 MB parsed at worst.
MAX_ITEMS: Final = 1_000_000

# A JSON string (its brackets and commas are not structure); DOTALL: a raw newline in one is
# invalid JSON, but must not change what is skipped.
_STRING: Final = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET: Final = re.compile(rb"[^\[\]{}]+")
_DEPTH_STEP: Final = [0] * 256
_DEPTH_STEP[ord("[")] = _DEPTH_STEP[ord("{")] = 1
_DEPTH_STEP[ord("]")] = _DEPTH_STEP[ord("}")] = -1


class JSONLimitError(ValueError):
    """The document is nested too deep or holds too many values to be parsed safely.

    Internal: the transport turns it into :class:`~loop_async.errors.DecodeError` (this module
    sits below ``errors``); a body parsed again later (``Response.data``) passed the same limits.
    """


def check_cost(data: bytes | str) -> None:
    """Refuse a document whose parsed form would be too deep or too large, before parsing it.

    Counts on the raw bytes first (C speed, no allocation per value): most bodies have too
    few brackets and commas to matter. Only then are strings blanked out and depth measured.
    """
    raw = data.encode() if isinstance(data, str) else data
    opens = raw.count(b"[") + raw.count(b"{")
    # Every value takes at least one byte: a body shorter than MAX_ITEMS needs no comma count.
    if opens <= MAX_DEPTH and (len(raw) < MAX_ITEMS or opens + raw.count(b",") < MAX_ITEMS):
        return
    bare = _STRING.sub(b'""', raw)
    opens = bare.count(b"[") + bare.count(b"{")
    items = opens + bare.count(b",") + 1
    if items > MAX_ITEMS:
        raise JSONLimitError(f"JSON document holds about {items} values, more than the {MAX_ITEMS} accepted")
    if opens > MAX_DEPTH:
        depth = max(itertools.accumulate(map(_DEPTH_STEP.__getitem__, _NOT_BRACKET.sub(b"", bare))))
        if depth > MAX_DEPTH:
            raise JSONLimitError(f"JSON document is nested {depth} levels deep, more than the {MAX_DEPTH} accepted")


try:
    import orjson
except ImportError:  # pragma: no cover - exercised when the extra is absent
    orjson = None  # type: ignore[assignment]

# Both backends raise subclasses of ValueError for bad JSON (bad UTF-8 included).


def _default(obj: Any) -> Any:
    # Money goes as an exact string, never a binary float; dates as ISO 8601 with either
    # backend. Anything else is a mistake to report, not to send as its repr.
    if isinstance(obj, Decimal):
        return str(obj)
    if isinstance(obj, datetime | date):
        return obj.isoformat()
    raise TypeError(f"{type(obj).__name__} is not JSON-serialisable")


if orjson is not None:
    backend = "orjson"

    def loads(data: bytes | str) -> Any:
        """Parse JSON text (bounded: see :func:`check_cost`)."""
        check_cost(data)
        return orjson.loads(data)

    def dumps(obj: Any) -> bytes:
        """Serialise to compact UTF-8 JSON."""
        return orjson.dumps(obj, default=_default)

else:  # pragma: no cover
    backend = "json"

    def loads(data: bytes | str) -> Any:
        """Parse JSON text (bounded: see :func:`check_cost`)."""
        check_cost(data)
        return json.loads(data)

    def dumps(obj: Any) -> bytes:
        """Serialise to compact UTF-8 JSON."""
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, default=_default).encode()
