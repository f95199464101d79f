"""The API key, hidden: the holder that no repr or log shows, the middleware that puts it on the wire,
and the scrubbing of what a server echoed back.

No error, log line, frame local or pickle holds the key; this module is where that is kept true.
"""

from __future__ import annotations

from typing import Any, Final

import aiohttp
import attrs
from yarl import URL

from loop_async.errors import LoopAPIError, LoopError

__all__ = ["OnTheWire", "Secret", "scrub_error"]

# A shorter key is not scrubbed from what the server sent: replacing it would garble the text.
_SCRUB_MIN_KEY: Final = 8


class Secret:
    """Holds the API key so that no repr, log or traceback local shows it.

    Code that needs the key uses it through this object's methods, so that it is never a
    local variable of a frame that can raise (error reporters record frame locals).
    """

    __slots__ = ("_bytes", "_value")

    def __init__(self, value: str) -> None:
        self._value = value
        self._bytes = value.encode()

    def reveal(self) -> str:
        return self._value

    def scrub(self, text: str) -> str:
        """``text`` with the key replaced by ``***`` (a server may echo it in an error)."""
        if len(self._value) < _SCRUB_MIN_KEY or self._value not in text:
            return text
        return text.replace(self._value, "***")

    def scrub_bytes(self, data: bytes) -> bytes:
        if len(self._bytes) < _SCRUB_MIN_KEY or self._bytes not in data:
            return data
        return data.replace(self._bytes, b"***")

    def __repr__(self) -> str:
        return "'***'"

    __str__ = __repr__

    def __reduce__(self) -> tuple[Any, ...]:
        # Whatever holds the key (a client, a navigator) is never pickled or copied with it.
        raise TypeError("a loop-async client or navigator holds the API key: it cannot be pickled or copied")


class OnTheWire:
    """aiohttp middleware for one request: adds the key on the wire, allows no silent re-send.

    The key is set on aiohttp's request object as it is sent, so it is in no headers dict of
    ours or of aiohttp's ``_request`` frame (frame locals are what error reporters record).
    """

    __slots__ = ("_failed", "_secret")

    def __init__(self, secret: Secret) -> None:
        self._secret = secret
        self._failed: aiohttp.ClientError | None = None

    async def __call__(
        self, request: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
    ) -> aiohttp.ClientResponse:
        if self._failed is not None:
            # aiohttp re-sends an idempotent request once, on a new connection, when a pooled
            # one was reset: an attempt that nobody counts or rate-limits. Fail it instead: the
            # transport's own retry decides (counted in ``stats``, through the limiter, backed off).
            raise self._failed
        request.headers["X-Authorization"] = self._secret.reveal()
        try:
            return await handler(request)
        except (aiohttp.ClientOSError, aiohttp.ServerDisconnectedError) as exc:
            self._failed = exc
            raise


def _scrub_json(secret: Secret, value: Any) -> Any:
    if isinstance(value, str):
        return secret.scrub(value)
    if isinstance(value, list):
        return [_scrub_json(secret, item) for item in value]
    if isinstance(value, dict):
        return {secret.scrub(k): _scrub_json(secret, v) for k, v in value.items()}
    return value


def scrub_error(secret: Secret, error: LoopError) -> None:
    """Remove the client's own key from everything ``error`` says (a server may echo it).

    The body bytes are scrubbed as they are read; this also covers what was decoded from
    them (``\\u`` escapes) and the text of aiohttp's exceptions.
    """
    scrub = secret.scrub
    error.args = tuple(scrub(arg) if isinstance(arg, str) else arg for arg in error.args)
    for name in ("message", "excerpt", "location", "url", "expected_origin"):
        value = getattr(error, name, None)
        if isinstance(value, str):
            setattr(error, name, scrub(value))
        elif isinstance(value, URL) and scrub(str(value)) != str(value):
            setattr(error, name, URL(scrub(str(value)), encoded=True))
    if isinstance(error, LoopAPIError):
        error.codes = tuple(map(scrub, error.codes))
        error.errors = tuple(
            attrs.evolve(
                entry,
                code=entry.code and scrub(entry.code),
                message=entry.message and scrub(entry.message),
                field=entry.field and scrub(entry.field),
            )
            for entry in error.errors
        )
        if error.response is not None and error.response.data is not None:
            # An error body is small; a ``\\u``-escaped key survived the bytes scrub.
            error.response = attrs.evolve(error.response, data=_scrub_json(secret, error.response.data))
    notes = getattr(error, "__notes__", None)
    if isinstance(notes, list):
        notes[:] = [scrub(note) if isinstance(note, str) else note for note in notes]
