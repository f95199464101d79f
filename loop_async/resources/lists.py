"""The blocklist and the allowlist (scope Orders): ``loop.blocklist`` and ``loop.allowlist``.

Both are the same resource on another path (``/blocklists``, ``/allowlists``): list (Laravel
pages, ``async for``), get, create, delete. ``create`` is not idempotent and is never re-sent
on an uncertain outcome.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from loop_async._sansio.problems import Problems
from loop_async._transport import Transport
from loop_async.models._convert import structure
from loop_async.models.support import ListEntry, ListEntryType
from loop_async.resources._pages import laravel_items

__all__ = ["ALLOWLIST_TYPES", "BLOCKLIST_TYPES", "ListResource"]

#: Entry types each list accepts (Loop: the allowlist matches orders and emails only).
BLOCKLIST_TYPES = ("order", "email", "product", "product_tag")
ALLOWLIST_TYPES = ("order", "email")


class ListResource:
    """``loop.blocklist`` / ``loop.allowlist``: entries that block or allow returns."""

    def __init__(self, transport: Transport, path: str, types: tuple[str, ...]) -> None:
        self._transport = transport
        self._path = path
        self._name = path.rstrip("s")
        self.types = types

    def list(self, *, page_size: int | None = None) -> AsyncIterator[ListEntry]:
        """Every entry, page after page (``page_size`` is sent as ``per_page``: a guess)."""
        problems = Problems(f"{self._name}.list")
        if page_size is not None and (isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1):
            problems.add("page_size", f"must be a positive integer, got {page_size!r}")
        problems.raise_if_any()
        params = {"per_page": str(page_size)} if page_size is not None else None
        return laravel_items(self._transport, self._transport.url(self._path), params, ListEntry, self._path)

    async def get(self, entry_id: int) -> ListEntry:
        """One entry."""
        problems = Problems(f"{self._name}.get")
        problems.positive_id("entry_id", entry_id)
        problems.raise_if_any()
        response = await self._transport.request("GET", self._transport.url(self._path, entry_id))
        return structure(response.data, ListEntry, what=f"{self._name} entry")

    async def create(self, type: str | ListEntryType, value: str, *, secondary_value: str | None = None) -> ListEntry:
        """Add an entry: ``type`` is ``order`` (an order name), ``email``, and on the blocklist
        also ``product`` (a variant id) or ``product_tag``."""
        problems = Problems(f"{self._name}.create")
        problems.one_of("type", type, self.types)
        problems.text("value", value, max_length=255)
        problems.text("secondary_value", secondary_value, required=False, max_length=255)
        problems.raise_if_any()
        body = {"type": str(type), "value": value}
        if secondary_value is not None:
            body["secondary_value"] = secondary_value
        response = await self._transport.request("POST", self._transport.url(self._path), json=body)
        return structure(response.data, ListEntry, what=f"{self._name} entry")

    async def delete(self, entry_id: int) -> None:
        """Remove an entry."""
        problems = Problems(f"{self._name}.delete")
        problems.positive_id("entry_id", entry_id)
        problems.raise_if_any()
        await self._transport.request("DELETE", self._transport.url(self._path, entry_id))
