"""Laravel's length-aware page (``?page=``, ``?per_page=``), as Loop's warehouse and support lists answer."""

from __future__ import annotations

from typing import Any

from multidict import MultiMapping
from yarl import URL

from loop_async.testing.error_bodies import validation_error

__all__ = ["laravel_page"]


def laravel_page(items: list[dict[str, Any]], query: MultiMapping[str], url: URL, default_size: int) -> dict[str, Any]:
    """A Laravel length-aware page of ``items`` (``?page=``, and ``?per_page=`` for tests)."""
    errors: dict[str, list[str]] = {}
    page_text, size_text = query.get("page", "1"), query.get("per_page", str(default_size))
    if not page_text.isdigit() or int(page_text) < 1:
        errors["page"] = ["The page must be a positive integer."]
    if not size_text.isdigit() or not 1 <= int(size_text) <= 1000:
        errors["per_page"] = ["The per page must be between 1 and 1000."]
    if errors:
        raise validation_error(errors)
    page, size = int(page_text), int(size_text)
    last = max(1, -(-len(items) // size))
    start = (page - 1) * size
    chunk = items[start : start + size]
    base = url.with_query({k: v for k, v in query.items() if k != "page"})

    def link(number: int) -> str:
        return str(base.update_query(page=str(number)))

    return {
        "current_page": page,
        "data": chunk,
        "first_page_url": link(1),
        "from": start + 1 if chunk else None,
        "last_page": last,
        "last_page_url": link(last),
        "next_page_url": link(page + 1) if page < last else None,
        "path": str(url.with_query(None)),
        "per_page": size,
        "prev_page_url": link(page - 1) if page > 1 else None,
        "to": start + len(chunk) if chunk else None,
        "total": len(items),
    }
