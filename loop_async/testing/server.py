"""``FakeLoopServer``: an in-process aiohttp.web imitation of Loop's API for tests and demos.

Routing, auth (``X-Authorization`` and scopes), the per-key rate limit, fault injection, the
request log, and the return-action / draft / return-data / webhook handlers. Every route is
served under each of :data:`API_VERSIONS` alike, except for the format of draft returns: on
:data:`HAL_FORMS_VERSIONS` (``2026-10``, ``unstable``) always HAL-FORMS
(``application/prs.hal-forms+json``), on the others (``v1``, ``latest``, ``2026-07``) HAL-FORMS
when the request's ``Accept`` asks for it, else ``links[]``; the draft list is HAL-FORMS only
(422 ``unsupported-feature`` otherwise). The data lives in
:mod:`.store`, the draft state machine in :mod:`.draft_machine`, delivery in :mod:`.webhooks`.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from datetime import datetime, timedelta, timezone
from types import TracebackType
from typing import Any

import attrs
from aiohttp import web
from yarl import URL

from loop_async._sansio import json as _json
from loop_async.testing._shapes import (
    LoopHTTPError,
    action_error,
    draft_error,
    json_response,
    unauthorized_key,
    unauthorized_scope,
    validation_error,
)
from loop_async.testing.draft_machine import DraftMachine
from loop_async.testing.faults import DroppedConnection, FaultInjector, fault_middleware
from loop_async.testing.limits import SlidingWindowLimiter
from loop_async.testing.return_data import asn_rows, find_return, list_returns, render_return
from loop_async.testing.store import FakeDraft, FakeNote, FakeOrder, FakeReturn, FakeWebhook, Store
from loop_async.testing.warehouse import Warehouse
from loop_async.testing.webhook_payloads import giftcard_payload, label_payload, restock_payload, return_payload
from loop_async.testing.webhook_sender import WebhookDelivery, WebhookDispatcher

__all__ = [
    "ALL_SCOPES",
    "API_VERSIONS",
    "HAL_FORMS_CONTENT_TYPE",
    "HAL_FORMS_VERSIONS",
    "SCOPE_DEVELOPER_TOOLS",
    "SCOPE_DRAFT_RETURNS",
    "SCOPE_DRAFT_RETURNS_READ",
    "SCOPE_DRAFT_RETURNS_WRITE",
    "SCOPE_HAPPY_RETURNS",
    "SCOPE_ORDERS",
    "SCOPE_RETURNS",
    "FakeLoopServer",
    "RequestRecord",
]

logger = logging.getLogger("loop_async.testing")

SCOPE_RETURNS = "Returns"
SCOPE_ORDERS = "Orders"
SCOPE_DRAFT_RETURNS_READ = "Draft Returns (read)"
SCOPE_DRAFT_RETURNS_WRITE = "Draft Returns (write)"
#: Both draft-return scopes at once (the name this fake used before Loop split them).
SCOPE_DRAFT_RETURNS = "Draft Returns"
SCOPE_DEVELOPER_TOOLS = "Developer Tools"
SCOPE_HAPPY_RETURNS = "Happy Returns Shipments (Read)"
ALL_SCOPES: tuple[str, ...] = (
    SCOPE_RETURNS,
    SCOPE_ORDERS,
    SCOPE_DRAFT_RETURNS_READ,
    SCOPE_DRAFT_RETURNS_WRITE,
    SCOPE_DEVELOPER_TOOLS,
    SCOPE_HAPPY_RETURNS,
)
# Scopes that grant others: the old single draft scope stands for both.
_SCOPE_GRANTS: Mapping[str, frozenset[str]] = {
    SCOPE_DRAFT_RETURNS: frozenset({SCOPE_DRAFT_RETURNS_READ, SCOPE_DRAFT_RETURNS_WRITE}),
}
#: ``latest`` is served like ``2026-07`` (Loop's "latest" reference pages show ``links[]``: a guess).
API_VERSIONS: tuple[str, ...] = ("v1", "latest", "2026-07", "2026-10", "unstable")
#: Versions whose draft returns always answer in HAL-FORMS (the others only when ``Accept`` asks).
HAL_FORMS_VERSIONS = frozenset({"2026-10", "unstable"})
HAL_FORMS_CONTENT_TYPE = "application/prs.hal-forms+json"
DEFAULT_API_KEY = "test-key"
CLOSED_STATES = frozenset({"closed", "cancelled", "expired"})
WEBHOOK_TOPICS = frozenset(
    {
        "return",
        "label",
        "restock",
        "giftcard",
        "happy.returns.shipment",
        "label.request",
        "return.processing",
        "ship-by-loop",  # a guess: Loop documents the triggers, not this topic's name
    }
)
WEBHOOK_TRIGGERS = frozenset(
    {
        "return.created",
        "return.updated",
        "return.closed",
        "label.created",
        "label.updated",
        "label.requested",
        "label.closed",
        "label.request.issued",
        "label.request.cancelled",
        "restock.requested",
        "giftcard.requested",
        "shipment.processed",
        "return.processing.failed",
        "ship-by-loop.services.requested",
        "ship-by-loop.purchase.requested",
        "ship-by-loop.cancellation.requested",
    }
)
#: Loop's PUT /webhooks/{id} requires these with every update.
WEBHOOK_PUT_REQUIRED = ("topic", "trigger", "url")
MAX_WEBHOOKS = 25

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@attrs.frozen
class RequestRecord:
    """One request as the server saw it. ``key_id`` identifies the key without revealing it."""

    at: float
    method: str
    path: str
    route: str
    status: int | None
    key_id: str | None


def _key_id(key: str) -> str:
    return "key-" + hashlib.sha256(key.encode()).hexdigest()[:8]


def _route_key(request: web.Request) -> str:
    resource = getattr(request.match_info.route, "resource", None)
    template = resource.canonical if resource is not None else request.path
    return f"{request.method} {template}"


def _api_root(request: web.Request) -> URL:
    version = request.path.split("/")[2]
    return request.url.origin().with_path(f"/api/{version}")


def _int_param(request: web.Request, name: str) -> int:
    value = request.match_info[name]
    if not value.isdigit():
        raise action_error(404, "NOT_FOUND", f"No resource {value!r}.")
    return int(value)


async def _json_object(request: web.Request, *, required: bool = False) -> dict[str, Any]:
    return _parse_object(await request.read(), required=required)


def _parse_object(raw: bytes, *, required: bool = False) -> dict[str, Any]:
    if not raw.strip():
        if required:
            raise validation_error({"body": ["A JSON object body is required."]}, status=400)
        return {}
    try:
        data = _json.loads(raw)
    except ValueError:
        raise validation_error({"body": ["The body is not valid JSON."]}, status=400) from None
    if not isinstance(data, dict):
        raise validation_error({"body": ["The body must be a JSON object."]}, status=400)
    return data


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
        self._seed = seed
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
        self._fail_next: dict[int, str | None] = {}
        self._processing_released = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
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
        return len(self._tasks) + len(self.faults.effects) + self.dispatcher.in_flight

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
        self._fail_next[return_id] = message

    def release_processing(self) -> None:
        """Let queued processing finish now and from now on (for ``processing_delay=None``)."""
        self._processing_released.set()

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
        # Each step may start more (processing emits webhooks): until nothing is left running.
        while any(not task.done() for task in (*self._tasks, *self.faults.effects)) or self.dispatcher.busy:
            await self.faults.settle()
            await asyncio.gather(*[task for task in self._tasks if not task.done()], return_exceptions=True)
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
        tasks = list(self._tasks)
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

    def make_app(self) -> web.Application:
        """The aiohttp application (routes for every API version, middlewares)."""
        app = web.Application(
            middlewares=[
                self._log_middleware,
                fault_middleware(self.faults, _route_key),
                self._auth_middleware,
            ],
            client_max_size=1024 * 1024,
        )
        routes: list[tuple[str, str, str, Handler]] = [
            ("POST", "/warehouse/return/{return_id}/process", SCOPE_RETURNS, self._process),
            ("POST", "/warehouse/return/{return_id}/remove", SCOPE_RETURNS, self._remove),
            ("POST", "/warehouse/return/{return_id}/cancel", SCOPE_RETURNS, self._cancel),
            ("POST", "/warehouse/return/{return_id}/close", SCOPE_RETURNS, self._close),
            ("POST", "/warehouse/return/{return_id}/flag", SCOPE_RETURNS, self._flag),
            ("GET", "/warehouse/return/{return_id}/notes", SCOPE_RETURNS, self._list_notes),
            ("POST", "/warehouse/return/{return_id}/note", SCOPE_RETURNS, self._create_note),
            ("GET", "/warehouse/return/list", SCOPE_RETURNS, self._list_returns),
            ("GET", "/warehouse/return/details", SCOPE_RETURNS, self._return_details),
            ("GET", "/warehouse/reporting/asn", SCOPE_RETURNS, self._asn),
            ("POST", "/order/link", SCOPE_ORDERS, self._deep_link),
            ("POST", "/order/qr", SCOPE_ORDERS, self._deep_link_qr),
            ("GET", "/webhooks", SCOPE_DEVELOPER_TOOLS, self._list_webhooks),
            ("POST", "/webhooks", SCOPE_DEVELOPER_TOOLS, self._create_webhook),
            ("PUT", "/webhooks/{webhook_id}", SCOPE_DEVELOPER_TOOLS, self._update_webhook),
            ("DELETE", "/webhooks/{webhook_id}", SCOPE_DEVELOPER_TOOLS, self._delete_webhook),
            ("POST", "/draft-returns", SCOPE_DRAFT_RETURNS_WRITE, self._draft_create),
            ("GET", "/draft-returns", SCOPE_DRAFT_RETURNS_READ, self._draft_list),
            ("GET", "/draft-returns/{draft_id}", SCOPE_DRAFT_RETURNS_READ, self._draft_get),
            ("GET", "/draft-returns/{draft_id}/totals", SCOPE_DRAFT_RETURNS_READ, self._draft_totals),
        ]
        draft_actions: list[tuple[str, str, Callable[[FakeDraft, web.Request, bytes], Any]]] = [
            ("POST", "/returning-items", self._d_add_item),
            ("DELETE", "/returning-items/{item_id}", self._d_remove_item),
            ("POST", "/returning-items/{item_id}/return-reason", self._d_reason),
            ("POST", "/returning-items/{item_id}/user-input/{user_input_id}", self._d_user_input),
            ("POST", "/returning-items/{item_id}/exchange-item", self._d_exchange),
            ("POST", "/customer", self._d_customer),
            ("POST", "/finalize-items", self._d_finalize),
            ("POST", "/credit-type", self._d_credit_type),
            ("POST", "/return-method", self._d_return_method),
            ("POST", "/address", self._d_address),
            ("POST", "/cart-items", self._d_cart_items),
            ("POST", "/cart", self._d_set_cart),
            ("POST", "/accept-return-policy", self._d_accept_policy),
            ("POST", "/processing-type", self._d_processing_type),
            ("POST", "/submit", self._d_submit),
            ("POST", "/cancel", self._d_cancel),
        ]
        routes += self.warehouse.routes(returns=SCOPE_RETURNS, orders=SCOPE_ORDERS, happy_returns=SCOPE_HAPPY_RETURNS)
        for method, suffix, action in draft_actions:
            routes.append(
                (method, "/draft-returns/{draft_id}" + suffix, SCOPE_DRAFT_RETURNS_WRITE, self._draft_handler(action))
            )
        for version in API_VERSIONS:
            for method, template, scope, handler in routes:
                path = f"/api/{version}{template}"
                app.router.add_route(method, path, handler)
                self._scopes[f"{method} {path}"] = scope
        return app

    # -- middlewares -----------------------------------------------------------------------

    @web.middleware
    async def _log_middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        route = _route_key(request)
        self.request_counts[route] += 1
        key = request.headers.get("X-Authorization")
        key_id = None if key is None else (_key_id(key) if key in self._keys else "unknown")
        status: int | None = None
        try:
            response = await handler(request)
            status = response.status
            return response
        except DroppedConnection:
            # The transport is already aborted; aiohttp ignores the failed write of this placeholder.
            return web.Response(status=500)
        except LoopHTTPError as exc:
            status = exc.status
            return exc.response()
        except web.HTTPException as exc:
            status = exc.status
            if exc.status == 404:
                status = 404
                return action_error(404, "NOT_FOUND", "Not found.").response()
            raise
        finally:
            self.request_log.append(
                RequestRecord(time.monotonic(), request.method, request.path, route, status, key_id)
            )
            logger.info("%s %s -> %s", request.method, request.path, status if status is not None else "dropped")

    @web.middleware
    async def _auth_middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        key = request.headers.get("X-Authorization", "").strip()
        scopes = self._keys.get(key) if key else None
        if scopes is None:
            raise unauthorized_key()
        needed = self._scopes.get(_route_key(request))
        if needed is not None and needed not in scopes and not any(needed in _SCOPE_GRANTS.get(s, ()) for s in scopes):
            raise unauthorized_scope(needed)
        if self.limiter is not None:
            wait = self.limiter.hit(_key_id(key))
            if wait is not None:
                headers = {"Retry-After": self.limiter.retry_after_header(wait)} if self.rate_limit_retry_after else {}
                raise LoopHTTPError(429, {"message": "Too Many Attempts."}, headers)
        try:
            return await handler(request)
        except LoopHTTPError as exc:
            return exc.response()

    # -- background work -------------------------------------------------------------------

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _complete_processing(self, ret: FakeReturn) -> None:
        """Finish a queued processing: close the return, unless it changed while queued.

        Processing completes only if the return is still ``open`` and unflagged. A return
        cancelled, closed or flagged meanwhile keeps that state: the processing is dropped
        and, as for any failed processing, a ``return.processing.failed`` webhook says why.
        """
        # Queued: finishes after the 200 was sent, after the delay or when the test says so.
        if self.processing_delay is None:
            await self._processing_released.wait()
        else:
            await asyncio.sleep(self.processing_delay)
        ret.processing = False
        failing = ret.id in self._fail_next
        message = self._fail_next.pop(ret.id, None)
        if ret.state != "open" or ret.flagged:
            failing = True
            why = "flagged for review" if ret.flagged else ret.state
            message = f"Return {ret.id} is {why}; processing was dropped."
        if failing:
            payload = {"return_id": ret.id, "return_state": ret.state, "message": message, "source": "api"}
            self.dispatcher.emit("return.processing", "return.processing.failed", payload)
            return
        self._set_state(ret, "closed")
        self._emit_return("return.closed", ret)
        # What Loop sends when processing finishes (when the shop restocks by webhook, and
        # uses a third-party gift card provider).
        self.dispatcher.emit("restock", "restock.requested", restock_payload(ret))
        if ret.credit_type == "gift":
            gift_card_id = self.store.next_id("gift_card")
            self.dispatcher.emit("giftcard", "giftcard.requested", giftcard_payload(ret, gift_card_id))

    def _emit_return(self, trigger: str, ret: FakeReturn) -> None:
        self.dispatcher.emit("return", trigger, return_payload(ret, self.clock()))

    # -- return actions --------------------------------------------------------------------

    def _set_state(self, ret: FakeReturn, state: str) -> None:
        ret.state = state
        ret.updated_at = self.clock()

    def _find_return(self, request: web.Request) -> FakeReturn:
        return_id = _int_param(request, "return_id")
        ret = self.store.returns.get(return_id)
        if ret is None:
            # As Loop does: status 200, an error body without a code.
            raise LoopHTTPError(200, {"errors": {"message": "No return found with this ID."}})
        return ret

    def _actionable(self, request: web.Request) -> FakeReturn:
        ret = self._find_return(request)
        if ret.state in CLOSED_STATES:
            # Loop refuses actions on a closed, cancelled or expired return with status 200.
            raise action_error(200, "UNPROCESSABLE_RETURN", f"Return {ret.id} is {ret.state} and cannot be changed.")
        return ret

    # Every handler reads its raw body first (its only ``await``), then checks, parses and
    # mutates: two concurrent requests cannot both pass a check the first one's change fails.

    async def _process(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        ret = self._actionable(request)
        if ret.flagged:
            raise action_error(200, "UNPROCESSABLE_FLAGGED_RETURN", f"Return {ret.id} is flagged for review.")
        if ret.processing:
            raise action_error(422, "UNPROCESSABLE_RETURN", f"Return {ret.id} is already queued for processing.")
        ret.process_details = _parse_object(raw)
        ret.processing = True
        self.side_effects[("process", ret.id)] += 1
        self._spawn(self._complete_processing(ret))
        return json_response(True)

    async def _remove(self, request: web.Request) -> web.StreamResponse:
        ret = self._actionable(request)
        raw = request.query.get("line_item_id", "")
        parts = [p.strip() for p in raw.split(",") if p.strip()]
        if not parts or not all(p.isdigit() for p in parts):
            raise validation_error({"line_item_id": ["The line item id field is required (comma-separated ids)."]})
        chosen = []
        for line_item_id in map(int, parts):
            item = next((i for i in ret.line_items if line_item_id in (i.id, i.line_item.id)), None)
            if item is None:
                raise action_error(422, "UNPROCESSABLE_RETURN", f"Line item {line_item_id} is not on return {ret.id}.")
            if item.outcome not in ("refund", "store-credit"):
                raise action_error(
                    422, "UNPROCESSABLE_RETURN", f"Line item {line_item_id} has outcome {item.outcome}: not removable."
                )
            chosen.append(item)
        ret.line_items = [i for i in ret.line_items if i not in chosen]
        self.side_effects[("remove", ret.id)] += 1
        self._set_state(ret, "closed")  # Loop processes and closes the return on removal
        self._emit_return("return.closed", ret)
        return json_response(True)

    async def _cancel(self, request: web.Request) -> web.StreamResponse:
        ret = self._actionable(request)
        ret.cancel_reason = request.query.get("reason")
        self.side_effects[("cancel", ret.id)] += 1
        self._set_state(ret, "cancelled")
        self._emit_return("return.updated", ret)
        return json_response("true")  # Loop often sends the JSON string "true"

    async def _close(self, request: web.Request) -> web.StreamResponse:
        ret = self._actionable(request)
        self.side_effects[("close", ret.id)] += 1
        self._set_state(ret, "closed")
        self._emit_return("return.closed", ret)
        return json_response("true")

    async def _flag(self, request: web.Request) -> web.StreamResponse:
        ret = self._actionable(request)
        ret.flagged = True
        self.side_effects[("flag", ret.id)] += 1
        self._set_state(ret, "review")
        self._emit_return("return.updated", ret)
        return json_response(True)

    async def _list_notes(self, request: web.Request) -> web.StreamResponse:
        ret = self._find_return(request)
        if not ret.notes:
            raise action_error(422, "UNPROCESSABLE_RETURN", f"Return {ret.id} has no notes.")
        notes = [{"id": n.id, "content": n.content, "created_at": n.created_at.isoformat()} for n in ret.notes]
        return json_response({"notes": notes})

    async def _create_note(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        ret = self._actionable(request)
        body = _parse_object(raw, required=True)
        content = body.get("content", body.get("note"))  # the guide calls it "note"
        if not isinstance(content, str) or not content.strip():
            raise validation_error({"content": ["The content field is required."]})
        if len(content) > 255:
            raise validation_error({"content": ["The content may not be greater than 255 characters."]})
        ret.notes.append(FakeNote(id=self.store.next_id("note"), content=content, created_at=self.clock()))
        self.side_effects[("note", ret.id)] += 1
        return json_response(True)

    # -- deep links ------------------------------------------------------------------------

    async def _deep_link_order(self, request: web.Request) -> tuple[FakeOrder, dict[str, Any], str]:
        body = await _json_object(request)
        errors = []
        name, zip_, gift = body.get("name"), body.get("zip"), body.get("gift", False)
        if not isinstance(name, str) or not name.strip():
            errors.append("The name field is required.")
        if not isinstance(zip_, str | int) or isinstance(zip_, bool) or not str(zip_).strip():
            errors.append("The zip field is required.")
        if not isinstance(gift, bool):
            errors.append("The gift field must be true or false.")
        if errors:
            raise LoopHTTPError(400, {"errors": errors})
        order = self.store.order(str(name))
        if order is None:
            raise action_error(404, "ORDER_NOT_FOUND", f"Order {name} was not found.")
        if str(zip_).strip().lower() not in (order.zip, order.email.lower()):
            raise LoopHTTPError(400, {"errors": ["The zip does not match the order."]})
        token = hashlib.sha256(f"{self._seed}:{order.name}".encode()).hexdigest()[:20]
        url = f"https://returns.example.com/#/link/{token}" + ("?gift=1" if gift else "")
        return order, body, url

    async def _deep_link(self, request: web.Request) -> web.StreamResponse:
        _, _, url = await self._deep_link_order(request)
        return json_response({"url": url})

    async def _deep_link_qr(self, request: web.Request) -> web.StreamResponse:
        _, body, url = await self._deep_link_order(request)
        kind, size = body.get("type", "png"), body.get("size", 300)
        errors = []
        if kind not in ("png", "eps", "svg"):
            errors.append("The type must be one of png, eps, svg.")
        if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
            errors.append("The size must be a positive integer.")
        if errors:
            raise LoopHTTPError(400, {"errors": errors})
        token = url.rsplit("/", 1)[-1].split("?")[0]
        return json_response({"qr": f"https://qr.example.com/{token}.{kind}?size={size}", "deeplink_url": url})

    # -- return data -----------------------------------------------------------------------

    async def _list_returns(self, request: web.Request) -> web.StreamResponse:
        return json_response(list_returns(self.store, request.query, request.url))

    async def _return_details(self, request: web.Request) -> web.StreamResponse:
        ret = find_return(self.store, request.query)
        if ret is None:
            return json_response({"error": {"message": "Return not found."}})  # Loop's "no match", status 200
        return json_response(render_return(ret))

    async def _asn(self, request: web.Request) -> web.StreamResponse:
        return json_response(asn_rows(self.store, request.query))

    # -- webhook management ----------------------------------------------------------------

    async def _list_webhooks(self, request: web.Request) -> web.StreamResponse:
        return json_response({"webhooks": [w.as_json() for w in self.store.webhooks.values()]})

    @staticmethod
    def _webhook_problems(body: Mapping[str, Any], *, partial: bool) -> list[str]:
        problems = []
        checks: list[tuple[str, Callable[[Any], bool], str]] = [
            ("topic", lambda v: v in WEBHOOK_TOPICS, "an unknown topic"),
            ("trigger", lambda v: v in WEBHOOK_TRIGGERS, "an unknown trigger"),
            (
                "url",
                lambda v: isinstance(v, str) and URL(v).scheme in ("http", "https") and bool(URL(v).host),
                "not a URL",
            ),
        ]
        for name, ok, what in checks:
            if (name in body or not partial) and not ok(body.get(name)):
                problems.append(f"{name} is {what}")
        if "status" in body and body["status"] not in ("active", "inactive"):
            problems.append("status must be active or inactive")
        return problems

    async def _create_webhook(self, request: web.Request) -> web.StreamResponse:
        body = await _json_object(request, required=True)
        problems = self._webhook_problems(body, partial=False)
        if problems:
            raise action_error(422, "FAILED_TO_CREATE_WEBHOOK", "; ".join(problems))
        if len(self.store.webhooks) >= MAX_WEBHOOKS:
            raise action_error(422, "DESTINATION_LIMIT_EXCEEDED", f"At most {MAX_WEBHOOKS} webhooks per shop.")
        hook = FakeWebhook(
            id=self.store.next_id("webhook"),
            topic=body["topic"],
            trigger=body["trigger"],
            url=body["url"],
            status=body.get("status", "inactive"),  # the default a third-party spec of Loop's API gives
        )
        self.store.webhooks[hook.id] = hook
        return json_response(hook.as_json(), status=201)

    def _webhook(self, request: web.Request, code: str) -> FakeWebhook:
        value = request.match_info["webhook_id"]
        hook = self.store.webhooks.get(int(value)) if value.isdigit() else None
        if hook is None:
            raise action_error(404, code, f"Webhook {value} was not found.")
        return hook

    async def _update_webhook(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        hook = self._webhook(request, "FAILED_TO_UPDATE_WEBHOOK")
        body = _parse_object(raw, required=True)
        problems = [f"{name} is required" for name in WEBHOOK_PUT_REQUIRED if name not in body]
        problems += self._webhook_problems(body, partial=True)
        if problems:
            raise action_error(422, "FAILED_TO_UPDATE_WEBHOOK", "; ".join(problems))
        for name in ("topic", "trigger", "url", "status"):
            if name in body:
                setattr(hook, name, body[name])
        return web.Response(status=204)

    async def _delete_webhook(self, request: web.Request) -> web.StreamResponse:
        hook = self._webhook(request, "FAILED_TO_DELETE_WEBHOOK")
        del self.store.webhooks[hook.id]
        return web.Response(status=204)

    # -- draft returns ---------------------------------------------------------------------

    @staticmethod
    def _wants_hal_forms(request: web.Request) -> bool:
        """HAL-FORMS on 2026-10 and later whatever ``Accept`` says; before, when ``Accept`` names it."""
        if _api_root(request).name in HAL_FORMS_VERSIONS:
            return True
        accepted = (part.split(";", 1)[0].strip().lower() for part in request.headers.get("Accept", "").split(","))
        return HAL_FORMS_CONTENT_TYPE in accepted

    def _render(self, request: web.Request, draft: FakeDraft, errors: Any = ()) -> web.Response:
        api_root = _api_root(request)
        if self._wants_hal_forms(request):
            data = self.drafts_machine.render_hal_forms(draft, api_root, errors, targets=self.hal_forms_targets)
            return web.Response(body=_json.dumps(data), content_type=HAL_FORMS_CONTENT_TYPE)
        return json_response(self.drafts_machine.render(draft, api_root, errors))

    async def _draft_list(self, request: web.Request) -> web.StreamResponse:
        if not self._wants_hal_forms(request):
            raise draft_error(
                422, "unsupported-feature", f"Listing draft returns needs Accept: {HAL_FORMS_CONTENT_TYPE}."
            )
        data = self.drafts_machine.render_list(_api_root(request))
        return web.Response(body=_json.dumps(data), content_type=HAL_FORMS_CONTENT_TYPE)

    async def _draft_totals(self, request: web.Request) -> web.StreamResponse:
        draft = self.drafts_machine.get(_int_param(request, "draft_id"))
        return json_response(self.drafts_machine.render_totals(draft))

    async def _draft_create(self, request: web.Request) -> web.StreamResponse:
        draft = self.drafts_machine.create(await _json_object(request, required=True))
        return self._render(request, draft)

    async def _draft_get(self, request: web.Request) -> web.StreamResponse:
        return self._render(request, self.drafts_machine.get(_int_param(request, "draft_id")))

    def _draft_handler(self, action: Callable[[FakeDraft, web.Request, bytes], Any]) -> Handler:
        async def handler(request: web.Request) -> web.StreamResponse:
            raw = await request.read()  # the only await: the draft is looked up, checked and changed after it
            draft = self.drafts_machine.get(_int_param(request, "draft_id"))
            errors = action(draft, request, raw)
            # Counted per draft and action, as the return actions are: the tests' "at most once" oracle.
            self.side_effects[(_route_key(request).replace(f"/api/{_api_root(request).name}", "", 1), draft.id)] += 1
            return self._render(request, draft, errors or ())

        return handler

    def _d_add_item(self, draft: FakeDraft, request: web.Request, raw: bytes) -> None:
        self.drafts_machine.add_returning_item(draft, _parse_object(raw, required=True))

    def _d_remove_item(self, draft: FakeDraft, request: web.Request, raw: bytes) -> None:
        self.drafts_machine.remove_returning_item(draft, _int_param(request, "item_id"))

    def _d_reason(self, draft: FakeDraft, request: web.Request, raw: bytes) -> None:
        body = _parse_object(raw, required=True)
        self.drafts_machine.set_return_reason(draft, _int_param(request, "item_id"), body)

    def _d_user_input(self, draft: FakeDraft, request: web.Request, raw: bytes) -> None:
        try:
            body = _json.loads(raw) if raw.strip() else None
        except ValueError:
            raise validation_error({"value": ["The body is not valid JSON."]}, status=400) from None
        item_id, input_id = _int_param(request, "item_id"), _int_param(request, "user_input_id")
        self.drafts_machine.set_user_input(draft, item_id, input_id, body)

    def _d_exchange(self, draft: FakeDraft, request: web.Request, raw: bytes) -> None:
        body = _parse_object(raw, required=True)
        self.drafts_machine.set_exchange_item(draft, _int_param(request, "item_id"), body)

    def _d_customer(self, draft: FakeDraft, request: web.Request, raw: bytes) -> None:
        self.drafts_machine.set_customer(draft, _parse_object(raw, required=True))

    def _d_finalize(self, draft: FakeDraft, request: web.Request, raw: bytes) -> None:
        self.drafts_machine.finalize_items(draft)

    def _d_credit_type(self, draft: FakeDraft, request: web.Request, raw: bytes) -> None:
        self.drafts_machine.set_credit_type(draft, _parse_object(raw, required=True))

    def _d_return_method(self, draft: FakeDraft, request: web.Request, raw: bytes) -> None:
        self.drafts_machine.select_return_method(draft, _parse_object(raw, required=True))

    def _d_address(self, draft: FakeDraft, request: web.Request, raw: bytes) -> None:
        self.drafts_machine.set_address(draft, _parse_object(raw, required=True))

    def _d_cart_items(self, draft: FakeDraft, request: web.Request, raw: bytes) -> Any:
        return self.drafts_machine.add_cart_items(draft, _parse_object(raw, required=True))

    def _d_set_cart(self, draft: FakeDraft, request: web.Request, raw: bytes) -> None:
        self.drafts_machine.set_cart(draft, _parse_object(raw, required=True))

    def _d_accept_policy(self, draft: FakeDraft, request: web.Request, raw: bytes) -> None:
        body = _parse_object(raw)
        if body.get("return_policy_id", 1) != 1:  # the read-only value the template offers
            raise validation_error({"return_policy_id": ["The return policy id is invalid."]})
        self.drafts_machine.accept_return_policy(draft)

    def _d_processing_type(self, draft: FakeDraft, request: web.Request, raw: bytes) -> None:
        self.drafts_machine.set_processing_type(draft, _parse_object(raw, required=True))

    def _d_submit(self, draft: FakeDraft, request: web.Request, raw: bytes) -> None:
        ret = self.drafts_machine.submit(draft)
        self.side_effects[("submit", draft.id)] += 1
        self._emit_return("return.created", ret)

    def _d_cancel(self, draft: FakeDraft, request: web.Request, raw: bytes) -> None:
        self.drafts_machine.cancel(draft)
