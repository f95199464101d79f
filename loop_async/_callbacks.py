"""Callbacks that may be sync or async (a drive policy, a Temporal job's runner): ``maybe_await``."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable
from typing import TypeVar

__all__ = ["maybe_await"]

T = TypeVar("T")


async def maybe_await(value: Awaitable[T] | T) -> T:
    """Await ``value`` if it is awaitable (a policy may be sync or async)."""
    if inspect.isawaitable(value):
        return await value
    return value
