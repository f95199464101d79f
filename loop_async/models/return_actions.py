"""Answers of the return actions: notes and deep links.

The model side of :mod:`loop_async.resources.return_actions` (the same concept at two layers).
"""

from __future__ import annotations

from datetime import datetime

import attrs

__all__ = ["DeepLink", "DeepLinkQR", "Note"]


@attrs.frozen(kw_only=True)
class Note:
    """An internal note on a return, shown on its timeline in the Loop admin."""

    id: int
    content: str
    created_at: datetime | None = None


@attrs.frozen(kw_only=True)
class DeepLink:
    """A link that takes a customer straight into the return flow for an order."""

    url: str


@attrs.frozen(kw_only=True)
class DeepLinkQR:
    """A QR code image URL and the deep link it encodes."""

    qr: str
    deeplink_url: str | None = None
