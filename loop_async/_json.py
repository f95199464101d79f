"""JSON in and out: orjson when it is installed (the ``speedups`` extra), else the stdlib."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

__all__ = ["backend", "dumps", "loads"]

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
        """Parse JSON text."""
        return orjson.loads(data)

    def dumps(obj: Any) -> bytes:
        """Serialise to compact UTF-8 JSON."""
        return orjson.dumps(obj, default=_default)

else:  # pragma: no cover
    backend = "json"

    def loads(data: bytes | str) -> Any:
        """Parse JSON text."""
        return json.loads(data)

    def dumps(obj: Any) -> bytes:
        """Serialise to compact UTF-8 JSON."""
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, default=_default).encode()
