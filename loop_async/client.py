"""``LoopClient``: the entry point. Owns one transport and exposes the API as resources."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

import aiohttp
from yarl import URL

from loop_async._config import DEFAULT_MAX_RETRIES, validate_options
from loop_async._hooks import Hooks
from loop_async._response import Response
from loop_async._sansio.outcome import ReconcilePolicy
from loop_async._sansio.problems import Problems
from loop_async._sansio.retry import RetryPolicy
from loop_async._transport import NO_BODY, Transport
from loop_async._version import __version__
from loop_async.ratelimit import RateLimiter, build_limiter
from loop_async.resources.destinations import DestinationsResource
from loop_async.resources.dispositions import DispositionsResource
from loop_async.resources.draft_returns import DraftReturnsResource
from loop_async.resources.happy_returns import HappyReturnsResource
from loop_async.resources.lists import ALLOWLIST_TYPES, BLOCKLIST_TYPES, ListResource
from loop_async.resources.orders import OrdersResource
from loop_async.resources.returns import ReturnsResource
from loop_async.resources.webhook_subscriptions import WebhooksResource

__all__ = ["API_KEY_ENV", "BASE_URL_ENV", "DEFAULT_BASE_URL", "LoopClient"]

DEFAULT_BASE_URL = "https://api.loopreturns.com"
#: Environment variables read when the key or the base URL is not given.
API_KEY_ENV = "LOOP_API_KEY"
BASE_URL_ENV = "LOOP_BASE_URL"
_PYTHON = f"{sys.version_info[0]}.{sys.version_info[1]}"
USER_AGENT = f"loop-async/{__version__} aiohttp/{aiohttp.__version__} python/{_PYTHON}"


# HAL-FORMS first; plain JSON for every endpoint that has no HAL-FORMS form.
HAL_FORMS_ACCEPT = "application/prs.hal-forms+json, application/json;q=0.9"


class LoopClient:
    """An asyncio client for the Loop Returns API.

    Use it as ``async with LoopClient(api_key) as loop: ...``, or create it and ``await
    loop.aclose()`` when done. Without ``api_key`` the key is read from ``LOOP_API_KEY``, and
    without ``base_url`` the origin from ``LOOP_BASE_URL`` (default Loop's own). Its aiohttp
    session is created on first use inside the running event loop; pass ``session=`` to use
    your own (which the client then never closes).

    Options: ``base_url`` and ``api_version`` (``v1``, or a date version such as ``2026-07``)
    make the API root ``{base_url}/api/{api_version}``; ``timeout`` (seconds per attempt, or
    an :class:`aiohttp.ClientTimeout`); ``max_retries`` (see :mod:`loop_async._sansio.retry`);
    ``max_concurrency`` (requests in flight at once); ``rate_limit`` (requests per minute for
    this key, default Loop's 300; ``None`` or 0 turns client-side limiting off);
    ``rate_limiter`` (any :class:`~loop_async.ratelimit.RateLimiter`, e.g. one shared by
    several clients of the same key; overrides ``rate_limit``); ``acquire_timeout`` (the longest
    a request waits for its rate-limit slot, default the ``timeout``; beyond it
    :class:`~loop_async.errors.RateLimiterTimeoutError`, nothing sent); ``max_response_bytes``;
    ``reconcile`` (a :class:`~loop_async.ReconcilePolicy`: how a draft-return action whose
    outcome is uncertain is settled; it is never re-sent unless that policy says so);
    ``hooks`` (:class:`~loop_async.Hooks`: callbacks around every call, e.g.
    :func:`loop_async.otel.tracing_hooks`); ``trace_configs`` and ``middlewares`` (aiohttp's,
    passed to the session the client creates); ``hal_forms`` (ask for HAL-FORMS in ``Accept``:
    draft returns on ``v1``/``2026-07`` then answer in HAL-FORMS, and their list needs it;
    ``2026-10`` and later always do).

    Resources: :attr:`returns`, :attr:`draft_returns`, :attr:`webhooks`; warehouse and support:
    :attr:`dispositions`, :attr:`orders`, :attr:`happy_returns`, :attr:`destinations`,
    :attr:`blocklist`, :attr:`allowlist`.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | URL | None = None,
        api_version: str = "v1",
        timeout: float | aiohttp.ClientTimeout = 30.0,
        max_retries: int = DEFAULT_MAX_RETRIES,
        max_concurrency: int = 32,
        rate_limit: float | None = 300,
        rate_limiter: RateLimiter | None = None,
        retry_policy: RetryPolicy | None = None,
        max_response_bytes: int = 16 * 1024 * 1024,
        session: aiohttp.ClientSession | None = None,
        reconcile: ReconcilePolicy | None = None,
        hal_forms: bool = False,
        acquire_timeout: float | None = None,
        hooks: Hooks | None = None,
        trace_configs: Sequence[aiohttp.TraceConfig] = (),
        middlewares: Sequence[Any] = (),
    ) -> None:
        if api_key is None:
            api_key = os.environ.get(API_KEY_ENV, "").strip()
            if not api_key:
                missing = Problems("LoopClient")
                missing.add("api_key", f"is missing: pass LoopClient(api_key) or set the {API_KEY_ENV} variable")
                missing.raise_if_any()
        if base_url is None:
            base_url = os.environ.get(BASE_URL_ENV, "").strip() or DEFAULT_BASE_URL
        base = URL(str(base_url))
        validate_options(
            api_key,
            base,
            max_concurrency=max_concurrency,
            max_retries=max_retries,
            timeout=timeout,
            rate_limit=rate_limit,
            retry_policy=retry_policy,
            max_response_bytes=max_response_bytes,
            hal_forms=hal_forms,
            acquire_timeout=acquire_timeout,
            reconcile=reconcile,
            hooks=hooks,
            own_session_hooks=session is not None and bool(trace_configs or middlewares),
        )

        api_root = base.with_path(base.path.rstrip("/") + "/api/" + api_version.strip("/"))
        rate_limiter = build_limiter(rate_limit, rate_limiter)
        client_timeout = timeout if isinstance(timeout, aiohttp.ClientTimeout) else aiohttp.ClientTimeout(total=timeout)
        self.api_version = api_version
        self._transport = Transport(
            api_key=api_key,
            api_root=api_root,
            timeout=client_timeout,
            retry=retry_policy or RetryPolicy(max_retries=max_retries),
            limiter=rate_limiter,
            max_concurrency=max_concurrency,
            max_response_bytes=max_response_bytes,
            user_agent=USER_AGENT,
            session=session,
            hooks=hooks,
            trace_configs=trace_configs,
            middlewares=middlewares,
            reconcile=reconcile or ReconcilePolicy(),
            accept=HAL_FORMS_ACCEPT if hal_forms else "application/json",
            # The limiter wait is bounded too: by default as long as one attempt may take.
            acquire_timeout=acquire_timeout if acquire_timeout is not None else client_timeout.total,
        )
        self.returns = ReturnsResource(self._transport)
        self.draft_returns = DraftReturnsResource(self._transport)
        self.webhooks = WebhooksResource(self._transport)
        self.dispositions = DispositionsResource(self._transport)
        self.orders = OrdersResource(self._transport)
        self.happy_returns = HappyReturnsResource(self._transport)
        self.destinations = DestinationsResource(self._transport)
        self.blocklist = ListResource(self._transport, "blocklists", BLOCKLIST_TYPES)
        self.allowlist = ListResource(self._transport, "allowlists", ALLOWLIST_TYPES)

    @property
    def base_url(self) -> URL:
        """The API root every path is relative to, e.g. ``https://api.loopreturns.com/api/v1``."""
        return self._transport.api_root

    @property
    def transport(self) -> Transport:
        """The low-level transport (auth, retries, limits, origin pinning).

        Use it to build a :class:`~loop_async.hypermedia.Navigator` over your own hypermedia
        resources: ``Navigator(loop.transport, data, format=..., decode=...)``.
        """
        return self._transport

    @property
    def rate_limiter(self) -> RateLimiter | None:
        """The limiter in use (``None`` when client-side rate limiting is off)."""
        return self._transport.limiter

    @property
    def stats(self) -> Mapping[str, int]:
        """Requests sent (every attempt) and retries made, since the client was created."""
        return {"requests": self._transport.requests_sent, "retries": self._transport.retries}

    @property
    def closed(self) -> bool:
        """Whether :meth:`aclose` was called."""
        return self._transport.closed

    async def request(
        self,
        method: str,
        path: str | URL,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = NO_BODY,
        retry_unsafe: bool = False,
    ) -> Response:
        """Send any request to the API (a path relative to :attr:`base_url`) and get the raw response.

        The escape hatch for endpoints the SDK does not wrap; retries, limits and error
        mapping apply as to every call. A query in ``path``
        (``"warehouse/return/details?return_id=1"``) is kept, merged with ``params``
        (``params`` wins for a name in both); each path segment is escaped.
        """
        if isinstance(path, str):
            route, has_query, query = path.partition("?")
            target = self._transport.url(*route.strip("/").split("/"))
            if has_query:
                target = target.with_query(URL(f"?{query}").query)  # its escapes are kept as sent
        else:
            target = path
        return await self._transport.request(method, target, params=params, json=json, retry_unsafe=retry_unsafe)

    async def aclose(self) -> None:
        """Close the client's own session (not one that was passed in). Idempotent."""
        await self._transport.aclose()

    async def __aenter__(self) -> LoopClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<LoopClient {str(self.base_url)!r} api_key='***' {state}>"
