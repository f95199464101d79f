"""Walking Laravel pages (``current_page``, ``data``, ``next_page_url``): shipments, block/allow lists."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import TypeVar

from yarl import URL

from loop_async._transport import Transport
from loop_async.errors import DecodeError
from loop_async.models._convert import structure
from loop_async.models.pages import LaravelPage

__all__ = ["laravel_items"]

T = TypeVar("T")


async def laravel_items(
    transport: Transport, url: URL, params: Mapping[str, str] | None, item_type: type[T], what: str
) -> AsyncIterator[T]:
    """Every item of every page, following ``next_page_url`` (which must stay on the client's origin)."""
    response = await transport.request("GET", url, params=params)
    visited = {str(response.url)}
    while True:
        page = structure(response.data, LaravelPage, what=f"{what} page")
        for item in structure(page.data, tuple[item_type, ...], what=what):  # type: ignore[valid-type]
            yield item
        if not page.next_page_url or not page.data:
            return
        next_url = transport.resolve(page.next_page_url)  # UnsafeLinkError off-origin: the key stays home
        if str(next_url) in visited:
            raise DecodeError(f"{what}: next_page_url repeats a page already read ({next_url})")
        visited.add(str(next_url))
        response = await transport.request("GET", next_url)
