"""Drive a navigator through its required links with a policy, or plan it without sending.

A *policy* ``policy(nav, link)``, sync or async, returns field values, :class:`Choose` or
:class:`Stop`; :func:`drive` follows its answers until the resource is terminal, the policy
stops, no link is required or ``max_steps`` is reached. It knows navigators only through the
:class:`Drivable` protocol (the navigator builds on this module, not the other way round) and
names no rel. The guide: ``docs/draft-returns.md`` ("Driving a flow with a policy").
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from types import MappingProxyType
from typing import Any, Generic, Literal, Protocol, TypeAlias, TypeVar

import attrs

from loop_async._callbacks import maybe_await
from loop_async._sansio.problems import Problems
from loop_async.errors import DriveLimitError
from loop_async.models.links import Link

__all__ = ["Choose", "Decision", "Drivable", "DriveLimitError", "DriveResult", "Policy", "Step", "Stop", "drive"]

_Self = TypeVar("_Self", bound="Drivable")


class Drivable(Protocol):
    """What :func:`drive` needs of a navigator (a :class:`~loop_async.hypermedia.Navigator` is one)."""

    @property
    def is_terminal(self) -> bool:
        """No link is offered."""
        ...

    @property
    def required(self) -> tuple[Link, ...]:
        """The required links, in server order."""
        ...

    def link(self, rel: str) -> Link:
        """The offered link with ``rel``."""
        ...

    def validate(self, link: Link, values: Mapping[str, Any]) -> dict[str, Any]:
        """The payload a follow of ``link`` with ``values`` would send."""
        ...

    def plan(self, rel: str, values: Mapping[str, Any] | None = None, /) -> dict[str, Any]:
        """The payload a follow of ``rel`` would send, checked as a follow checks it."""
        ...

    async def follow_link(self: _Self, link: Link, values: Mapping[str, Any] | None = None, /) -> _Self:
        """Follow ``link`` with ``values``: the next state."""
        ...


N = TypeVar("N", bound=Drivable)


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
Policy: TypeAlias = Callable[[N, Link], Decision | Awaitable[Decision]]
"""``policy(nav, link)``, sync or async, returning a :data:`Decision` (``Policy[Navigator[R]]``)."""


@attrs.frozen(kw_only=True)
class DriveResult(Generic[N]):
    """How a drive ended (``DriveResult[Navigator[R]]`` for a navigator over resources ``R``).

    ``navigator`` is the last state (the start, for a dry run); ``steps`` the follows made
    (or planned); ``outcome`` is ``"terminal"``, ``"stopped"`` (``reason`` says why),
    ``"idle"`` (links remain but none is required) or ``"planned"`` (dry run).
    """

    navigator: N
    steps: tuple[Step, ...]
    outcome: Literal["terminal", "stopped", "idle", "planned"]
    reason: str = ""


async def _decide(policy: Policy[N], nav: N, link: Link) -> tuple[Link, Mapping[str, Any]] | Stop:
    decision = await maybe_await(policy(nav, link))
    if isinstance(decision, Stop):
        return decision
    if isinstance(decision, Choose):
        return nav.link(decision.rel), decision.values
    if not isinstance(decision, Mapping):
        raise TypeError(f"a drive policy must return a mapping, Stop or Choose, got {type(decision).__name__}")
    return link, decision


async def drive(nav: N, policy: Policy[N], *, max_steps: int = 50, dry_run: bool = False) -> DriveResult[N]:
    """Follow required links as ``policy`` decides; return how it ended.

    ``drive`` asks the policy about the first required link (server order) of each state,
    follows its answer, and repeats until the resource is terminal (no links: outcome
    ``"terminal"``), the policy stops (``"stopped"``), no link is required any more
    (``"idle"``), or ``max_steps`` follows were made (:class:`DriveLimitError`). With
    ``dry_run=True`` nothing is sent: the policy is asked about every required link of the
    *current* state and the checked steps are returned (``"planned"``; later states exist only
    on the server, so a plan cannot see past the present one).
    """
    problems = Problems("drive")
    problems.int_at_least("max_steps", max_steps, 1)
    problems.raise_if_any()
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


async def _plan(nav: N, policy: Policy[N]) -> DriveResult[N]:
    steps: list[Step] = []
    for required in nav.required:
        decided = await _decide(policy, nav, required)
        if isinstance(decided, Stop):
            return DriveResult(navigator=nav, steps=tuple(steps), outcome="planned", reason=decided.reason)
        link, values = decided
        payload = nav.plan(link.rel, values)  # same checks as follow: bad values fail the plan
        steps.append(Step(rel=link.rel, method=link.method, href=link.href, values=payload))
    return DriveResult(navigator=nav, steps=tuple(steps), outcome="planned")
