"""What the navigators of one resource share: the one-writer lock and the last state known.

One :class:`KeyState` per ``(transport, key)``, created once and held by every navigator of
that key; it lives while one of them does. It knows no navigator (only that the last state
is some object) and sends nothing. The rule it serves is in ``docs/draft-returns.md``.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Hashable
from typing import Any, Generic, TypeVar

from loop_async._transport import Transport

__all__ = ["KeyState", "key_state"]

S = TypeVar("S")


class KeyState(Generic[S]):
    """The writer lock of one key, its last state known and how many follows completed on it."""

    __slots__ = ("__weakref__", "last", "lock", "writes")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.last: S | None = None
        self.writes = 0  # follows completed on this key: a read older than one is not recorded

    def known(self, state: S) -> None:
        """``state`` is the first one known for the key, unless one is known already."""
        if self.last is None:
            self.last = state

    def read(self, state: S, writes_before: int) -> None:
        """A read answered ``state``: it becomes the last known, unless a follow completed since ``writes_before``."""
        if self.writes == writes_before:
            self.last = state

    def wrote(self, state: S | None) -> None:
        """A follow completed (or may have): ``state`` is what it left, when known; older reads no longer count."""
        self.writes += 1
        if state is not None:
            self.last = state


# transport -> key -> state. Weak on both sides: a state lives while a navigator holds it.
_STATES: weakref.WeakKeyDictionary[Transport, weakref.WeakValueDictionary[Hashable, KeyState[Any]]] = (
    weakref.WeakKeyDictionary()
)


def key_state(transport: Transport, key: Hashable) -> KeyState[Any]:
    """The one state of ``key`` on ``transport``: the one already held, else a new one.

    The caller must hold on to it (a navigator does): nobody else keeps it alive.
    """
    per_key = _STATES.get(transport)
    if per_key is None:
        per_key = _STATES[transport] = weakref.WeakValueDictionary()
    state = per_key.get(key)
    if state is None:
        state = per_key[key] = KeyState()
    return state
