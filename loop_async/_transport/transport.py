"""``Transport``: one aiohttp session, one origin, one key; sends a logical request with its retries.

The aiohttp adapter only: every decision (retry or not, which error, is this body an error, may
it have acted) is pure code in :mod:`loop_async._sansio`; the key's handling is in
:mod:`loop_async._transport.secret`, bodies in :mod:`loop_async._transport.body`.

Over 400 lines because it is one class: its retry loop, redirect following and single
attempt are one sequence over the same state (session, semaphore, limiter, hooks, counters).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import os
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any, Final

import aiohttp
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from loop_async._hooks import ErrorEvent, Hooks, RequestEvent, ResponseEvent, RetryEvent
from loop_async._response import EXCERPT_CHARS, Response, excerpt, record_response
from loop_async._sansio.origin import resolve_link
from loop_async._sansio.outcome import SAFE_METHODS, ReconcilePolicy, is_idempotent, status_may_have_acted
from loop_async._sansio.problems import Problems
from loop_async._sansio.protocol import ParsedError, build_api_error, parse_error_body, request_id_from
from loop_async._sansio.retry import Attempt, Outcome, RetryPolicy, parse_retry_after
from loop_async._transport.body import NO_BODY, FormBody, encode_body, encode_form, parse_body, read_capped
from loop_async._transport.failures import AttemptFailed, give_up_hint, transport_error
from loop_async._transport.secret import OnTheWire, Secret, scrub_error
from loop_async._transport.slot import acquire_slot
from loop_async.errors import (
    ClientClosedError,
    DecodeError,
    LoopAPIError,
    RedirectError,
    TransportError,
    UnsafeLinkError,
)
from loop_async.ratelimit import RateLimiter

__all__ = ["Transport"]

logger = logging.getLogger("loop_async")

_MAX_REDIRECTS = 5
_REDIRECTS: Final = frozenset({301, 302, 303, 307, 308})
# RFC 9110 token: anything else in a method (CR/LF, spaces) would corrupt the request line.
_METHOD_TOKEN: Final = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")

#: The tag of the call in progress in this task (log lines and hook events carry it).
_call_tag: contextvars.ContextVar[str] = contextvars.ContextVar("loop_async_call_tag", default="-")


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
        self._secret = Secret(api_key)
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
                middlewares=self._middlewares,  # the caller's; the key is added innermost (OnTheWire)
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
        return resolve_link(self.api_root, self.origin, href)

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
                raise Problems.single("form", "give a JSON body or a form body, not both")
            json = encode_form(form)
        tag = os.urandom(3).hex()  # names this call in every log line and hook event of it
        token = _call_tag.set(tag)
        try:
            response = await self._request(method, url, params=params, json=json, retry_unsafe=retry_unsafe)
        except BaseException as error:
            if isinstance(error, TransportError | LoopAPIError | DecodeError | UnsafeLinkError):
                scrub_error(self._secret, error)
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
            raise Problems.single("method", f"must be an HTTP method token, got {method!r}")
        url = self.resolve(url)
        if params:
            url = url.update_query(params)
        body = None if json is NO_BODY else json if isinstance(json, FormBody) else encode_body(json)
        retries = 0
        replayed = False  # an earlier attempt may have acted (see LoopAPIError.replayed)
        started = time.monotonic()
        tag = _call_tag.get()
        while True:
            attempt_no = retries + 1
            failure: AttemptFailed | None = None
            if self.hooks is not None:
                self.hooks.emit("on_request", RequestEvent(tag=tag, method=method, url=url, attempt=attempt_no))
            try:
                response = await self._send_following_redirects(method, url, body, attempt_no, started)
            except AttemptFailed as failed:
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
                    error.hint = give_up_hint(method, error, attempt_no)
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
                    return self._check_success(record_response(response), replayed)
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
                    api_error = self._api_error(record_response(response), parse_error_body(response.data), retry_after)
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
                    f"redirect to an invalid URL ({exc})", excerpt=location[:EXCERPT_CHARS], status=response.status
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
            response=record_response(response),
        )

    async def _send_once(self, method: str, url: URL, body: bytes | None, attempt_no: int, started: float) -> Response:
        session = self._get_session()
        # No X-Authorization here: OnTheWire adds it, so that no dict in a frame holds the key.
        headers = {
            "User-Agent": self._user_agent,
            "Accept": self.accept,
        }
        if body is not None:
            headers["Content-Type"] = FormBody.content_type if isinstance(body, FormBody) else "application/json"
        failure: AttemptFailed | None = None
        async with self._semaphore:
            # The rate-limit slot is taken inside the concurrency bound, right before sending:
            # a slot reserved while waiting for a connection would be spent in a burst later.
            if self.limiter is not None:
                await acquire_slot(self.limiter, self.acquire_timeout, method, url)
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
                    middlewares=(*getattr(session, "_middlewares", ()), OnTheWire(self._secret)),
                ) as resp:
                    content = await read_capped(resp, method, url, self.max_response_bytes)
                    status, resp_headers = resp.status, resp.headers
            except aiohttp.ClientSSLError as exc:
                failure = AttemptFailed(Outcome.FATAL, transport_error(exc, method, url, sent=False))
            except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
                failure = AttemptFailed(Outcome.NOT_SENT, transport_error(exc, method, url, sent=False))
            except (asyncio.TimeoutError, aiohttp.ClientError) as exc:
                failure = AttemptFailed(Outcome.MAYBE_SENT, transport_error(exc, method, url, sent=None))
        if failure is not None:
            scrub_error(self._secret, failure.error)
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
        data = None if 300 <= status < 400 else await parse_body(content, status)
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
            fallback_message=excerpt(response.content) or f"HTTP {response.status}",
            method=response.method,
            url=response.url,
            request_id=response.request_id,
            retry_after=retry_after,
            response=response,
        )

    def __repr__(self) -> str:
        return f"Transport(api_root={str(self.api_root)!r}, api_key='***')"
