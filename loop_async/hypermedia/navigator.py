"""The navigator: a resource plus the actions it offers now, followed by rel.

Generic over the resource type (a ``decode`` function builds it) and over the link format; it
names no rel and no state of any API. A navigator is an immutable snapshot: following a link
returns a new one. Follows of one ``key`` are serialised by the key's lock (:mod:`._state`); an
uncertain follow is reconciled, never re-sent on a guess (:mod:`._reconcile`); see the guide.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any, Generic, Protocol, TypeVar, cast

from yarl import URL

from loop_async._response import Response
from loop_async._sansio.outcome import ReconcilePolicy
from loop_async._transport import Transport
from loop_async.errors import LoopError, OutcomeUnknownError, PartialFailureError
from loop_async.hypermedia._lazy import LazyResource
from loop_async.hypermedia._reconcile import send_reconciled
from loop_async.hypermedia._state import KeyState, key_state
from loop_async.hypermedia.drive import DriveResult, Policy
from loop_async.hypermedia.drive import drive as drive_flow
from loop_async.hypermedia.formats.base import FormatSelector, LinkFormat, encode_request, is_selector
from loop_async.hypermedia.linkset import LinkSet
from loop_async.hypermedia.options import resolve_options
from loop_async.hypermedia.validation import validate_values
from loop_async.models._convert import unstructure
from loop_async.models.common import ApiErrorEntry
from loop_async.models.links import Link

__all__ = ["Navigator", "TransitionObserver"]

logger = logging.getLogger("loop_async.hypermedia")

T = TypeVar("T")


class TransitionObserver(Protocol):
    """Told of every successful follow: the state before, the rel, the state after."""

    def transitioned(self, before: Navigator[Any], rel: str, after: Navigator[Any]) -> None:
        """Called once per follow, after the new state was decoded (its exceptions are logged, not raised)."""
        ...


class Navigator(Generic[T]):
    """A decoded resource and the links it offers now; :meth:`follow` moves to the next state.

    ``data_or_response`` is a transport :class:`~loop_async.Response` or parsed
    JSON. ``format`` reads the links and errors, ``decode`` builds :attr:`resource`.
    ``self_url`` re-reads the resource (for :meth:`refresh` and reconciliation; the format's
    self link wins when there is one). ``key`` identifies the resource for the one-writer
    lock and the last state known (``docs/draft-returns.md``, "One writer per draft").
    ``observers`` are told of every transition and passed on to the next navigators.
    ``created`` marks the state returned by the call that created the resource (a recorder
    draws it as a start). ``reconcile`` says how an uncertain follow is settled (default: the
    client's ``reconcile`` option).
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
        created: bool = False,
        recovered_from: LoopError | None = None,
        reconcile: ReconcilePolicy | None = None,
    ) -> None:
        self._transport = transport
        self._reconcile = reconcile if reconcile is not None else transport.reconcile
        self._format = format
        self._decode = decode
        if isinstance(data_or_response, Response):
            data = data_or_response.data
            # Parsed JSON is the bulk of a held navigator's memory: keep the body bytes only
            # (``nav.data`` and the first ``nav.resource`` parse them again).
            self._response: Response | None = data_or_response.without_parsed_body()
            self._data: Any = None
        else:
            data = self._data = data_or_response
            self._response = None
        # Only the links (and errors) now: a step that never reads the resource never pays for
        # its decode. ``resource`` decodes on first access (same DecodeError as an eager decode),
        # once for this state and every copy of it (``with_identity``, ``with_observer``).
        self._resource = LazyResource(decode, data if self._response is None else self._response)
        # A format that reads several (NegotiatedFormat) names the one of this response.
        if is_selector(format):
            content_type = data_or_response.headers.get("Content-Type") if self._response is not None else None
            format = cast(FormatSelector, format).for_response(data, content_type)
        self._wire_format = format  # this response's own format: links, errors, query encoding
        self._links = LinkSet(format.links(data))
        self._errors = format.errors(data)
        href = format.self_href(data)
        # Resolved now: a self link off the client's origin, or unparseable, is refused at once.
        self._self_url = transport.resolve(href) if href is not None else self_url
        self._observers = tuple(observers)
        self._step = step
        self._created = created
        self._recovered_from = recovered_from
        self._key: Hashable | None
        self._state: KeyState[Navigator[Any]] | None
        self._bind(key, key_state(transport, key) if key is not None else None)

    def _bind(self, key: Hashable | None, state: KeyState[Navigator[Any]] | None) -> None:
        """Share ``state``, the one of ``key``: looked up once, then handed from state to state."""
        self._key, self._state = key, state
        if state is not None:
            state.known(self)  # the first state known for this key, unless there is one

    def _record(self, writes_before: int) -> None:
        """Make this state the last known for the key, unless a follow completed since ``writes_before``."""
        if self._state is not None:
            self._state.read(self, writes_before)

    @classmethod
    async def load(
        cls,
        transport: Transport,
        url: URL,
        *,
        format: LinkFormat,
        decode: Callable[[Any], T],
        key: Hashable | None = None,
        observers: Sequence[TransitionObserver] = (),
    ) -> Navigator[T]:
        """Read ``url`` (a GET) and return a navigator over it, ``url`` being its ``self_url``.

        The answer becomes the last state known for ``key`` (unless a follow completed meanwhile).
        """
        state = key_state(transport, key) if key is not None else None  # held: the navigator finds it
        writes = state.writes if state is not None else 0
        response = await transport.request("GET", transport.resolve(url))
        nav = cls(transport, response, format=format, decode=decode, self_url=url, key=key, observers=observers)
        nav._record(writes)
        return nav

    # -- state -----------------------------------------------------------------------------

    @property
    def resource(self) -> T:
        """The decoded resource (decoded on first access, then kept)."""
        return self._resource.get()  # type: ignore[no-any-return]

    @property
    def data(self) -> Any:
        """The raw JSON the navigator was built from (parsed again from the body when needed)."""
        return self._response.data if self._response is not None else self._data

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
        """The identity used for the one-writer lock and the last state known."""
        return self._key

    @property
    def step(self) -> int:
        """How many follows led here from a navigator built directly (0 for that one)."""
        return self._step

    @property
    def created(self) -> bool:
        """Whether this is the state returned by the call that created the resource."""
        return self._created

    @property
    def recovered_from(self) -> LoopError | None:
        """The error of a follow whose outcome was uncertain and that this re-read resolved."""
        return self._recovered_from

    def link(self, rel: str) -> Link:
        """The link with ``rel``, or :class:`~loop_async.errors.RelNotAvailableError`."""
        return self._links[rel]

    def can(self, rel: str) -> bool:
        """Whether a link with ``rel`` is offered now."""
        return rel in self._links

    def with_observer(self, observer: TransitionObserver) -> Navigator[T]:
        """The same state, with ``observer`` told of this and every later transition."""
        return self._copy(observers=(*self._observers, observer))

    def with_reconcile(self, policy: ReconcilePolicy) -> Navigator[T]:
        """The same state, settling uncertain follows (this and later ones) by ``policy``."""
        return self._copy(reconcile=policy)

    def with_identity(self, key: Hashable | None, self_url: URL | None) -> Navigator[T]:
        """The same state (not decoded again) under another ``key`` and ``self_url``.

        For a resource layer that learns the identity from the resource itself (a create).
        """
        copy = self._copy(self_url=self._self_url if self_url is None else self_url)
        copy._bind(key, key_state(self._transport, key) if key is not None else None)
        return copy

    # -- actions ---------------------------------------------------------------------------

    async def follow(
        self, rel: str, values: Mapping[str, Any] | None = None, /, *, strict: bool = False, **fields: Any
    ) -> Navigator[T]:
        """Invoke the link ``rel`` with field values; return the navigator over the new state.

        Values come as keyword arguments (or a mapping, for names that are not identifiers).
        They are checked against the link's ``fields`` first (:class:`FieldValidationError`
        listing every problem, nothing sent); the ``href`` must be on the client's origin
        (:class:`UnsafeLinkError`, nothing sent). Values travel as a JSON body for
        POST/PUT/PATCH and as the query for GET/DELETE (a list as the format encodes it: see
        :func:`~loop_async.hypermedia.formats.encode_query`). A 2xx with ``errors[]`` gives a
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
        link = await resolve_options(self._transport, link)  # remote options (options_link), read on demand
        payload = self.validate(link, {**(values or {}), **fields})
        url = self._transport.resolve(link.href)  # off-origin: UnsafeLinkError, nothing sent
        state = self._state
        if state is None:
            after = await self._send_reconciled(link, url, payload, self)
        else:
            async with state.lock:
                try:
                    after = await self._send_reconciled(link, url, payload, state.last or self)
                except OutcomeUnknownError as unknown:
                    # It may have acted: older reads must not replace the fresh one it carries.
                    state.wrote(unknown.navigator if isinstance(unknown.navigator, Navigator) else None)
                    raise
                state.wrote(after)
        self._notify(link.rel, after)
        if strict and after.errors:
            raise PartialFailureError(after.errors, resource=after)
        return after

    def validate(self, link: Link, values: Mapping[str, Any]) -> dict[str, Any]:
        """Check ``values`` against ``link``'s fields as :meth:`follow` does; return the payload it would send.

        Optional fields given as ``None`` are left out of the payload.
        """
        return validate_values(link.fields, values, action=link.rel)

    def plan(self, rel: str, values: Mapping[str, Any] | None = None, /, **fields: Any) -> dict[str, Any]:
        """Validate values for ``rel`` as :meth:`follow` would, without sending; return the payload."""
        link = self.link(rel)
        payload = self.validate(link, {**(values or {}), **fields})
        self._transport.resolve(link.href)
        return payload

    async def refresh(self) -> Navigator[T]:
        """Re-read the resource from :attr:`self_url` (a GET); the answer becomes the key's last known state."""
        return await self._read(step=self._step)

    async def drive(
        self, policy: Policy[Navigator[T]], *, max_steps: int = 50, dry_run: bool = False
    ) -> DriveResult[Navigator[T]]:
        """Follow required links until terminal or the policy stops; see :func:`~loop_async.hypermedia.drive`."""
        return await drive_flow(self, policy, max_steps=max_steps, dry_run=dry_run)

    # -- internals -------------------------------------------------------------------------

    def _copy(self, **changes: Any) -> Navigator[T]:
        """This state with some attributes changed (nothing decoded again)."""
        copy: Navigator[T] = object.__new__(type(self))
        copy.__dict__.update(self.__dict__)
        for name, value in changes.items():
            setattr(copy, f"_{name}", value)
        return copy

    def _spawn(self, data_or_response: Any, *, step: int, recovered_from: LoopError | None = None) -> Navigator[T]:
        nav = Navigator(
            self._transport,
            data_or_response,
            format=self._format,
            decode=self._decode,
            self_url=self._self_url,
            observers=self._observers,
            step=step,
            recovered_from=recovered_from,
            reconcile=self._reconcile,
        )
        nav._bind(self._key, self._state)  # the key's state is handed on, not looked up again
        return nav

    async def _read(self, *, step: int, recovered_from: LoopError | None = None) -> Navigator[T]:
        if self._self_url is None:
            raise LookupError("this navigator has no self_url to re-read the resource from")
        writes = self._state.writes if self._state is not None else 0
        response = await self._transport.request("GET", self._transport.resolve(self._self_url))
        nav = self._spawn(response, step=step, recovered_from=recovered_from)
        nav._record(writes)
        return nav

    def _notify(self, rel: str, after: Navigator[T]) -> None:
        for observer in self._observers:
            try:
                observer.transitioned(self, rel, after)
            except Exception:  # the action happened: an observer must not hide it
                logger.warning("transition observer %r failed on rel %r; result kept", observer, rel, exc_info=True)

    async def _send(
        self, link: Link, url: URL, payload: Mapping[str, Any], recovered_from: LoopError | None = None
    ) -> Navigator[T]:
        method = link.method.upper()
        url, body = encode_request(self._wire_format, method, link.content_type, url, unstructure(dict(payload)))
        response = await self._transport.request(method, url, **body)
        if response.data is None and self._self_url is not None:
            # An empty answer (e.g. 204) carries no state: read it.
            return await self._read(step=self._step + 1, recovered_from=recovered_from)
        return self._spawn(response, step=self._step + 1, recovered_from=recovered_from)

    async def _send_reconciled(
        self, link: Link, url: URL, payload: Mapping[str, Any], baseline: Navigator[T]
    ) -> Navigator[T]:
        async def reread(lost: LoopError) -> Navigator[T]:
            return await self._read(step=self._step + 1, recovered_from=lost)

        async def resend(current: Navigator[T], lost: LoopError) -> Navigator[T]:
            return await current._send(link, url, payload, recovered_from=lost)

        return await send_reconciled(
            lambda: self._send(link, url, payload),
            link=link,
            url=url,
            format=self._format,
            baseline=baseline,
            policy=self._reconcile,
            reread=reread if self._self_url is not None else None,
            resend=resend,
        )

    def __repr__(self) -> str:
        state = "terminal" if self.is_terminal else f"rels={list(self.rels)!r}"
        errors = f", errors={len(self._errors)}" if self._errors else ""
        return f"<Navigator {self._resource_name()} key={self._key!r} {state}{errors}>"

    def _resource_name(self) -> str:
        try:
            return type(self.resource).__name__
        except LoopError:  # a repr never raises: the DecodeError waits for ``.resource``
            return "(undecodable)"
