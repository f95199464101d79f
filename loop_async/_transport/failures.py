"""What a failed attempt becomes: the error for an aiohttp exception, and the words for giving up.

No key, no aiohttp exception is kept in what is built here (only type and text).
"""

from __future__ import annotations

import asyncio

import aiohttp
from yarl import URL

from loop_async._sansio.outcome import is_idempotent
from loop_async._sansio.retry import Outcome
from loop_async.errors import LoopTimeoutError, TransportError

__all__ = ["AttemptFailed", "give_up_hint", "transport_error"]


class AttemptFailed(Exception):
    """Internal: an attempt produced no response; carries the outcome for the retry decision."""

    def __init__(self, outcome: Outcome, error: TransportError) -> None:
        super().__init__(error.message)
        self.outcome = outcome
        self.error = error


def give_up_hint(method: str, error: TransportError, attempts: int) -> str:
    """What a transport failure means for the caller (the uncertain-outcome rule, in words)."""
    tries = f"{attempts} attempt{'s' if attempts != 1 else ''}"
    if error.request_sent is False:
        return f"nothing was sent ({tries})"
    if is_idempotent(method):
        return f"gave up after {tries}"
    return f"the {method} may have taken effect: it was not sent again ({tries})"


def transport_error(exc: BaseException, method: str, url: URL, *, sent: bool | None) -> TransportError:
    # Only the type and text of aiohttp's exception are kept: the exception itself carries
    # ``request_info`` with the request headers, the API key among them.
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, aiohttp.ClientSSLError):
        return TransportError(f"TLS error: {detail}", method=method, url=url, request_sent=sent)
    if isinstance(exc, asyncio.TimeoutError | aiohttp.ServerTimeoutError):
        return LoopTimeoutError(f"timed out ({type(exc).__name__})", method=method, url=url, request_sent=sent)
    return TransportError(f"{type(exc).__name__}: {detail}", method=method, url=url, request_sent=sent)
