"""Return actions (process, cancel, close, remove line items, flag, notes, deep links) and
return data (``get``, ``list``, ``asn``).

Paths, methods and bodies follow Loop's API reference. Where Loop's guide and its reference
disagree, the reference wins: notes are sent as ``content``, deep links take an order name
and zip, ``cancel`` sends ``reason`` only when given, and ``flag`` sends no parameters (a
reason is recorded as a note, as the guide recommends).

None of these actions is idempotent and Loop has no idempotency key: a call that may have
reached Loop (timeout after sending, 500, 502, 504) is *not* retried; it raises
:class:`~loop_async.errors.OutcomeUnknownError` (the rule is :mod:`loop_async._sansio.outcome`).
"""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator, Iterable, Mapping
from datetime import datetime
from typing import Any

import attrs
from yarl import URL

from loop_async._response import Response
from loop_async._sansio.outcome import is_uncertain
from loop_async._sansio.problems import Problems
from loop_async._sansio.protocol import is_true_body
from loop_async._transport import NO_BODY, Transport
from loop_async.errors import (
    DecodeError,
    LoopAPIError,
    LoopError,
    NotFoundError,
    OutcomeUnknownError,
    PartialOutcomeError,
    UnprocessableEntityError,
)
from loop_async.models._convert import structure
from loop_async.models.enums import ReturnState
from loop_async.models.return_data import AsnRow, Return, ReturnsPage
from loop_async.models.returns import DeepLink, DeepLinkQR, Note
from loop_async.models.support import FraudCategory, FraudReport
from loop_async.resources._windows import MAX_WINDOW, check_range, format_loop_datetime, split_windows

__all__ = [
    "CURRENCY_TYPES",
    "LIST_FILTERS",
    "MAX_PAGE_SIZE",
    "NOTE_MAX_LENGTH",
    "QR_IMAGE_TYPES",
    "ActionResult",
    "ReturnsResource",
]

NOTE_MAX_LENGTH = 255
QR_IMAGE_TYPES = frozenset({"png", "eps", "svg"})
#: Largest ``pageSize`` Loop accepts on the returns list.
MAX_PAGE_SIZE = 750
#: Which timestamp the returns list filters on.
LIST_FILTERS = frozenset({"created_at", "updated_at"})
#: ``currency_type`` values of the return details endpoint.
CURRENCY_TYPES = frozenset({"shop", "presentment"})


@attrs.frozen(kw_only=True)
class ActionResult:
    """Loop accepted a return action (it answered ``true``). ``response`` is the raw answer."""

    return_id: int
    action: str
    response: Response = attrs.field(repr=False)

    @property
    def queued(self) -> bool:
        """``True`` for ``process``: accepted and queued, not finished (see webhooks)."""
        return self.action == "process"


@attrs.frozen
class _NotesPage:
    notes: tuple[Note, ...] = ()


def _unknown(action: str, return_id: int, url: URL, error: LoopError) -> OutcomeUnknownError:
    return OutcomeUnknownError(
        f"{action} of return {return_id}: the outcome is unknown and it was not sent again (check the return first)",
        error=error,
        method="POST",
        url=url,
    )


class ReturnsResource:
    """``loop.returns``: actions on existing returns, and reading them (return data)."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    async def _action(
        self,
        action: str,
        return_id: int,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = NO_BODY,
    ) -> ActionResult:
        url = self._transport.url("warehouse", "return", return_id, action)
        try:
            response = await self._transport.request("POST", url, params=params, json=json)
        except LoopError as exc:
            if is_uncertain("POST", exc):
                raise _unknown(action, return_id, url, exc) from exc
            raise
        if not is_true_body(response.data):
            unreadable = DecodeError(
                f"{action}: expected Loop's success body true, got something else",
                excerpt=response.excerpt,
                status=response.status,
            )
            raise _unknown(action, return_id, url, unreadable) from unreadable
        return ActionResult(return_id=return_id, action=action, response=response)

    async def process(self, return_id: int, details: Mapping[str, Any] | None = None) -> ActionResult:
        """Process a return: trigger its refunds, exchanges or store credit.

        Success means **queued**, not finished: the outcome arrives later by the webhook
        ``return.closed`` or ``return.processing.failed``. ``details`` (optional key/values)
        are added to any Shopify order that processing creates.
        """
        problems = Problems("returns.process")
        problems.positive_id("return_id", return_id)
        if details is not None and not isinstance(details, Mapping):
            problems.add("details", f"must be a mapping of key/values, got {type(details).__name__}")
        problems.raise_if_any()
        return await self._action("process", return_id, json=dict(details) if details is not None else NO_BODY)

    async def cancel(self, return_id: int, reason: str | None = None) -> ActionResult:
        """Cancel a return; the customer may return the same items again.

        ``reason`` is sent (as the query parameter the guide documents) only when given.
        """
        problems = Problems("returns.cancel")
        problems.positive_id("return_id", return_id)
        problems.text("reason", reason, required=False)
        problems.raise_if_any()
        return await self._action("cancel", return_id, params={"reason": reason} if reason else None)

    async def close(self, return_id: int) -> ActionResult:
        """Close a return without outcomes (also in Shopify); its items cannot be returned again."""
        problems = Problems("returns.close")
        problems.positive_id("return_id", return_id)
        problems.raise_if_any()
        return await self._action("close", return_id)

    async def remove_line_items(self, return_id: int, line_item_ids: Iterable[int]) -> ActionResult:
        """Remove line items from a return.

        **Warning:** this also processes and closes the return. Only items with a refund or
        store-credit outcome qualify; others get a 422 (:class:`UnprocessableEntityError`).
        """
        ids = list(line_item_ids) if not isinstance(line_item_ids, int | str) else [line_item_ids]
        problems = Problems("returns.remove_line_items")
        problems.positive_id("return_id", return_id)
        if not ids:
            problems.add("line_item_ids", "must name at least one line item id")
        for index, item in enumerate(ids):
            problems.positive_id(f"line_item_ids[{index}]", item)
        problems.raise_if_any()
        joined = ",".join(str(i) for i in dict.fromkeys(ids))
        return await self._action("remove", return_id, params={"line_item_id": joined})

    async def flag(self, return_id: int, reason: str | None = None) -> ActionResult:
        """Flag a return for review; automated processing stops until a person reviews it.

        Loop's flag takes no parameters, so a ``reason`` is recorded as a note on the return
        after the flag succeeds. If only the note fails, :class:`~loop_async.errors.PartialOutcomeError`
        says that the return *was* flagged (``done`` is the flag's result, ``error`` the note's).
        """
        problems = Problems("returns.flag")
        problems.positive_id("return_id", return_id)
        problems.text("reason", reason, required=False, max_length=NOTE_MAX_LENGTH)
        problems.raise_if_any()
        result = await self._action("flag", return_id)
        if reason and reason.strip():
            try:
                await self.create_note(return_id, reason)
            except LoopError as exc:
                raise PartialOutcomeError(
                    f"return {return_id} WAS flagged; only recording the reason as a note failed "
                    "(do not flag it again: add the note)",
                    done=result,
                    error=exc,
                ) from exc
        return result

    async def list_notes(self, return_id: int) -> list[Note]:
        """The notes on a return, oldest first; an empty list when there are none.

        (Loop answers 422 when a return has no notes; that becomes ``[]``.)
        """
        problems = Problems("returns.list_notes")
        problems.positive_id("return_id", return_id)
        problems.raise_if_any()
        url = self._transport.url("warehouse", "return", return_id, "notes")
        try:
            response = await self._transport.request("GET", url)
        except UnprocessableEntityError as exc:
            if exc.status == 422:  # Loop's "no notes" answer; a 422-like body with 200 is a real error
                return []
            raise
        return list(structure(response.data, _NotesPage, what="notes").notes)

    async def create_note(self, return_id: int, text: str) -> ActionResult:
        """Add a note (1 to 255 characters) to a return's timeline. Sent as ``content``."""
        problems = Problems("returns.create_note")
        problems.positive_id("return_id", return_id)
        problems.text("text", text, max_length=NOTE_MAX_LENGTH)
        problems.raise_if_any()
        return await self._action("note", return_id, json={"content": text})

    async def deep_link(self, *, order_name: str, zip: str, gift: bool = False) -> DeepLink:
        """A link that opens Loop's return flow for an order (scope Orders).

        ``zip`` is the order's postal code, or its email or phone, per the shop's settings.
        """
        body = self._deep_link_body("returns.deep_link", order_name, zip, gift)
        response = await self._transport.request("POST", self._transport.url("order", "link"), json=body)
        return structure(response.data, DeepLink)

    async def deep_link_qr(
        self,
        *,
        order_name: str,
        zip: str,
        gift: bool = False,
        image_type: str | None = None,
        size: int | None = None,
    ) -> DeepLinkQR:
        """A QR code image (``png`` by default, or ``eps``/``svg``) for the order's deep link."""
        body = self._deep_link_body("returns.deep_link_qr", order_name, zip, gift, image_type=image_type, size=size)
        response = await self._transport.request("POST", self._transport.url("order", "qr"), json=body)
        return structure(response.data, DeepLinkQR)

    @staticmethod
    def _deep_link_body(
        action: str, order_name: str, zip: str, gift: bool, *, image_type: str | None = None, size: int | None = None
    ) -> dict[str, Any]:
        problems = Problems(action)
        problems.text("order_name", order_name)
        problems.text("zip", zip)
        if not isinstance(gift, bool):
            problems.add("gift", f"must be a bool, got {type(gift).__name__}")
        if image_type is not None and image_type not in QR_IMAGE_TYPES:
            problems.add("image_type", f"must be one of {sorted(QR_IMAGE_TYPES)}, got {image_type!r}")
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size <= 0):
            problems.add("size", f"must be a positive integer, got {size!r}")
        problems.raise_if_any()
        body: dict[str, Any] = {"name": order_name, "zip": zip, "gift": gift}
        if image_type is not None:
            body["type"] = image_type
        if size is not None:
            body["size"] = size
        return body

    async def report_fraud(
        self, return_id: int, category: str | FraudCategory, comment: str | None = None
    ) -> FraudReport:
        """Attach a fraud report to a return (``POST /returns/{id}/fraud-report``, answered 201).

        ``category`` is one of :class:`~loop_async.models.FraudCategory`; ``comment`` is required
        for ``other``. Not idempotent: never re-sent on an uncertain outcome.
        """
        problems = Problems("returns.report_fraud")
        problems.positive_id("return_id", return_id)
        known = [member.value for member in FraudCategory]
        if category not in known:
            problems.add("category", f"must be one of {known}, got {category!r}")
        problems.text("comment", comment, required=category == FraudCategory.OTHER)
        problems.raise_if_any()
        body = {"category": str(category)}
        if comment is not None:
            body["comment"] = comment
        url = self._transport.url("returns", return_id, "fraud-report")
        response = await self._transport.request("POST", url, json=body)
        return structure(response.data, FraudReport, what="fraud report")

    # -- return data -----------------------------------------------------------------------

    async def get(
        self,
        *,
        return_id: int | None = None,
        order_id: int | None = None,
        order_name: str | None = None,
        currency_type: str | None = None,
    ) -> Return:
        """One return, selected by exactly one of ``return_id``, ``order_id``, ``order_name``.

        ``currency_type`` (``shop`` or ``presentment``) picks the currency of the amounts.
        Loop's "no match" answer (status 200 with an ``error`` body) raises
        :class:`~loop_async.errors.NotFoundError`.
        """
        problems = Problems("returns.get")
        given = {
            name: value
            for name, value in (("return_id", return_id), ("order_id", order_id), ("order_name", order_name))
            if value is not None
        }
        if len(given) != 1:
            problems.add(
                "return_id/order_id/order_name",
                f"give exactly one selector, got {len(given)}" + (f" ({', '.join(given)})" if given else ""),
            )
        if return_id is not None:
            problems.positive_id("return_id", return_id)
        if order_id is not None:
            problems.positive_id("order_id", order_id)
        if order_name is not None:
            problems.text("order_name", order_name)
        if currency_type is not None and currency_type not in CURRENCY_TYPES:
            problems.add("currency_type", f"must be one of {sorted(CURRENCY_TYPES)}, got {currency_type!r}")
        problems.raise_if_any()
        params = {name: str(value) for name, value in given.items()}
        if currency_type is not None:
            params["currency_type"] = currency_type
        url = self._transport.url("warehouse", "return", "details")
        try:
            response = await self._transport.request("GET", url, params=params)
        except NotFoundError as exc:
            exc.looked_up = ", ".join(f"{name}={value}" for name, value in given.items())
            raise
        except LoopAPIError as exc:
            # Loop says "no match" with status 200 and {"error": {...}}; the parser cannot tell
            # that from other 200 errors, but here it can only mean "not found".
            if type(exc) is LoopAPIError and 200 <= exc.status < 300:
                missing = NotFoundError(
                    exc.message,
                    status=exc.status,
                    codes=exc.codes,
                    errors=exc.errors,
                    method=exc.method,
                    url=exc.url,
                    request_id=exc.request_id,
                    response=exc.response,
                )
                missing.looked_up = ", ".join(f"{name}={value}" for name, value in given.items())
                raise missing from exc
            raise
        return structure(response.data, Return, what="return details")

    def list(
        self,
        start: datetime,
        end: datetime,
        *,
        filter: str = "created_at",
        states: Iterable[str | ReturnState] | str | None = None,
        page_size: int = 100,
    ) -> AsyncIterator[Return]:
        """Every return whose ``filter`` timestamp (``created_at`` or ``updated_at``) is in ``[start, end]``.

        Returns an async generator (``async for ret in loop.returns.list(...)``); the arguments
        are checked when it is called, pages are fetched as you iterate (``paginate=true``, following
        ``nextPageUrl``, which must stay on the client's origin). A range longer than Loop's
        120-day maximum is split into consecutive windows; each return is yielded once even
        when it sits on a window boundary. ``start`` and ``end`` must be timezone-aware; Loop
        works in whole UTC seconds, so ``start`` is rounded down and ``end`` up.

        ``states`` (``open``, ``closed``, ``cancelled``, ``expired``, ``review``) restricts the
        states; several states are fetched one after the other within each window. With
        ``states=None`` no ``state`` is sent, and Loop then lists only **open, closed and
        expired** returns (its documented default): pass every state to get them all. The
        caller's range and state are sent on every page, also when Loop's ``nextPageUrl``
        drops them.
        ``page_size`` is 1 to 750. Every argument is checked before the first request.
        """
        problems = Problems("returns.list")
        check_range(problems, start, end)
        if filter not in LIST_FILTERS:
            problems.add("filter", f"must be one of {sorted(LIST_FILTERS)}, got {filter!r}")
        if isinstance(page_size, bool) or not isinstance(page_size, int) or not 1 <= page_size <= MAX_PAGE_SIZE:
            problems.add("page_size", f"must be an integer from 1 to {MAX_PAGE_SIZE}, got {page_size!r}")
        state_values = _check_states(problems, states)
        problems.raise_if_any()
        return self._list(start, end, filter, state_values, page_size)

    async def _list(
        self,
        start: datetime,
        end: datetime,
        filter: str,
        states: builtins.list[str | None],
        page_size: int,
    ) -> AsyncIterator[Return]:
        # Windows share their boundary second (Loop's range is inclusive), so a return stamped
        # in that second comes in both windows. Only those ids are carried to the next window,
        # so memory is bounded by one window on a multi-year export; a return without the
        # stamp is carried too, since where it falls cannot be told.
        carried: set[int] = set()
        url = self._transport.url("warehouse", "return", "list")
        for window_start, window_end in split_windows(start, end, MAX_WINDOW):
            # Within a window every id is remembered: pages can drift when returns change while
            # they are read (filter=updated_at), so one return may show on two pages.
            seen: set[int] = set()
            on_boundary: set[int] = set()
            for state in states:
                params = {
                    "from": format_loop_datetime(window_start),
                    "to": format_loop_datetime(window_end),
                    "filter": filter,
                    "paginate": "true",
                    "pageSize": str(page_size),
                }
                if state is not None:
                    params["state"] = state
                async for ret in self._pages(url, params):
                    if ret.id in carried or ret.id in seen:
                        continue
                    seen.add(ret.id)
                    stamp = ret.updated_at if filter == "updated_at" else ret.created_at
                    if stamp is None or stamp.replace(microsecond=0) >= window_end:
                        on_boundary.add(ret.id)
                    yield ret
            carried = on_boundary

    async def _pages(self, url: URL, params: Mapping[str, str]) -> AsyncIterator[Return]:
        """The returns of one listing, page after page."""
        response = await self._transport.request("GET", url, params=params)
        visited = {str(response.url)}
        while True:
            if isinstance(response.data, list):  # the unpaginated shape: everything at once
                for ret in structure(response.data, tuple[Return, ...], what="returns list"):
                    yield ret
                return
            page = structure(response.data, ReturnsPage, what="returns page")
            for ret in page.returns:
                yield ret
            if not page.next_page_url:
                return
            next_url = _with_missing(self._transport.resolve(page.next_page_url), params)  # off-origin: UnsafeLinkError
            if str(next_url) in visited:
                raise DecodeError(f"returns list: nextPageUrl repeats a page already read ({next_url})")
            visited.add(str(next_url))
            response = await self._transport.request("GET", next_url)

    async def asn(self, start: datetime, end: datetime) -> builtins.list[AsnRow]:
        """The advanced shipping notice: one row per package expected between ``start`` and ``end``.

        ``start`` and ``end`` are timezone-aware; sent as whole UTC seconds in one request.
        """
        problems = Problems("returns.asn")
        check_range(problems, start, end)
        problems.raise_if_any()
        params = {"from": format_loop_datetime(start), "to": format_loop_datetime(end)}
        response = await self._transport.request(
            "GET", self._transport.url("warehouse", "reporting", "asn"), params=params
        )
        if response.data is None:
            return []
        return list(structure(response.data, tuple[AsnRow, ...], what="advanced shipping notice"))


def _with_missing(url: URL, params: Mapping[str, str]) -> URL:
    """``url`` with each of the caller's ``params`` that it lacks added back.

    Loop's ``nextPageUrl`` keeps ``to``, ``filter``, ``pageSize`` and the cursor but drops
    ``from``, ``state`` and ``paginate`` (its documented example); followed as given, the next
    page would fall back to Loop's defaults (the last 24 hours, the default states). What the
    URL does carry is left as Loop wrote it.
    """
    missing = {name: value for name, value in params.items() if name not in url.query}
    return url.update_query(missing) if missing else url


def _check_states(problems: Problems, states: Iterable[str | ReturnState] | str | None) -> list[str | None]:
    """The ``state`` values to query (``[None]``: no state filter); unknown states are problems."""
    if states is None:
        return [None]
    items = [states] if isinstance(states, str) else list(states)
    if not items:
        problems.add("states", "must name at least one state, or be None for Loop's default states")
    known = {member.value for member in ReturnState}
    values: list[str | None] = []
    for item in items:
        value = str(item) if isinstance(item, str) else None
        if value not in known:
            problems.add("states", f"unknown state {item!r}; known states: {sorted(known)}")
        elif value not in values:
            values.append(value)
    return values
