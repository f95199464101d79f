"""Drive a navigator through its required links with a policy, or plan it without sending.

A *policy* is a callable, sync or async, ``policy(nav, link)`` that returns:

- a mapping of field values: follow ``link`` with them;
- :class:`Choose` ``(rel, values)``: follow another rel instead;
- :class:`Stop` ``(reason)``: stop here.

:func:`drive` asks the policy about the first required link (server order) of each state,
follows its answer, and repeats until the resource is terminal (no links), the policy stops,
no link is required any more (outcome ``"idle"``), or ``max_steps`` follows were made
(:class:`DriveLimitError`). With ``dry_run=True`` nothing is sent: the policy is asked about
every required link of the *current* state and the checked steps are returned (later states
exist only on the server, so a plan cannot see past the present one).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from types import MappingProxyType
from typing import Any, Generic, Literal, TypeAlias, TypeVar

import attrs

from loop_async.errors import DriveLimitError
from loop_async.hypermedia.navigator import Navigator, maybe_await
from loop_async.models.links import Link

__all__ = ["Choose", "DriveLimitError", "DriveResult", "Policy", "Step", "Stop", "drive"]

T = TypeVar("T")


def _frozen_mapping(values: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(values or {}))


@attrs.frozen
class Stop:
    """A policy decision: stop driving here (``reason`` ends up in the result)."""

    reason: str = ""


@attrs.frozen
class Choose:
    """A policy decision: follow ``rel`` (any offered rel) with ``values`` instead."""

    rel: str
    values: Mapping[str, Any] = attrs.field(factory=dict, converter=_frozen_mapping, hash=False)


@attrs.frozen(kw_only=True)
class Step:
    """One action taken (or planned, in a dry run): rel, method, href and the values sent.

    ``values`` is the validated payload, exactly what was (or would be) sent: an optional
    field given as ``None`` is not in it.
    """

    rel: str
    method: str
    href: str
    values: Mapping[str, Any] = attrs.field(converter=_frozen_mapping, hash=False)


Decision: TypeAlias = Mapping[str, Any] | Stop | Choose
"""What a policy returns: values for the link, :class:`Stop` or :class:`Choose`."""
Policy: TypeAlias = Callable[[Navigator[T], Link], Decision | Awaitable[Decision]]
"""``policy(nav, link)``, sync or async, returning a :data:`Decision`."""


@attrs.frozen(kw_only=True)
class DriveResult(Generic[T]):
    """How a drive ended.

    ``navigator`` is the last state (the start, for a dry run); ``steps`` the follows made
    (or planned); ``outcome`` is ``"terminal"``, ``"stopped"`` (``reason`` says why),
    ``"idle"`` (links remain but none is required) or ``"planned"`` (dry run).
    """

    navigator: Navigator[T]
    steps: tuple[Step, ...]
    outcome: Literal["terminal", "stopped", "idle", "planned"]
    reason: str = ""


async def _decide(policy: Policy[T], nav: Navigator[T], link: Link) -> tuple[Link, Mapping[str, Any]] | Stop:
    decision = await maybe_await(policy(nav, link))
    if isinstance(decision, Stop):
        return decision
    if isinstance(decision, Choose):
        return nav.link(decision.rel), decision.values
    if not isinstance(decision, Mapping):
        raise TypeError(f"a drive policy must return a mapping, Stop or Choose, got {type(decision).__name__}")
    return link, decision


async def drive(nav: Navigator[T], policy: Policy[T], *, max_steps: int = 50, dry_run: bool = False) -> DriveResult[T]:
    """Follow required links as ``policy`` decides (see the module doc); return how it ended."""
    if max_steps < 1:
        raise ValueError(f"max_steps must be at least 1, got {max_steps}")
    if dry_run:
        return await _plan(nav, policy)
    steps: list[Step] = []
    while True:
        if nav.is_terminal:
            return DriveResult(navigator=nav, steps=tuple(steps), outcome="terminal")
        if not nav.required:
            return DriveResult(navigator=nav, steps=tuple(steps), outcome="idle", reason="no required link")
        if len(steps) >= max_steps:
            raise DriveLimitError(max_steps, DriveResult(navigator=nav, steps=tuple(steps), outcome="stopped"))
        decided = await _decide(policy, nav, nav.required[0])
        if isinstance(decided, Stop):
            return DriveResult(navigator=nav, steps=tuple(steps), outcome="stopped", reason=decided.reason)
        link, values = decided
        payload = nav.validate(link, values)
        nav = await nav.follow_link(link, payload)
        steps.append(Step(rel=link.rel, method=link.method, href=link.href, values=payload))


async def _plan(nav: Navigator[T], policy: Policy[T]) -> DriveResult[T]:
    steps: list[Step] = []
    for required in nav.required:
        decided = await _decide(policy, nav, required)
        if isinstance(decided, Stop):
            return DriveResult(navigator=nav, steps=tuple(steps), outcome="planned", reason=decided.reason)
        link, values = decided
        payload = nav.plan(link.rel, values)  # same checks as follow: bad values fail the plan
        steps.append(Step(rel=link.rel, method=link.method, href=link.href, values=payload))
    return DriveResult(navigator=nav, steps=tuple(steps), outcome="planned")
