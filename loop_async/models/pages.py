"""Laravel's page envelope (``current_page``, ``data``, ``next_page_url``...), as several list endpoints send it."""

from __future__ import annotations

from typing import Any

import attrs

__all__ = ["LaravelPage"]


@attrs.frozen(kw_only=True)
class LaravelPage:
    """One page; ``data`` stays raw JSON and is decoded by the caller, per item type."""

    data: tuple[Any, ...] = ()
    current_page: int | None = None
    next_page_url: str | None = None
    per_page: int | None = None
    total: int | None = None
