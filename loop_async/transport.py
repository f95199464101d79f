"""The I/O layer: one aiohttp session, auth, limits, retries, and turning answers into errors.

Everything that decides (retry or not, which error, is this body an error) is pure code in
:mod:`loop_async.retry` and :mod:`loop_async._protocol`; this module only does the I/O and
applies those decisions.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import re
import time
from collections.abc import Iterator, Mapping
from typing import Any, Final

import aiohttp
import attrs
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from loop_async import _json
from loop_async._protocol import ParsedError, build_api_error, parse_error_body, request_id_from
from loop_async.errors import (
    ClientClosedError,
    DecodeError,
    FieldProblem,
    FieldValidationError,
    LoopAPIError,
    LoopError,
    LoopTimeoutError,
    RateLimiterTimeoutError,
    RateLimiterUnavailableError,
    ResponseTooLargeError,
    TransportError,
    UnsafeLinkError,
)
from loop_async.ratelimit import RateLimiter
from loop_async.retry import Attempt, Outcome, RetryPolicy, parse_retry_after

__all__ = ["NO_BODY", "Response", "Transport", "capture_responses"]

logger = logging.getLogger("loop_async")

#: Marks "send no body" (``None`` would be the JSON body ``null``).
NO_BODY: Final = object()
_RELEASED: Final = object()  # a Response whose parsed body was dropped (see without_parsed_body)
_MAX_REDIRECTS = 5
_EXCERPT = 200
# RFC 9110 token: anything else in a method (CR/LF, spaces) would corrupt the request line.
_METHOD_TOKEN: Final = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


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
        return attrs.evolve(self, data=_RELEASED)

    @property
    def excerpt(self) -> str:
        """The start of the body as text, for error messages."""
        return _excerpt(self.content)

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


def _encode_body(value: Any) -> bytes:
    try:
        return _json.dumps(value)
    except (TypeError, ValueError) as exc:
        raise FieldValidationError([FieldProblem("body", f"is not JSON-serialisable: {exc}")]) from None


class _Secret:
    """Holds the API key so that no repr, log or traceback local shows it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "'***'"

    __str__ = __repr__

    def __reduce__(self) -> tuple[Any, ...]:
        # Whatever holds the key (a client, a navigator) is never pickled or copied with it.
        raise TypeError("a loop-async client or navigator holds the API key: it cannot be pickled or copied")


def _excerpt(content: bytes) -> str:
    return content[:_EXCERPT].decode("utf-8", "replace")


def _origin_of(url: URL) -> tuple[str, str | None, int | None]:
    """Scheme, host and port: what must match before the key is sent somewhere."""
    return (url.scheme, url.host, url.port)


class Transport:
    """Sends requests to one Loop origin with one API key. Used through :class:`LoopClient`."""

    def __init__(
        self,
        *,
        api_key: str,
        api_root: URL,
        timeout: aiohttp.ClientTimeout,
        retry: RetryPolicy,
        limiter: RateLimiter | None,
        max_concurrency: int,
        max_response_bytes: int,
        user_agent: str,
        session: aiohttp.ClientSession | None = None,
        acquire_timeout: float | None = None,
    ) -> None:
        self.api_root = api_root
        self.origin = api_root.origin()
        self.retry = retry
        self.limiter = limiter
        #: The longest a request waits for its rate-limit slot (``None``: no bound).
        self.acquire_timeout = acquire_timeout
        self.timeout = timeout
        self.max_response_bytes = max_response_bytes
        self.max_concurrency = max_concurrency
        self._secret = _Secret(api_key)
        self._user_agent = user_agent
        self._session = session
        self._owns_session = session is None
        self._semaphore = asyncio.Semaphore(max_concurrency)
        self._closed = False
        self.requests_sent = 0
        self.retries = 0

    # -- lifecycle -------------------------------------------------------------------------

    def _get_session(self) -> aiohttp.ClientSession:
        if self._closed:
            raise ClientClosedError("this LoopClient is closed; create a new one")
        if self._session is None:
            # Created lazily so that it binds to the running event loop.
            connector = aiohttp.TCPConnector(limit=self.max_concurrency, limit_per_host=self.max_concurrency)
            self._session = aiohttp.ClientSession(connector=connector, timeout=self.timeout, trust_env=False)
        return self._session

    @property
    def closed(self) -> bool:
        """Whether :meth:`aclose` was called."""
        return self._closed

    async def aclose(self) -> None:
        """Close the session if this transport created it. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        if self._owns_session and self._session is not None:
            await self._session.close()
        self._session = None

    # -- URLs ------------------------------------------------------------------------------

    def url(self, *segments: str | int) -> URL:
        """An API URL: the API root joined with path ``segments`` (each one escaped)."""
        return self.api_root.joinpath(*(str(s) for s in segments))

    def resolve(self, href: str | URL) -> URL:
        """Resolve a link against the API root and refuse any URL off the client's origin.

        A URL that cannot be parsed (a bad port, a broken IPv6 host) came from the server: it
        is a :class:`DecodeError`, and nothing is sent.
        """
        try:
            target = URL(href) if isinstance(href, str) else href
            if not target.is_absolute():
                target = self.api_root.join(target)
        except ValueError as exc:
            raise DecodeError(f"not a valid URL ({exc})", excerpt=str(href)[:_EXCERPT]) from None
        if target.user is not None or target.password is not None:
            raise UnsafeLinkError(target.with_user(None), self.origin, "a URL with user info")
        if _origin_of(target) != _origin_of(self.origin):
            raise UnsafeLinkError(target, self.origin, "another origin would receive the API key")
        return target

    # -- requests --------------------------------------------------------------------------

    async def request(
        self,
        method: str,
        url: URL,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = NO_BODY,
        retry_unsafe: bool = False,
    ) -> Response:
        """Send one logical request (with retries) and return its response.

        Raises :class:`~loop_async.errors.LoopAPIError` for an error status *or* an error
        body in a 2xx, :class:`TransportError` when no answer was read,
        :class:`DecodeError` for a body that is not JSON. ``retry_unsafe`` allows retrying
        a non-idempotent request that may already have reached Loop.
        """
        method = method.upper()
        if not _METHOD_TOKEN.fullmatch(method):
            raise FieldValidationError([FieldProblem("method", f"must be an HTTP method token, got {method!r}")])
        url = self.resolve(url)
        if params:
            url = url.update_query(params)
        body = None if json is NO_BODY else _encode_body(json)
        retries = 0
        started = time.monotonic()
        while True:
            attempt_no = retries + 1
            failure: _AttemptFailed | None = None
            try:
                response = await self._send_following_redirects(method, url, body, attempt_no, started)
            except _AttemptFailed as failed:
                failure = failed
            if failure is not None:
                # Raised outside the ``except`` block: the error has no ``__context__`` chain
                # back to aiohttp's exception, whose ``request_info`` holds our headers.
                if self.limiter is not None:
                    self.limiter.observe(None, None)
                decision = self.retry.decide(Attempt(method, failure.outcome), retries, retry_unsafe=retry_unsafe)
                error = failure.error
                if not decision.retry:
                    error.attempts = attempt_no
                    logger.debug("%s %s: %s; %s", method, url, error.message, decision.reason)
                    raise error
                logger.debug("%s %s: %s; retrying (%s)", method, url, error.message, decision.reason)
            else:
                if response.status < 400:
                    if self.limiter is not None:
                        self.limiter.observe(response.status, None)
                    return self._check_success(self._record(response))
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                if self.limiter is not None:
                    # Never pause the limiter longer than the policy would wait: a Retry-After
                    # above the cap is raised to the caller, not imposed on every later call.
                    capped = None if retry_after is None else min(retry_after, self.retry.max_retry_after)
                    self.limiter.observe(response.status, capped)
                decision = self.retry.decide(
                    Attempt(method, Outcome.RESPONSE, response.status, retry_after),
                    retries,
                    retry_unsafe=retry_unsafe,
                )
                if not decision.retry:
                    raise self._api_error(self._record(response), parse_error_body(response.data), retry_after)
                logger.debug("%s %s -> %d; retrying (%s)", method, url, response.status, decision.reason)
            retries += 1
            self.retries += 1
            await asyncio.sleep(decision.delay)

    async def _send_following_redirects(
        self, method: str, url: URL, body: bytes | None, attempt_no: int, started: float
    ) -> Response:
        for _ in range(_MAX_REDIRECTS + 1):
            response = await self._send_once(method, url, body, attempt_no, started)
            location = response.headers.get("Location")
            if response.status not in (301, 302, 303, 307, 308) or not location:
                return response
            # aiohttp would re-send X-Authorization to any host: follow only our own origin.
            try:
                target = url.join(URL(location))
            except ValueError as exc:
                raise DecodeError(
                    f"redirect to an invalid URL ({exc})", excerpt=location[:_EXCERPT], status=response.status
                ) from None
            url = self.resolve(target)
            if response.status == 303:
                method, body = "GET", None
            logger.debug("redirected to %s", url)
        raise TransportError(f"more than {_MAX_REDIRECTS} redirects", method=method, url=url, request_sent=True)

    async def _acquire_slot(self, limiter: RateLimiter, method: str, url: URL) -> None:
        """Wait for a rate-limit slot, at most ``acquire_timeout``; any failure means nothing was sent.

        A limiter that fails (a Redis that is down) or a wait that is too long raises a
        :class:`TransportError` with ``request_sent=False`` naming the request; it is not retried
        here (a retry would wait on the same limiter again, past the bound the caller set).
        """
        failure: TransportError | None = None
        try:
            if self.acquire_timeout is None:
                await limiter.acquire()
            else:
                await asyncio.wait_for(limiter.acquire(), self.acquire_timeout)
        except TransportError as exc:
            exc.method, exc.url, exc.request_sent = method, url, False
            raise
        except LoopError:
            raise
        except asyncio.TimeoutError:
            failure = RateLimiterTimeoutError(
                f"no rate-limit slot within acquire_timeout={self.acquire_timeout:g}s; nothing was sent",
                method=method,
                url=url,
                request_sent=False,
            )
        except Exception as exc:  # noqa: BLE001 - a custom limiter's failure: still a LoopError, nothing sent
            failure = RateLimiterUnavailableError(
                f"rate limiter failed ({type(exc).__name__}: {exc}); nothing was sent",
                method=method,
                url=url,
                request_sent=False,
            )
        if failure is not None:
            raise failure  # outside ``except``: no chain into the limiter's internals

    async def _send_once(self, method: str, url: URL, body: bytes | None, attempt_no: int, started: float) -> Response:
        session = self._get_session()
        headers = {
            "X-Authorization": self._secret.reveal(),
            "User-Agent": self._user_agent,
            "Accept": "application/json",
        }
        if body is not None:
            headers["Content-Type"] = "application/json"
        failure: _AttemptFailed | None = None
        async with self._semaphore:
            # The rate-limit slot is taken inside the concurrency bound, right before sending:
            # a slot reserved while waiting for a connection would be spent in a burst later.
            if self.limiter is not None:
                await self._acquire_slot(self.limiter, method, url)
            sent_at = time.monotonic()
            self.requests_sent += 1
            try:
                async with session.request(
                    method,
                    url,
                    data=body,
                    headers=headers,
                    allow_redirects=False,
                    raise_for_status=False,
                    timeout=self.timeout,  # also when the caller's own session has another default
                ) as resp:
                    content = await self._read_capped(resp, method, url)
                    status, resp_headers = resp.status, resp.headers
            except aiohttp.ClientSSLError as exc:
                failure = _AttemptFailed(Outcome.FATAL, _transport_error(exc, method, url, sent=False))
            except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
                failure = _AttemptFailed(Outcome.NOT_SENT, _transport_error(exc, method, url, sent=False))
            except (asyncio.TimeoutError, aiohttp.ClientError) as exc:
                failure = _AttemptFailed(Outcome.MAYBE_SENT, _transport_error(exc, method, url, sent=None))
        if failure is not None:
            raise failure  # outside ``except``: no chain to aiohttp's exception (see request())
        elapsed = time.monotonic() - sent_at
        logger.debug("%s %s -> %d in %.1f ms (attempt %d)", method, url, status, elapsed * 1000, attempt_no)
        data = self._parse(content, status)
        return Response(
            method=method,
            url=url,
            status=status,
            headers=resp_headers,
            content=content,
            data=data,
            request_id=request_id_from(resp_headers),
            attempts=attempt_no,
            elapsed=time.monotonic() - started,
        )

    async def _read_capped(self, resp: aiohttp.ClientResponse, method: str, url: URL) -> bytes:
        cap = self.max_response_bytes
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

    @staticmethod
    def _parse(content: bytes, status: int) -> Any:
        """Parse the body; a non-JSON body is kept as ``None`` for errors, refused for 2xx."""
        if not content.strip():
            return None
        try:
            return _json.loads(content)
        except ValueError:
            if status >= 400:
                return None  # an HTML error page: the status says enough
            raise DecodeError(f"HTTP {status} body is not JSON", excerpt=_excerpt(content), status=status) from None

    @staticmethod
    def _record(response: Response) -> Response:
        """Hand the final response to any :func:`capture_responses` block around this call."""
        captured = _captured.get()
        if captured is not None:
            captured.append(response)
        return response

    def _check_success(self, response: Response) -> Response:
        """A 2xx whose body is one of Loop's error shapes is a failure, not a success."""
        parsed = parse_error_body(response.data)
        if parsed is not None:
            raise self._api_error(response, parsed, None)
        return response

    @staticmethod
    def _api_error(response: Response, parsed: ParsedError | None, retry_after: float | None) -> LoopAPIError:
        return build_api_error(
            response.status,
            parsed,
            fallback_message=_excerpt(response.content) or f"HTTP {response.status}",
            method=response.method,
            url=response.url,
            request_id=response.request_id,
            retry_after=retry_after,
            response=response,
        )

    def __repr__(self) -> str:
        return f"Transport(api_root={str(self.api_root)!r}, api_key='***')"


class _AttemptFailed(Exception):
    """Internal: an attempt produced no response; carries the outcome for the retry decision."""

    def __init__(self, outcome: Outcome, error: TransportError) -> None:
        super().__init__(error.message)
        self.outcome = outcome
        self.error = error


def _transport_error(exc: BaseException, method: str, url: URL, *, sent: bool | None) -> TransportError:
    # Only the type and text of aiohttp's exception are kept: the exception itself carries
    # ``request_info`` with the request headers, the API key among them.
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, aiohttp.ClientSSLError):
        return TransportError(f"TLS error: {detail}", method=method, url=url, request_sent=sent)
    if isinstance(exc, asyncio.TimeoutError | aiohttp.ServerTimeoutError):
        return LoopTimeoutError(f"timed out ({type(exc).__name__})", method=method, url=url, request_sent=sent)
    return TransportError(f"{type(exc).__name__}: {detail}", method=method, url=url, request_sent=sent)
