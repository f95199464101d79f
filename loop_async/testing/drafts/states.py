"""The draft-return states, and what a draft's state and choices put on offer.

Pure functions of a :class:`~loop_async.testing.store.FakeDraft`; read by the machine, the
link table and the rendering alike, so that each rule is written once.
"""

from __future__ import annotations

from loop_async.testing.catalog import CREDIT_TYPES, RETURN_REASONS
from loop_async.testing.store import FakeDraft

__all__ = [
    "CANCELLED",
    "CREATED",
    "EXPIRED",
    "FINALIZED",
    "OPEN_STATES",
    "REASON_NAMES",
    "REASON_NEEDS_COMMENT",
    "SUBMITTED",
    "TERMINAL_STATES",
    "credit_types",
    "processing_types",
    "ready_to_submit",
]

CREATED = "created"
FINALIZED = "returning-items-finalized"
SUBMITTED = "submitted"
CANCELLED = "cancelled"
EXPIRED = "expired"
TERMINAL_STATES = frozenset({SUBMITTED, CANCELLED, EXPIRED})
OPEN_STATES = (CREATED, FINALIZED)
#: Every reason id (top-level and child) and its name.
REASON_NAMES = {rid: name for rid, name, _, children in RETURN_REASONS for rid, name in ((rid, name), *children)}
REASON_NEEDS_COMMENT = frozenset(rid for rid, _, needs, _ in RETURN_REASONS if needs)


def credit_types(draft: FakeDraft) -> tuple[str, ...]:
    """Credit types on offer: a gift return cannot be refunded to the buyer."""
    return ("gift", "exchange") if draft.is_gift else CREDIT_TYPES


def processing_types(draft: FakeDraft) -> tuple[str, ...]:
    """Processing types on offer: a gift return cannot be instant."""
    return ("regular",) if draft.is_gift else ("regular", "instant")


def ready_to_submit(draft: FakeDraft) -> bool:
    """Credit type and return method set, and for instant processing a payment intent."""
    return (
        draft.credit_type is not None
        and draft.return_method_id is not None
        and (draft.processing_type != "instant" or draft.payment_intent is not None)
    )
