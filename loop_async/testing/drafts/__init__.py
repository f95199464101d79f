"""The fake server's draft returns: the state machine, the link table, and the two link formats.

:mod:`.states` (states and what they offer), :mod:`.machine` (transitions), :mod:`.link_table`
(one row per action), :mod:`.body` (the JSON objects), :mod:`.rendering` (``links[]`` and HAL-FORMS).
"""

from __future__ import annotations

from loop_async.testing.drafts.machine import DraftMachine
from loop_async.testing.drafts.rendering import (
    CLIENT_APPLICATION,
    render_hal_forms,
    render_links,
    render_list,
    render_totals,
)
from loop_async.testing.drafts.states import (
    CANCELLED,
    CREATED,
    EXPIRED,
    FINALIZED,
    SUBMITTED,
    TERMINAL_STATES,
)

__all__ = [
    "CANCELLED",
    "CLIENT_APPLICATION",
    "CREATED",
    "EXPIRED",
    "FINALIZED",
    "SUBMITTED",
    "TERMINAL_STATES",
    "DraftMachine",
    "render_hal_forms",
    "render_links",
    "render_list",
    "render_totals",
]
