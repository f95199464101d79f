"""The navigator: a resource plus the actions it offers now, followed by rel.

Generic over the resource type (a ``decode`` function builds it from the JSON) and over the
link format (a :class:`~loop_async.hypermedia.formats.LinkFormat`); it names no rel and no
state of any API.

**Timeout after sending.** A non-idempotent follow (POST, PATCH) that fails in a way that
may have reached the server (a :class:`~loop_async.errors.TransportError` whose
``request_sent`` is not ``False``, or a :class:`~loop_async.errors.ServerError`) is not
retried blindly. The navigator re-reads the resource from its ``self_url`` and decides:

- the action **took effect** when the decoded resource differs from the one the navigator
  held, *or* the followed link (if this navigator offered it) is no longer offered identically
  (gone, or another href, method or fields): the re-read navigator is returned, with
  ``recovered_from`` set to the error;
- otherwise it **did not**, and the follow is sent once more (that single retry is not
  retried blindly again: if it too may have been lost, its error is raised).

Without a ``self_url``, or when the re-read fails, the original error is raised. The rule
assumes one writer per resource: an outside change between the two reads also counts as
"took effect" (and the caller gets the fresh state, never a duplicate). It cannot see a
request the server is still working on (a slow server, a short client timeout): there the
server's own state checks must refuse the late duplicate, as Loop's do for a submitted draft.
An action whose effect leaves the resource unchanged (setting a value it already has) is sent
again, which is harmless for exactly that reason.

**One writer per key.** Follows on navigators that share a ``key`` (e.g. a draft id) and a
transport are serialised by one :class:`asyncio.Lock`; different keys run in parallel.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import weakref
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from yarl import URL

from loop_async._convert import unstructure
from loop_async.errors import LoopError, PartialFailureError, ServerError, TransportError
from loop_async.hypermedia.formats import LinkFormat
from loop_async.hypermedia.linkset import LinkSet
from loop_async.hypermedia.validation import validate_values
from loop_async.models.common import ApiErrorEntry
from loop_async.models.links import Link
from loop_async.retry import IDEMPOTENT_METHODS
from loop_async.transport import Response, Transport

if TYPE_CHECKING:
    from loop_async.hypermedia.drive import DriveResult, Policy

__all__ = ["Navigator", "TransitionObserver", "writer_lock"]

logger = logging.getLogger("loop_async.hypermedia")

T = TypeVar("T")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})

# transport -> key -> lock. Weak on both sides: a lock lives while a navigator holds it.
_LOCKS: weakref.WeakKeyDictionary[Transport, weakref.WeakValueDictionary[Hashable, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


def writer_lock(transport: Transport, key: Hashable) -> asyncio.Lock:
    """The lock shared by every navigator of ``key`` on ``transport`` (one writer per key)."""
    per_key = _LOCKS.get(transport)
    if per_key is None:
        per_key = _LOCKS[transport] = weakref.WeakValueDictionary()
    lock = per_key.get(key)
    if lock is None:
        lock = per_key[key] = asyncio.Lock()
    return lock


class TransitionObserver(Protocol):
    """Told of every successful follow: the state before, the rel, the state after."""

    def transitioned(self, before: Navigator[Any], rel: str, after: Navigator[Any]) -> None:
        """Called once per follow, after the new state was decoded."""
        ...


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ",".join(_query_value(v) for v in value)  # Loop's style: comma-separated ids
    return str(value)


class Navigator(Generic[T]):
    """A decoded resource and the links it offers now; :meth:`follow` moves to the next state.

    ``data_or_response`` is a transport :class:`~loop_async.transport.Response` or parsed
    JSON. ``format`` reads the links and errors, ``decode`` builds :attr:`resource`.
    ``self_url`` re-reads the resource (for :meth:`refresh` and timeout reconciliation;
    defaults to the format's self link). ``key`` identifies the resource for the one-writer
    lock. ``observers`` are told of every transition and passed on to the next navigators.
    """

    def __init__(
        self,
        transport: Transport,
        data_or_response: Any,
        *,
        format: LinkFormat,
        decode: Callable[[Any], T],
        self_url: URL | None = None,
        key: Hashable | None = None,
        observers: Sequence[TransitionObserver] = (),
        step: int = 0,
    ) -> None:
        if isinstance(data_or_response, Response):
            self._response: Response | None = data_or_response
            data = data_or_response.data
        else:
            self._response, data = None, data_or_response
        self._transport = transport
        self._format = format
        self._decode = decode
        self._data = data
        self._links = LinkSet(format.links(data))
        self._errors = format.errors(data)
        self._resource = decode(data)
        href = format.self_href(data)
        # Resolved now: a self link off the client's origin, or unparseable, is refused at once.
        self._self_url = transport.resolve(href) if href is not None else self_url
        self._key = key
        self._lock = writer_lock(transport, key) if key is not None else None
        self._observers = tuple(observers)
        self._step = step
        self.recovered_from: LoopError | None = None
        """Set when this state was reached by re-reading after a lost follow (see module doc)."""

    # -- state -----------------------------------------------------------------------------

    @property
    def resource(self) -> T:
        """The decoded resource."""
        return self._resource

    @property
    def data(self) -> Any:
        """The raw JSON the navigator was built from."""
        return self._data

    @property
    def response(self) -> Response | None:
        """The HTTP response behind this state (``None`` when built from plain data)."""
        return self._response

    @property
    def links(self) -> LinkSet:
        """Every link offered now, in server order."""
        return self._links

    @property
    def rels(self) -> tuple[str, ...]:
        """The rels available now, in server order."""
        return self._links.rels

    @property
    def required(self) -> tuple[Link, ...]:
        """The links marked ``is_required``, in server order."""
        return self._links.required

    @property
    def is_terminal(self) -> bool:
        """``True`` when no link is offered: the flow is over."""
        return not self._links

    @property
    def errors(self) -> tuple[ApiErrorEntry, ...]:
        """The ``errors[]`` of a 2xx (a partial failure); empty when all went well."""
        return self._errors

    @property
    def self_url(self) -> URL | None:
        """The URL that re-reads this resource."""
        return self._self_url

    @property
    def key(self) -> Hashable | None:
        """The identity used for the one-writer lock."""
        return self._key

    @property
    def step(self) -> int:
        """How many follows led here from a navigator built directly (0 for that one)."""
        return self._step

    def link(self, rel: str) -> Link:
        """The link with ``rel``, or :class:`~loop_async.errors.RelNotAvailableError`."""
        return self._links[rel]

    def can(self, rel: str) -> bool:
        """Whether a link with ``rel`` is offered now."""
        return rel in self._links

    def with_observer(self, observer: TransitionObserver) -> Navigator[T]:
        """The same state, with ``observer`` told of this and every later transition."""
        return self._spawn(
            self._response if self._response is not None else self._data, step=self._step, extra=observer
        )

    # -- actions ---------------------------------------------------------------------------

    async def follow(
        self, rel: str, values: Mapping[str, Any] | None = None, /, *, strict: bool = False, **fields: Any
    ) -> Navigator[T]:
        """Invoke the link ``rel`` with field values; return the navigator over the new state.

        Values come as keyword arguments (or a mapping, for names that are not identifiers).
        They are checked against the link's ``fields`` first (:class:`FieldValidationError`
        listing every problem, nothing sent); the ``href`` must be on the client's origin
        (:class:`UnsafeLinkError`, nothing sent). Values travel as a JSON body for
        POST/PUT/PATCH and as the query for GET/DELETE. A 2xx with ``errors[]`` gives a
        navigator whose :attr:`errors` lists them; with ``strict=True`` it raises
        :class:`PartialFailureError` whose ``resource`` is that navigator.
        """
        return await self.follow_link(self.link(rel), values, strict=strict, **fields)

    async def follow_member(
        self,
        prefix: str,
        member_id: object,
        values: Mapping[str, Any] | None = None,
        /,
        *,
        strict: bool = False,
        **fields: Any,
    ) -> Navigator[T]:
        """Follow the member ``member_id`` of the rel family ``prefix`` (``prefix-member_id``)."""
        return await self.follow_link(self._links.member(prefix, member_id), values, strict=strict, **fields)

    async def follow_link(
        self, link: Link, values: Mapping[str, Any] | None = None, /, *, strict: bool = False, **fields: Any
    ) -> Navigator[T]:
        """Invoke ``link`` (usually one of :attr:`links`), as :meth:`follow` does."""
        given = {**(values or {}), **fields}
        payload = validate_values(link.fields, given, action=link.rel)
        url = self._transport.resolve(link.href)  # off-origin: UnsafeLinkError, nothing sent
        if self._lock is None:
            after = await self._send_reconciled(link, url, payload)
        else:
            async with self._lock:
                after = await self._send_reconciled(link, url, payload)
        for observer in self._observers:
            observer.transitioned(self, link.rel, after)
        if strict and after.errors:
            raise PartialFailureError(after.errors, resource=after)
        return after

    def plan(self, rel: str, values: Mapping[str, Any] | None = None, /, **fields: Any) -> dict[str, Any]:
        """Validate values for ``rel`` as :meth:`follow` would, without sending; return the payload."""
        link = self.link(rel)
        payload = validate_values(link.fields, {**(values or {}), **fields}, action=rel)
        self._transport.resolve(link.href)
        return payload

    async def refresh(self) -> Navigator[T]:
        """Re-read the resource from :attr:`self_url` (a GET)."""
        if self._self_url is None:
            raise LookupError("this navigator has no self_url to re-read the resource from")
        response = await self._transport.request("GET", self._transport.resolve(self._self_url))
        return self._spawn(response, step=self._step)

    async def drive(self, policy: Policy[T], *, max_steps: int = 50, dry_run: bool = False) -> DriveResult[T]:
        """Follow required links until terminal or the policy stops; see :mod:`~loop_async.hypermedia.drive`."""
        from loop_async.hypermedia.drive import drive  # drive builds on Navigator: import late

        return await drive(self, policy, max_steps=max_steps, dry_run=dry_run)

    # -- internals -------------------------------------------------------------------------

    def _spawn(self, data_or_response: Any, *, step: int, extra: TransitionObserver | None = None) -> Navigator[T]:
        observers = self._observers if extra is None else (*self._observers, extra)
        return Navigator(
            self._transport,
            data_or_response,
            format=self._format,
            decode=self._decode,
            self_url=self._self_url,
            key=self._key,
            observers=observers,
            step=step,
        )

    async def _send(self, link: Link, url: URL, payload: Mapping[str, Any]) -> Navigator[T]:
        method = link.method.upper()
        if method in _BODY_METHODS:
            response = await self._transport.request(method, url, json=unstructure(dict(payload)))
        else:
            params = {name: _query_value(unstructure(value)) for name, value in payload.items()}
            response = await self._transport.request(method, url, params=params or None)
        if response.data is None and self._self_url is not None:
            # An empty answer (e.g. 204) carries no state: read it.
            return (await self.refresh())._restep(self._step + 1)
        return self._spawn(response, step=self._step + 1)

    def _restep(self, step: int) -> Navigator[T]:
        self._step = step
        return self

    async def _send_reconciled(self, link: Link, url: URL, payload: Mapping[str, Any]) -> Navigator[T]:
        try:
            return await self._send(link, url, payload)
        except (TransportError, ServerError) as exc:
            if not _may_have_taken_effect(link, exc) or self._self_url is None:
                raise
            lost = exc
        logger.info("%s %s may have reached the server (%s); re-reading the resource", link.method, url, lost)
        try:
            current = await self.refresh()
        except LoopError as reread_error:
            raise lost from reread_error
        # An ad-hoc link (not offered here) says nothing by its absence: judge by the resource only.
        was_offered = self._links.get(link.rel) == link
        if current.resource != self._resource or (was_offered and current.links.get(link.rel) != link):
            logger.info("%s took effect (the resource changed); not sending it again", link.rel)
            current._restep(self._step + 1)
            current.recovered_from = lost
            return current
        logger.info("%s did not take effect (the resource is unchanged); sending it once more", link.rel)
        after = await current._send(link, url, payload)
        after._restep(self._step + 1)
        after.recovered_from = lost
        return after

    def __repr__(self) -> str:
        state = "terminal" if self.is_terminal else f"rels={list(self.rels)!r}"
        errors = f", errors={len(self._errors)}" if self._errors else ""
        return f"<Navigator {type(self._resource).__name__} key={self._key!r} {state}{errors}>"


def _may_have_taken_effect(link: Link, exc: LoopError) -> bool:
    if link.method.upper() in IDEMPOTENT_METHODS:
        return False  # the transport already retries these itself
    if isinstance(exc, TransportError):
        return exc.request_sent is not False
    return isinstance(exc, ServerError)


async def maybe_await(value: Awaitable[T] | T) -> T:
    """Await ``value`` if it is awaitable (a policy may be sync or async)."""
    if inspect.isawaitable(value):
        return await value
    return value
