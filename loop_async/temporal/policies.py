"""Draft-return policies for the draft-return workflow, registered by name with each worker.

A workflow input cannot carry code, so it names a policy (``DraftInput.policy``) and every
worker maps names to callables. A policy is ``policy(nav, link, signals)`` (sync or async):
``nav`` is the draft's current :class:`~loop_async.hypermedia.Navigator`, ``link`` its first
required link, ``signals`` the names of the signals the workflow has received. It returns
what a :mod:`~loop_async.hypermedia.drive` policy returns (field values, :class:`Choose`,
:class:`Stop`) or :class:`Wait`: nothing to do yet; the workflow sleeps durably and asks again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeAlias

import attrs

from loop_async.hypermedia import Choose, Navigator, Stop
from loop_async.models.draft_returns import DraftReturnResponse
from loop_async.models.links import Link

__all__ = ["DEFAULT_POLICIES", "DraftPolicy", "Wait", "auto_policy", "require_signal"]


@attrs.frozen
class Wait:
    """A policy decision: not yet (the customer or the warehouse has not answered); ask again later."""

    reason: str = ""


Decision: TypeAlias = Mapping[str, Any] | Stop | Choose | Wait
DraftPolicy: TypeAlias = Callable[
    [Navigator[DraftReturnResponse], Link, frozenset[str]], Decision | Awaitable[Decision]
]


def auto_policy(nav: Navigator[DraftReturnResponse], link: Link, signals: frozenset[str]) -> Decision:
    """Fill each required field from the draft's context or the field's allowed values.

    A reason that needs no comment, the first return method and credit type, the first
    allowed value otherwise: a try-out and test policy, not a business rule.
    """
    context = nav.resource.context
    values: dict[str, Any] = {}
    for field in link.fields:
        if not field.is_required:
            continue
        if field.name == "return_reason_id" and context is not None:
            values[field.name] = next(r.id for r in context.return_reasons if not r.requires_comment)
        elif field.allowed_values:
            values[field.name] = field.allowed_values[0]
        elif field.name == "return_method_id" and context is not None and context.return_methods:
            values[field.name] = context.return_methods[0].id
        elif field.name == "credit_type" and context is not None and context.available_credit_types:
            values[field.name] = context.available_credit_types[0]
    return values


def require_signal(rel: str, signal: str, policy: DraftPolicy = auto_policy) -> DraftPolicy:
    """``policy``, except that ``rel`` waits until the workflow got the signal ``signal``.

    E.g. ``require_signal("submit-draft-return", "approve")``: a person approves each submit
    (``handle.signal("nudge", "approve")``) hours later, with no worker busy meanwhile.
    """

    async def gated(nav: Navigator[DraftReturnResponse], link: Link, signals: frozenset[str]) -> Decision:
        if link.rel == rel and signal not in signals:
            return Wait(f"{rel} waits for the signal {signal!r}")
        decision = policy(nav, link, signals)
        return await decision if isinstance(decision, Awaitable) else decision

    return gated


#: What every worker knows without being told: ``auto``, and ``approve-submit`` (``auto`` with
#: the submit held until an ``approve`` signal).
DEFAULT_POLICIES: dict[str, DraftPolicy] = {
    "auto": auto_policy,
    "approve-submit": require_signal("submit-draft-return", "approve"),
}
