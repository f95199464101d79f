"""Draft returns, driven by hypermedia (filled in by the navigator work)."""

from __future__ import annotations

from loop_async.transport import Transport

__all__ = ["DraftReturnsResource"]


class DraftReturnsResource:
    """``loop.draft_returns``: build a return step by step."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport
