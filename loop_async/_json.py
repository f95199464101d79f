"""JSON in and out: orjson when it is installed (the ``speedups`` extra), else the stdlib."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["JSONDecodeError", "backend", "dumps", "loads"]

try:
    import orjson
except ImportError:  # pragma: no cover - exercised when the extra is absent
    orjson = None  # type: ignore[assignment]

JSONDecodeError = ValueError  # both backends raise subclasses of ValueError (incl. bad UTF-8)


def _default(obj: Any) -> Any:
    # Decimal and other exact types are sent as strings, never as binary floats.
    return str(obj)


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
