"""Return data: ``get`` (one return's details), ``list`` (every return in a date range, in
120-day windows, page after page) and ``asn``, the reading half of ``loop.returns``.

The resource side of :mod:`loop_async.models.return_data` (the same concept at two layers). It
only reads: nothing here changes a return. Windows, boundaries and Loop's ``nextPageUrl`` quirks
are explained in ``docs/return-data.md``.
"""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator, Iterable, Mapping
from datetime import datetime

from yarl import URL

from loop_async._sansio.problems import Problems
from loop_async._transport import Transport
from loop_async.errors import DecodeError, LoopAPIError, NotFoundError
from loop_async.models._convert import structure
from loop_async.models.enums import ReturnState
from loop_async.models.return_data import AsnRow, Return, ReturnsPage
from loop_async.resources._windows import MAX_WINDOW, check_range, format_loop_datetime, split_windows

__all__ = ["CURRENCY_TYPES", "LIST_FILTERS", "MAX_PAGE_SIZE", "ReturnData"]

#: Largest ``pageSize`` Loop accepts on the returns list.
MAX_PAGE_SIZE = 750
#: Which timestamp the returns list filters on.
LIST_FILTERS = frozenset({"created_at", "updated_at"})
#: ``currency_type`` values of the return details endpoint.
CURRENCY_TYPES = frozenset({"shop", "presentment"})


class ReturnData:
    """The reads of ``loop.returns``: return data (composed into ``ReturnsResource``)."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

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
        if currency_type is not None:
            problems.one_of("currency_type", currency_type, sorted(CURRENCY_TYPES))
        problems.raise_if_any()
        params = {name: str(value) for name, value in given.items()}
        if currency_type is not None:
            params["currency_type"] = currency_type
        url = self._transport.url("warehouse", "return", "details")
        looked_up = ", ".join(f"{name}={value}" for name, value in given.items())
        try:
            response = await self._transport.request("GET", url, params=params)
        except NotFoundError as exc:
            exc.looked_up = looked_up
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
                missing.looked_up = looked_up
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
        problems.one_of("filter", filter, sorted(LIST_FILTERS))
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
