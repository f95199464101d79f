"""``FakeLoopServer``: an in-process aiohttp imitation of Loop's API, for tests and demos.

The application (routes under every API version, the middlewares) and its lifecycle, with the
test controls. The handlers are in :mod:`.handlers` and :mod:`.drafts`, the data in :mod:`.store`,
webhook delivery in :mod:`.webhook_sender`; the behaviour is described in ``docs/testing.md``.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Callable, Coroutine, Iterable, Mapping
from datetime import datetime, timedelta, timezone
from types import TracebackType
from typing import Any

from aiohttp import web
from yarl import URL

from loop_async.testing.drafts.machine import DraftMachine
from loop_async.testing.faults import FaultInjector, fault_middleware
from loop_async.testing.handlers._request import Route, route_key
from loop_async.testing.handlers.deep_links import DeepLinks
from loop_async.testing.handlers.draft_returns import DraftReturns
from loop_async.testing.handlers.return_actions import ReturnActions
from loop_async.testing.handlers.return_data import ReturnData
from loop_async.testing.handlers.warehouse import Warehouse
from loop_async.testing.handlers.webhook_subscriptions import WebhookSubscriptions
from loop_async.testing.limits import SlidingWindowLimiter
from loop_async.testing.middleware import (
    RequestRecord,
    auth_middleware,
    error_middleware,
    log_middleware,
    rate_limit_middleware,
)
from loop_async.testing.scopes import (
    ALL_SCOPES,
    DEFAULT_API_KEY,
    SCOPE_DEVELOPER_TOOLS,
    SCOPE_DRAFT_RETURNS_READ,
    SCOPE_DRAFT_RETURNS_WRITE,
    SCOPE_HAPPY_RETURNS,
    SCOPE_ORDERS,
    SCOPE_RETURNS,
)
from loop_async.testing.store import FakeDraft, FakeOrder, FakeReturn, FakeWebhook, Store
from loop_async.testing.versions import API_VERSIONS
from loop_async.testing.webhook_payloads import label_payload
from loop_async.testing.webhook_sender import WebhookDelivery, WebhookDispatcher

__all__ = ["FakeLoopServer"]


class FakeLoopServer:
    """A fake Loop API on loopback: ``async with FakeLoopServer() as server: server.url``.

    ``api_keys`` maps each key to its scopes (default ``{"test-key": ALL_SCOPES}``);
    ``rate_limit_per_minute`` turns on the per-key limit (``rate_limit_retry_after`` adds a
    ``Retry-After`` to its 429s; ``rate_limit_window`` shortens the minute for tests);
    ``orders``/``seed`` make the deterministic seed data; ``webhook_secret`` signs deliveries,
    retried as Loop does (six attempts, a ``Retry-After`` over 30 minutes fails the webhook)
    after an exponential backoff from ``webhook_backoff`` seconds, and waiting at most
    ``webhook_max_retry_after`` seconds for an honoured ``Retry-After``; queued processing
    finishes ``processing_delay`` seconds after ``process`` answers (``None``: when the test
    calls :meth:`release_processing`), and only if the return is still open and unflagged by
    then (otherwise it is dropped with a ``return.processing.failed`` webhook); drafts expire
    ``draft_ttl`` after creation by ``clock`` (a callable returning an aware datetime; the wall
    clock by default); ``hal_forms_targets`` serves HAL-FORMS in the spec's shape (each href in
    its template's ``target``) instead of Loop's (each href in ``_links[rel]``).
    """

    def __init__(
        self,
        *,
        api_keys: Mapping[str, Iterable[str]] | None = None,
        rate_limit_per_minute: int | None = None,
        orders: int = 50,
        seed: int = 0,
        webhook_secret: str = "whsec_test",
        host: str = "127.0.0.1",
        port: int = 0,
        rate_limit_retry_after: bool = False,
        rate_limit_window: float = 60.0,
        draft_ttl: timedelta = timedelta(hours=24),
        clock: Callable[[], datetime] | None = None,
        webhook_backoff: float = 0.01,
        webhook_max_retry_after: float = 1.0,
        processing_delay: float | None = 0.0,
        hal_forms_targets: bool = False,
    ) -> None:
        if orders < 1:
            raise ValueError("orders must be at least 1")
        keys = {DEFAULT_API_KEY: ALL_SCOPES} if api_keys is None else api_keys
        self._keys: dict[str, frozenset[str]] = {k: frozenset(v) for k, v in keys.items()}
        self.api_key = next(iter(self._keys), DEFAULT_API_KEY)
        self._host, self._port = host, port
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self.store = Store(orders=orders, seed=seed, clock=self.clock)
        self.drafts_machine = DraftMachine(self.store, draft_ttl)
        self.limiter = SlidingWindowLimiter(rate_limit_per_minute, rate_limit_window) if rate_limit_per_minute else None
        self.rate_limit_retry_after = rate_limit_retry_after
        self.processing_delay = processing_delay
        #: HAL-FORMS in the spec's shape (each href in its template's ``target``) instead of Loop's.
        self.hal_forms_targets = hal_forms_targets
        self.faults = FaultInjector(on_volatile=lambda _request: self.drafts_machine.shift_volatile_context())
        self.side_effects: Counter[tuple[str, int]] = Counter()
        self.request_counts: Counter[str] = Counter()
        self.request_log: list[RequestRecord] = []
        self.webhook_secret = webhook_secret
        self.dispatcher = WebhookDispatcher(
            webhook_secret,
            lambda: list(self.store.webhooks.values()),
            backoff=webhook_backoff,
            max_retry_after=webhook_max_retry_after,
            rng=random.Random(seed),
        )
        #: Warehouse and support endpoints' state and test controls (``seed_shipment``, ...).
        self.warehouse = Warehouse(self.store, self.dispatcher, self.side_effects)
        self._actions = ReturnActions(self.store, self.dispatcher, self.side_effects, lambda: self.processing_delay)
        self._draft_returns = DraftReturns(
            self.drafts_machine,
            self.side_effects,
            on_submit=lambda ret: self._actions.emit_return("return.created", ret),
            hal_forms_targets=lambda: self.hal_forms_targets,
        )
        self._deep_links = DeepLinks(self.store, seed)
        self._return_data = ReturnData(self.store)
        self._subscriptions = WebhookSubscriptions(self.store)
        self._scopes: dict[str, str] = {}
        self._runner: web.AppRunner | None = None
        self._url: URL | None = None

    # -- public state ----------------------------------------------------------------------

    @property
    def url(self) -> URL:
        """The server's origin, e.g. ``URL("http://127.0.0.1:54321")`` (the API is under ``/api/v1``)."""
        if self._url is None:
            raise RuntimeError("the server is not started; use `async with FakeLoopServer() as server`")
        return self._url

    @property
    def started(self) -> bool:
        """Whether the server is listening."""
        return self._runner is not None

    @property
    def api_root(self) -> URL:
        """``{url}/api/v1``."""
        return self.url / "api" / "v1"

    @property
    def orders(self) -> list[FakeOrder]:
        """The seeded orders (``.name``, ``.zip``, ``.email``, ``.line_items``)."""
        return self.store.orders

    @property
    def returns(self) -> dict[int, FakeReturn]:
        """Returns by id (``.state``, ``.flagged``, ``.notes``, ``.line_items``)."""
        return self.store.returns

    @property
    def drafts(self) -> dict[int, FakeDraft]:
        """Draft returns by id."""
        return self.store.drafts

    @property
    def webhooks(self) -> dict[int, FakeWebhook]:
        """Registered webhook subscriptions by id."""
        return self.store.webhooks

    @property
    def webhook_deliveries(self) -> list[WebhookDelivery]:
        """Every delivery attempt: ``(url, topic, trigger, status_code, attempt)``."""
        return self.dispatcher.deliveries

    @property
    def background_tasks(self) -> int:
        """Queued processing, delayed fault effects and webhook deliveries still in flight."""
        return len(self._actions.tasks) + len(self.faults.effects) + self.dispatcher.in_flight

    # -- test controls ---------------------------------------------------------------------

    def seed_return(
        self,
        order_name: str | None = None,
        state: str = "open",
        line_item_ids: Iterable[int] | None = None,
        *,
        created_at: datetime | None = None,
        updated_at: datetime | None = None,
        credit_type: str = "refund",
    ) -> int:
        """Create a return directly (no draft, no webhook); returns its id.

        Without ``order_name`` the orders are used in turn; without ``line_item_ids`` the
        order's first eligible item is returned. ``created_at`` places it in time.
        """
        order = self.store.pick_order() if order_name is None else self.store.order(order_name)
        if order is None:
            raise KeyError(f"no seeded order named {order_name!r}")
        if line_item_ids is None:
            items = order.eligible_line_items[:1]
        else:
            items = []
            for line_item_id in line_item_ids:
                item = order.line_item(line_item_id)
                if item is None:
                    raise KeyError(f"line item {line_item_id} is not on order {order.name}")
                items.append(item)
        ret = self.store.create_return(
            order, items, state=state, credit_type=credit_type, created_at=created_at, updated_at=updated_at
        )
        return ret.id

    def fail_processing(self, return_id: int, message: str | None = "Processing failed") -> None:
        """Make the next processing of ``return_id`` fail (webhook ``return.processing.failed``)."""
        self._actions.fail_next[return_id] = message

    def release_processing(self) -> None:
        """Let queued processing finish now and from now on (for ``processing_delay=None``)."""
        self._actions.processing_released.set()

    def review(self, return_id: int) -> None:
        """Mark a flagged return as reviewed: processing is allowed again."""
        ret = self.store.returns[return_id]
        ret.flagged = False
        if ret.state == "review":
            ret.state = "open"

    def set_label_status(self, return_id: int, status: str, trigger: str = "label.updated") -> None:
        """Change the label of ``return_id`` (an EasyPost status such as ``in_transit``) and send
        the ``label`` webhook ``trigger`` (``label.created``, ``label.updated``, ``label.closed``...)."""
        ret = self.store.returns[return_id]
        ret.label_status = status
        ret.label_updated_at = self.clock()
        self.dispatcher.emit("label", trigger, label_payload(ret))

    def make_returns_unavailable(self, order_name: str) -> None:
        """Make submitting a draft for ``order_name`` fail with 422 ``returns-unavailable-for-order``."""
        self.drafts_machine.make_returns_unavailable(order_name)

    def set_payment_intent(self, draft_id: int, payment_intent_id: str = "pi_test") -> None:
        """Give an instant-processing draft its payment intent, so that it may be submitted."""
        self.drafts_machine.set_payment_intent(draft_id, payment_intent_id)

    def expire_draft(self, draft_id: int) -> None:
        """Expire a draft return now."""
        self.drafts_machine.expire(draft_id)

    def wait_for_webhooks(
        self, predicate: Callable[[list[WebhookDelivery]], bool]
    ) -> Coroutine[Any, Any, list[WebhookDelivery]]:
        """Await until ``predicate(server.webhook_deliveries)`` holds (wrap it in a timeout)."""
        return self.dispatcher.wait_for(predicate)

    async def wait_idle(self) -> None:
        """Wait until queued processing and webhook deliveries (with their retries) are done."""
        tasks = self._actions.tasks
        # Each step may start more (processing emits webhooks): until nothing is left running.
        while any(not task.done() for task in (*tasks, *self.faults.effects)) or self.dispatcher.busy:
            await self.faults.settle()
            await asyncio.gather(*[task for task in tasks if not task.done()], return_exceptions=True)
            await self.dispatcher.idle()

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Start listening (on a free port unless one was given)."""
        if self._runner is not None:
            raise RuntimeError("the server is already started")
        runner = web.AppRunner(self.make_app(), access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, self._host, self._port)
        await site.start()
        self._runner = runner
        host, port = runner.addresses[0][:2]
        self._url = URL.build(scheme="http", host=host, port=port)

    async def close(self) -> None:
        """Stop: no new requests, background processing and deliveries cancelled and awaited."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
        await self.faults.aclose()
        tasks = list(self._actions.tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.dispatcher.aclose()

    async def __aenter__(self) -> FakeLoopServer:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        where = str(self._url) if self._url else "not started"
        return f"<FakeLoopServer {where} orders={len(self.store.orders)} returns={len(self.store.returns)}>"

    # -- application -----------------------------------------------------------------------

    def routes(self) -> list[Route]:
        """Every route under ``/api/{version}``: ``(method, path template, scope, handler)``."""
        return [
            *self._actions.routes(SCOPE_RETURNS),
            *self._return_data.routes(SCOPE_RETURNS),
            *self._deep_links.routes(SCOPE_ORDERS),
            *self._subscriptions.routes(SCOPE_DEVELOPER_TOOLS),
            *self._draft_returns.routes(read=SCOPE_DRAFT_RETURNS_READ, write=SCOPE_DRAFT_RETURNS_WRITE),
            *self.warehouse.routes(returns=SCOPE_RETURNS, orders=SCOPE_ORDERS, happy_returns=SCOPE_HAPPY_RETURNS),
        ]

    def make_app(self) -> web.Application:
        """The aiohttp application (routes for every API version, middlewares)."""
        app = web.Application(
            middlewares=[
                log_middleware(self._keys, self.request_counts, self.request_log),
                fault_middleware(self.faults, route_key),
                auth_middleware(self._keys, self._scopes),
                rate_limit_middleware(lambda: self.limiter, lambda: self.rate_limit_retry_after),
                error_middleware,
            ],
            client_max_size=1024 * 1024,
        )
        routes = self.routes()
        for version in API_VERSIONS:
            for method, template, scope, handler in routes:
                path = f"/api/{version}{template}"
                app.router.add_route(method, path, handler)
                self._scopes[f"{method} {path}"] = scope
        return app
