"""The statuses of ``loop-async bulk`` rows: the status, error code and error details of a finished row.

The status comes from the one uncertain-outcome rule, :mod:`loop_async._sansio.outcome`, and is
never decided here; this module only names it for the output. No I/O.
"""

from __future__ import annotations

import asyncio
from typing import Any

from loop_async._sansio.outcome import OutcomeKind
from loop_async._sansio.outcome import classify as outcome_kind
from loop_async.errors import LoopAPIError, OutcomeUnknownError, PartialOutcomeError

__all__ = ["STATUSES", "classify", "error_code", "error_info"]

#: The statuses of a finished row, in the order summaries list them: ok, failed, unknown, partial.
STATUSES = tuple(kind.value for kind in OutcomeKind)


def classify(error: BaseException | None) -> str:
    """The row's status for ``error`` (``None``: ``ok``): the one rule, ``_sansio.outcome``."""
    return outcome_kind(error).value


def error_code(error: BaseException) -> str:
    """A short code for the failure summary: Loop's error code, else the status or the type."""
    if isinstance(error, OutcomeUnknownError | PartialOutcomeError) and not isinstance(
        error.error, asyncio.CancelledError
    ):
        return error_code(error.error)
    if isinstance(error, LoopAPIError):
        return error.code or f"HTTP {error.status}"
    if isinstance(error, asyncio.CancelledError):
        return "interrupted"
    return type(error).__name__


def error_info(error: BaseException) -> dict[str, Any]:
    """The ``error`` object of an outcome line: type, code, message (and Loop's HTTP status)."""
    info: dict[str, Any] = {"type": type(error).__name__, "code": error_code(error), "message": str(error)[:500]}
    if isinstance(error, LoopAPIError):
        info["status"] = error.status
    return info
