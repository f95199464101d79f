"""The I/O layer: one aiohttp session, auth, limits, retries, and turning answers into errors.

Everything that decides (retry or not, which error, is this body an error) is pure code in
:mod:`loop_async._sansio.retry` and :mod:`loop_async._sansio.protocol`; this module only does the I/O and
applies those decisions.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import os
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Final
from urllib.parse import urlencode

import aiohttp
import attrs
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from loop_async._hooks import ErrorEvent, Hooks, RequestEvent, ResponseEvent, RetryEvent
from loop_async._sansio import json as _json
from loop_async._sansio.outcome import SAFE_METHODS, ReconcilePolicy, is_idempotent, status_may_have_acted
from loop_async._sansio.protocol import ParsedError, build_api_error, parse_error_body, request_id_from
from loop_async._sansio.retry import Attempt, Outcome, RetryPolicy, parse_retry_after
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
    RedirectError,
    ResponseTooLargeError,
    TransportError,
    UnsafeLinkError,
)
from loop_async.ratelimit import RateLimiter

__all__ = ["NO_BODY", "Response", "Transport", "capture_responses"]

logger = logging.getLogger("loop_async")

#: Marks "send no body" (``None`` would be the JSON body ``null``).
NO_BODY: Final = object()
_RELEASED: Final = object()  # a Response whose parsed body was dropped (see without_parsed_body)
_MAX_REDIRECTS = 5
_REDIRECTS: Final = frozenset({301, 302, 303, 307, 308})
_EXCERPT = 200
# Bodies at least this large are parsed in a worker thread: parsing 16 MiB takes ~100 ms.
_PARSE_IN_THREAD_FROM: Final = 256 * 1024
# A shorter key is not scrubbed from what the server sent: replacing it would garble the text.
_SCRUB_MIN_KEY: Final = 8
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
        # Built directly: ``attrs.evolve`` costs twice as much, once per navigator.
        return Response(
            method=self.method,
            url=self.url,
            status=self.status,
            headers=self.headers,
            content=self.content,
            data=_RELEASED,
            request_id=self.request_id,
            attempts=self.attempts,
            elapsed=self.elapsed,
        )

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


#: The tag of the call in progress in this task (log lines and hook events carry it).
_call_tag: contextvars.ContextVar[str] = contextvars.ContextVar("loop_async_call_tag", default="-")

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


class _OnTheWire:
    """aiohttp middleware for one request: adds the key on the wire, allows no silent re-send.

    The key is set on aiohttp's request object as it is sent, so it is in no headers dict of
    ours or of aiohttp's ``_request`` frame (frame locals are what error reporters record).
    """

    __slots__ = ("_failed", "_secret")

    def __init__(self, secret: _Secret) -> None:
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


def _excerpt(content: bytes) -> str:
    return content[:_EXCERPT].decode("utf-8", "replace")


def _origin_of(url: URL) -> tuple[str, str | None, int | None]:
    """Scheme, host and port: what must match before the key is sent somewhere."""
    return (url.scheme, url.host, url.port)


class _FormBody(bytes):
    """An ``application/x-www-form-urlencoded`` body: bytes that carry their content type."""

    content_type: Final = "application/x-www-form-urlencoded"


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
        reconcile: ReconcilePolicy = ReconcilePolicy(),  # noqa: B008 - frozen, shared safely
        accept: str = "application/json",
        acquire_timeout: float | None = None,
        hooks: Hooks | None = None,
        trace_configs: Sequence[aiohttp.TraceConfig] = (),
        middlewares: Sequence[Any] = (),
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
        #: How navigators over this transport settle an uncertain follow (the client's ``reconcile``).
        self.reconcile = reconcile
        #: The ``Accept`` header of every request (the client's ``hal_forms`` option adds HAL-FORMS).
        self.accept = accept
        #: Callbacks around every call (the client's ``hooks``), or ``None``.
        self.hooks = hooks
        self._trace_configs = list(trace_configs)
        self._middlewares = tuple(middlewares)
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
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=self.timeout,
                trust_env=False,
                trace_configs=self._trace_configs or None,
                middlewares=self._middlewares,  # the caller's; the key is added innermost (_OnTheWire)
            )
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
        form: Sequence[tuple[str, str]] | Mapping[str, str] | None = None,
        retry_unsafe: bool = False,
    ) -> Response:
        """Send one logical request (with retries) and return its response.

        Raises :class:`~loop_async.errors.LoopAPIError` for an error status *or* an error
        body in a 2xx, :class:`TransportError` when no answer was read,
        :class:`DecodeError` for a body that is not JSON, :class:`RedirectError` for a
        redirect that is not followed. ``retry_unsafe`` allows retrying a non-idempotent
        request that may already have reached Loop. No error holds the client's own API key,
        even when the server echoed it. ``json`` is sent as a JSON body, ``form`` (name/value
        pairs; a name may repeat) as an ``application/x-www-form-urlencoded`` body; not both.
        """
        if form is not None:
            if json is not NO_BODY:
                raise FieldValidationError([FieldProblem("form", "give a JSON body or a form body, not both")])
            json = _FormBody(urlencode(list(form.items()) if isinstance(form, Mapping) else list(form)).encode())
        tag = os.urandom(3).hex()  # names this call in every log line and hook event of it
        token = _call_tag.set(tag)
        try:
            response = await self._request(method, url, params=params, json=json, retry_unsafe=retry_unsafe)
        except BaseException as error:
            if isinstance(error, TransportError | LoopAPIError | DecodeError | UnsafeLinkError):
                self._scrub_error(error)
            if self.hooks is not None:
                self.hooks.emit("on_error", ErrorEvent(tag=tag, method=method.upper(), url=url, error=error))
            raise
        finally:
            _call_tag.reset(token)
        if self.hooks is not None:
            self.hooks.emit("on_response", ResponseEvent(tag=tag, method=response.method, url=url, response=response))
        return response

    async def _request(
        self,
        method: str,
        url: URL,
        *,
        params: Mapping[str, str] | None,
        json: Any,
        retry_unsafe: bool,
    ) -> Response:
        method = method.upper()
        if not _METHOD_TOKEN.fullmatch(method):
            raise FieldValidationError([FieldProblem("method", f"must be an HTTP method token, got {method!r}")])
        url = self.resolve(url)
        if params:
            url = url.update_query(params)
        body = None if json is NO_BODY else json if isinstance(json, _FormBody) else _encode_body(json)
        retries = 0
        replayed = False  # an earlier attempt may have acted (see LoopAPIError.replayed)
        started = time.monotonic()
        tag = _call_tag.get()
        while True:
            attempt_no = retries + 1
            failure: _AttemptFailed | None = None
            if self.hooks is not None:
                self.hooks.emit("on_request", RequestEvent(tag=tag, method=method, url=url, attempt=attempt_no))
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
                    error.hint = _give_up_hint(method, error, attempt_no)
                    # Not retrying an unsafe request that may have acted is a decision worth seeing.
                    level = (
                        logging.INFO if error.request_sent is not False and not is_idempotent(method) else logging.DEBUG
                    )
                    logger.log(
                        level, "[%s #%d] %s %s: %s; %s", tag, attempt_no, method, url, error.message, decision.reason
                    )
                    raise error
                replayed = replayed or failure.outcome is Outcome.MAYBE_SENT
                logger.debug(
                    "[%s #%d] %s %s: %s; retrying (%s)", tag, attempt_no, method, url, error.message, decision.reason
                )
                status: int | None = None
            else:
                if response.status < 400:
                    if self.limiter is not None:
                        self.limiter.observe(response.status, None)
                    return self._check_success(self._record(response), replayed)
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
                    if status_may_have_acted(response.status) and not is_idempotent(method):
                        logger.info(
                            "[%s #%d] %s %s -> %d; %s", tag, attempt_no, method, url, response.status, decision.reason
                        )
                    api_error = self._api_error(self._record(response), parse_error_body(response.data), retry_after)
                    api_error.replayed = replayed
                    raise api_error
                replayed = replayed or status_may_have_acted(response.status)
                logger.debug(
                    "[%s #%d] %s %s -> %d; retrying (%s)",
                    tag,
                    attempt_no,
                    method,
                    url,
                    response.status,
                    decision.reason,
                )
                status = response.status
            if self.hooks is not None:
                self.hooks.emit(
                    "on_retry",
                    RetryEvent(
                        tag=tag,
                        method=method,
                        url=url,
                        attempt=attempt_no,
                        delay=decision.delay,
                        reason=decision.reason,
                        status=status,
                    ),
                )
            retries += 1
            self.retries += 1
            await asyncio.sleep(decision.delay)

    async def _send_following_redirects(
        self, method: str, url: URL, body: bytes | None, attempt_no: int, started: float
    ) -> Response:
        """Follow a same-origin redirect of a safe method, a few hops at most; refuse the rest.

        A POST (or any method that is not safe) is never re-sent by a redirect, whatever the
        status: aiohttp and browsers turn a 301/302 POST into a GET, a 307/308 would send the
        body again, and either may repeat an action. The caller gets a :class:`RedirectError`
        naming the ``Location``.
        """
        for _ in range(_MAX_REDIRECTS + 1):
            response = await self._send_once(method, url, body, attempt_no, started)
            if not 300 <= response.status < 400:
                return response
            location = response.headers.get("Location")
            if response.status not in _REDIRECTS or not location:
                raise self._redirect_error(response, location, "it names no Location to follow")
            # aiohttp would re-send X-Authorization to any host: follow only our own origin.
            try:
                target = url.join(URL(location))
            except ValueError as exc:
                raise DecodeError(
                    f"redirect to an invalid URL ({exc})", excerpt=location[:_EXCERPT], status=response.status
                ) from None
            target = self.resolve(target)
            if method not in SAFE_METHODS:
                raise self._redirect_error(response, location, f"a {method} is never re-sent by a redirect")
            url = target
            logger.debug("redirected to %s", url)
        raise self._redirect_error(response, location, f"more than {_MAX_REDIRECTS} redirects in a row")

    def _redirect_error(self, response: Response, location: str | None, why: str) -> RedirectError:
        where = f"to {location}" if location else "without a Location"
        return RedirectError(
            f"redirect {where} not followed: {why}; nothing was sent there",
            location=location,
            status=response.status,
            method=response.method,
            url=response.url,
            request_id=response.request_id,
            response=self._record(response),
        )

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
        # No X-Authorization here: _OnTheWire adds it, so that no dict in a frame holds the key.
        headers = {
            "User-Agent": self._user_agent,
            "Accept": self.accept,
        }
        if body is not None:
            headers["Content-Type"] = _FormBody.content_type if isinstance(body, _FormBody) else "application/json"
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
                    # Innermost, after the caller's session middlewares (which never see the key).
                    middlewares=(*getattr(session, "_middlewares", ()), _OnTheWire(self._secret)),
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
            self._scrub_error(failure.error)
            raise failure  # outside ``except``: no chain to aiohttp's exception (see request())
        elapsed = time.monotonic() - sent_at
        logger.debug(
            "[%s #%d] %s %s -> %d in %.1f ms", _call_tag.get(), attempt_no, method, url, status, elapsed * 1000
        )
        # The server may echo the key (``key sk_live_... is invalid``): nothing we keep holds it.
        content = self._secret.scrub_bytes(content)
        if any(self._secret.scrub(value) != value for value in resp_headers.values()):
            resp_headers = CIMultiDictProxy(CIMultiDict((k, self._secret.scrub(v)) for k, v in resp_headers.items()))
        # A redirect's body is never parsed (an nginx 301 page is HTML, and is not our business).
        data = None if 300 <= status < 400 else await self._parse(content, status)
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
    async def _parse(content: bytes, status: int) -> Any:
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
            raise DecodeError(f"HTTP {status} body {why}", excerpt=_excerpt(content), status=status) from None

    def _scrub_json(self, value: Any) -> Any:
        if isinstance(value, str):
            return self._secret.scrub(value)
        if isinstance(value, list):
            return [self._scrub_json(item) for item in value]
        if isinstance(value, dict):
            return {self._secret.scrub(k): self._scrub_json(v) for k, v in value.items()}
        return value

    def _scrub_error(self, error: LoopError) -> None:
        """Remove the client's own key from everything ``error`` says (a server may echo it).

        The body bytes are scrubbed as they are read; this also covers what was decoded from
        them (``\\u`` escapes) and the text of aiohttp's exceptions.
        """
        scrub = self._secret.scrub
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
                error.response = attrs.evolve(error.response, data=self._scrub_json(error.response.data))
        notes = getattr(error, "__notes__", None)
        if isinstance(notes, list):
            notes[:] = [scrub(note) if isinstance(note, str) else note for note in notes]

    @staticmethod
    def _record(response: Response) -> Response:
        """Hand the final response to any :func:`capture_responses` block around this call."""
        captured = _captured.get()
        if captured is not None:
            captured.append(response)
        return response

    def _check_success(self, response: Response, replayed: bool) -> Response:
        """A 2xx whose body is one of Loop's error shapes is a failure, not a success."""
        parsed = parse_error_body(response.data)
        if parsed is not None:
            error = self._api_error(response, parsed, None)
            error.replayed = replayed
            raise error
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


def _give_up_hint(method: str, error: TransportError, attempts: int) -> str:
    """What a transport failure means for the caller (the uncertain-outcome rule, in words)."""
    tries = f"{attempts} attempt{'s' if attempts != 1 else ''}"
    if error.request_sent is False:
        return f"nothing was sent ({tries})"
    if is_idempotent(method):
        return f"gave up after {tries}"
    return f"the {method} may have taken effect: it was not sent again ({tries})"


def _transport_error(exc: BaseException, method: str, url: URL, *, sent: bool | None) -> TransportError:
    # Only the type and text of aiohttp's exception are kept: the exception itself carries
    # ``request_info`` with the request headers, the API key among them.
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, aiohttp.ClientSSLError):
        return TransportError(f"TLS error: {detail}", method=method, url=url, request_sent=sent)
    if isinstance(exc, asyncio.TimeoutError | aiohttp.ServerTimeoutError):
        return LoopTimeoutError(f"timed out ({type(exc).__name__})", method=method, url=url, request_sent=sent)
    return TransportError(f"{type(exc).__name__}: {detail}", method=method, url=url, request_sent=sent)
