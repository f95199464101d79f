"""The navigator: a resource plus the actions it offers now, followed by rel.

Generic over the resource type (a ``decode`` function builds it from the JSON) and over the
link format (a :class:`~loop_async.hypermedia.formats.LinkFormat`); it names no rel and no
state of any API. A navigator is an immutable snapshot: following a link returns a new one.

Follows of one ``key`` (e.g. a draft id) on one transport are serialised by one lock, next to
which the navigator keeps the key's *last known state*. An unsafe follow whose outcome is
uncertain (:func:`loop_async._sansio.outcome.is_uncertain`) is never re-sent: it is reconciled by
re-reading the resource under that lock (:class:`~loop_async._sansio.outcome.ReconcilePolicy`) and
comparing the resource's own state (:func:`~loop_async.hypermedia.formats.own_state`, and the
rels offered) with the last known state; a change is *took effect*, no change raises
:class:`~loop_async.errors.OutcomeUnknownError`. The guide "What happens when Loop doesn't
answer" (``docs/reliability.md``) explains the rule and its limits.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import weakref
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, cast

from yarl import URL

from loop_async._response import Response
from loop_async._sansio.outcome import ReconcilePolicy, is_refusal, is_uncertain
from loop_async._transport import Transport
from loop_async.errors import LoopError, OutcomeUnknownError, PartialFailureError
from loop_async.hypermedia.formats import FormatSelector, LinkFormat, encode_query, form_pairs, is_form, own_state
from loop_async.hypermedia.linkset import LinkSet
from loop_async.hypermedia.options import resolve_options
from loop_async.hypermedia.validation import validate_values
from loop_async.models._convert import unstructure
from loop_async.models.common import ApiErrorEntry
from loop_async.models.links import Link

if TYPE_CHECKING:
    from loop_async.hypermedia.drive import DriveResult, Policy

__all__ = ["Navigator", "TransitionObserver"]

logger = logging.getLogger("loop_async.hypermedia")

T = TypeVar("T")
_UNDECODED: Any = object()


class _Lazy:
    """A state's resource, decoded on first access from the response's body (or the plain data).

    The parsed JSON of a response is kept until the end of the current event-loop step only:
    a caller that reads ``resource`` right after the call returns decodes it without parsing
    the body again, and a navigator held across an ``await`` (a pending flow) holds the bytes.
    """

    __slots__ = ("_decode", "_parsed", "_source", "_value")

    def __init__(self, decode: Callable[[Any], Any], source: Any, parsed: Any = _UNDECODED) -> None:
        self._decode: Callable[[Any], Any] | None = decode
        self._source = source
        self._parsed = parsed
        self._value: Any = _UNDECODED
        if parsed is not _UNDECODED:
            try:
                asyncio.get_running_loop().call_soon(self.release)
            except RuntimeError:  # no loop running: nothing to wait for
                self._parsed = _UNDECODED

    def release(self) -> None:
        self._parsed = _UNDECODED

    def get(self) -> Any:
        if self._value is _UNDECODED:
            data = self._parsed
            if data is _UNDECODED:
                source = self._source
                data = source.data if isinstance(source, Response) else source
            assert self._decode is not None
            self._value = self._decode(data)  # a DecodeError leaves it undecoded: raised again next time
            self._decode = self._source = self._parsed = None  # the navigator keeps the body; this needs neither
        return self._value


_SELECTS: dict[type[Any], bool] = {}


def _selects(fmt: LinkFormat) -> bool:
    """Whether ``fmt`` is a :class:`FormatSelector`, once per class (a runtime Protocol check costs ~10 µs)."""
    known = _SELECTS.get(type(fmt))
    if known is None:
        known = _SELECTS[type(fmt)] = isinstance(fmt, FormatSelector)
    return known


_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class _KeyState:
    """What the navigators of one key share: the writer lock and the last state known."""

    __slots__ = ("__weakref__", "last", "lock", "writes")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.last: Navigator[Any] | None = None
        self.writes = 0  # follows completed on this key: a read older than one is not recorded


# transport -> key -> state. Weak on both sides: a state lives while a navigator holds it.
_STATES: weakref.WeakKeyDictionary[Transport, weakref.WeakValueDictionary[Hashable, _KeyState]] = (
    weakref.WeakKeyDictionary()
)


def _key_state(transport: Transport, key: Hashable) -> _KeyState:
    per_key = _STATES.get(transport)
    if per_key is None:
        per_key = _STATES[transport] = weakref.WeakValueDictionary()
    state = per_key.get(key)
    if state is None:
        state = per_key[key] = _KeyState()
    return state


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
    lock and the last state known (see the module doc). ``observers`` are told of every
    transition and passed on to the next navigators. ``created`` marks the state returned by
    the call that created the resource (a recorder draws it as a start). ``reconcile`` says how
    an uncertain follow is settled (default: the client's ``reconcile`` option).
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
        if self._response is not None:
            self._resource = _Lazy(decode, self._response, data)
        else:
            self._resource = _Lazy(decode, data)
        # A format that reads several (NegotiatedFormat) names the one of this response.
        if _selects(format):
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
        self._key: Hashable | None = None
        self._state: _KeyState | None = None
        self._bind(key)

    def _bind(self, key: Hashable | None) -> None:
        self._key = key
        self._state = _key_state(self._transport, key) if key is not None else None
        if self._state is not None and self._state.last is None:
            self._state.last = self  # the first state known for this key

    def _record(self, writes_before: int) -> None:
        """Make this state the last known for the key, unless a follow completed since ``writes_before``."""
        if self._state is not None and self._state.writes == writes_before:
            self._state.last = self

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

        The answer becomes the last state known for ``key`` (see the module doc).
        """
        writes = _key_state(transport, key).writes if key is not None else 0
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
        """The error of a follow whose outcome was uncertain and that this re-read resolved (module doc)."""
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
        copy._bind(key)
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
        if self._state is None:
            after = await self._send_reconciled(link, url, payload, self)
        else:
            async with self._state.lock:
                try:
                    after = await self._send_reconciled(link, url, payload, self._state.last or self)
                except OutcomeUnknownError as unknown:
                    # It may have acted: older reads must not replace the fresh one it carries.
                    self._state.writes += 1
                    if isinstance(unknown.navigator, Navigator):
                        self._state.last = unknown.navigator
                    raise
                self._state.writes += 1
                self._state.last = after
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

    async def drive(self, policy: Policy[T], *, max_steps: int = 50, dry_run: bool = False) -> DriveResult[T]:
        """Follow required links until terminal or the policy stops; see :mod:`~loop_async.hypermedia.drive`."""
        from loop_async.hypermedia.drive import drive  # drive builds on Navigator: import late

        return await drive(self, policy, max_steps=max_steps, dry_run=dry_run)

    # -- internals -------------------------------------------------------------------------

    def _copy(self, **changes: Any) -> Navigator[T]:
        """This state with some attributes changed (nothing decoded again)."""
        copy: Navigator[T] = object.__new__(type(self))
        copy.__dict__.update(self.__dict__)
        for name, value in changes.items():
            setattr(copy, f"_{name}", value)
        return copy

    def _spawn(self, data_or_response: Any, *, step: int, recovered_from: LoopError | None = None) -> Navigator[T]:
        return Navigator(
            self._transport,
            data_or_response,
            format=self._format,
            decode=self._decode,
            self_url=self._self_url,
            key=self._key,
            observers=self._observers,
            step=step,
            recovered_from=recovered_from,
            reconcile=self._reconcile,
        )

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
        if method in _BODY_METHODS and is_form(link.content_type):
            response = await self._transport.request(method, url, form=form_pairs(unstructure(dict(payload))))
        elif method in _BODY_METHODS:
            response = await self._transport.request(method, url, json=unstructure(dict(payload)))
        else:
            pairs = encode_query(self._wire_format, unstructure(dict(payload)))
            if pairs:
                url = url.update_query(pairs)  # a sequence of pairs: a repeated name stays repeated
            response = await self._transport.request(method, url)
        if response.data is None and self._self_url is not None:
            # An empty answer (e.g. 204) carries no state: read it.
            return await self._read(step=self._step + 1, recovered_from=recovered_from)
        return self._spawn(response, step=self._step + 1, recovered_from=recovered_from)

    async def _send_reconciled(
        self, link: Link, url: URL, payload: Mapping[str, Any], baseline: Navigator[T]
    ) -> Navigator[T]:
        method = link.method.upper()
        try:
            return await self._send(link, url, payload)
        except LoopError as exc:
            if not is_uncertain(method, exc):
                raise  # refused, or never sent: nothing happened
            lost = exc
        if self._self_url is None:
            raise _unknown(link, url, lost, None, "and there is no self URL to re-read it from") from lost
        policy = self._reconcile
        logger.info("%s %s: outcome uncertain (%s); re-reading the resource", method, url, lost)
        current: Navigator[T] | None = None
        for read in range(policy.reads):
            if read:
                await asyncio.sleep(policy.interval)  # let a slow server finish what it read
            try:
                current = await self._read(step=self._step + 1, recovered_from=lost)
            except LoopError as reread_error:
                raise _unknown(link, url, lost, current, f"and re-reading it failed ({reread_error})") from lost
            if _changed(self._format, baseline, current):
                logger.info("%s took effect (the resource changed); not sending it again", link.rel)
                return current
        assert current is not None
        if is_refusal(lost):
            # A replayed request refused for real (a DELETE whose repetition answers 404) and
            # no earlier attempt left a trace: the refusal stands.
            raise lost
        if not policy.resend_if_unchanged:
            raise _unknown(
                link, url, lost, current, f"and the resource was unchanged in {policy.reads} read(s)"
            ) from lost
        logger.warning(
            "%s: unchanged after %d read(s); sending it once more (resend_if_unchanged)", link.rel, policy.reads
        )
        try:
            return await current._send(link, url, payload, recovered_from=lost)
        except LoopError as again:
            if is_uncertain(method, again):
                raise _unknown(link, url, again, current, "(sent twice, by resend_if_unchanged)") from again
            raise

    def __repr__(self) -> str:
        state = "terminal" if self.is_terminal else f"rels={list(self.rels)!r}"
        errors = f", errors={len(self._errors)}" if self._errors else ""
        return f"<Navigator {self._resource_name()} key={self._key!r} {state}{errors}>"

    def _resource_name(self) -> str:
        try:
            return type(self.resource).__name__
        except LoopError:  # a repr never raises: the DecodeError waits for ``.resource``
            return "(undecodable)"


def _link_signature(links: LinkSet) -> tuple[tuple[str, str, str], ...]:
    """The actions offered, without their fields (whose options may be volatile context)."""
    return tuple((link.rel, link.method.upper(), link.href) for link in links)


def _changed(format: LinkFormat, before: Navigator[Any], after: Navigator[Any]) -> bool:
    """Whether the resource's own state or the actions it offers differ between two reads."""
    if _link_signature(before.links) != _link_signature(after.links):
        return True
    return bool(own_state(format, before.data) != own_state(format, after.data))


def _unknown(link: Link, url: URL, error: LoopError, fresh: Navigator[Any] | None, why: str) -> OutcomeUnknownError:
    return OutcomeUnknownError(
        f"{link.rel}: the request may have taken effect ({type(error).__name__}) {why}; it was not sent again",
        error=error,
        method=link.method.upper(),
        url=url,
        navigator=fresh,
    )


async def maybe_await(value: Awaitable[T] | T) -> T:
    """Await ``value`` if it is awaitable (a policy may be sync or async)."""
    if inspect.isawaitable(value):
        return await value
    return value
