"""The transport: the aiohttp adapter that sends every request (facade of this package).

:mod:`~loop_async._transport.transport` sends, :mod:`~loop_async._transport.secret` hides the key,
:mod:`~loop_async._transport.body` encodes and reads bodies; no decision is made here (see ``_sansio``).
"""

from __future__ import annotations

from loop_async._transport.body import NO_BODY
from loop_async._transport.transport import Transport

__all__ = ["NO_BODY", "Transport"]
