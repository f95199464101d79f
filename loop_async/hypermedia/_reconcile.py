"""Settle an unsafe follow whose outcome is uncertain: re-read the resource, never re-send on a guess.

Asks :mod:`loop_async._sansio.outcome` (the one rule) whether an outcome is uncertain and
whether a failure was a refusal; it does not restate that rule. It compares two states of a
resource (its own state and the actions offered) and sends nothing itself: the navigator
gives it the send, re-read and re-send. The rule and its limits: ``docs/draft-returns.md``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from yarl import URL

from loop_async._sansio.outcome import ReconcilePolicy, is_refusal, is_uncertain
from loop_async.errors import LoopError, OutcomeUnknownError
from loop_async.hypermedia.formats.base import LinkFormat, own_state
from loop_async.hypermedia.linkset import LinkSet
from loop_async.models.links import Link

__all__ = ["Snapshot", "changed", "send_reconciled"]

logger = logging.getLogger("loop_async.hypermedia")


class Snapshot(Protocol):
    """What reconciliation compares of a state: the links offered and the raw JSON."""

    @property
    def links(self) -> LinkSet: ...

    @property
    def data(self) -> Any: ...


N = TypeVar("N", bound=Snapshot)


def _link_signature(links: LinkSet) -> tuple[tuple[str, str, str], ...]:
    """The actions offered, without their fields (whose options may be volatile context)."""
    return tuple((link.rel, link.method.upper(), link.href) for link in links)


def changed(format: LinkFormat, before: Snapshot, after: Snapshot) -> bool:
    """Whether the resource's own state or the actions it offers differ between two reads."""
    if _link_signature(before.links) != _link_signature(after.links):
        return True
    return bool(own_state(format, before.data) != own_state(format, after.data))


def _unknown(link: Link, url: URL, error: LoopError, fresh: object, why: str) -> OutcomeUnknownError:
    return OutcomeUnknownError(
        f"{link.rel}: the request may have taken effect ({type(error).__name__}) {why}; it was not sent again",
        error=error,
        method=link.method.upper(),
        url=url,
        navigator=fresh,
    )


async def send_reconciled(
    send: Callable[[], Awaitable[N]],
    *,
    link: Link,
    url: URL,
    format: LinkFormat,
    baseline: N,
    policy: ReconcilePolicy,
    reread: Callable[[LoopError], Awaitable[N]] | None,
    resend: Callable[[N, LoopError], Awaitable[N]],
) -> N:
    """``send()``; when its outcome is uncertain, settle it against ``baseline`` (the last state known).

    ``reread(lost)`` reads the resource again (``None``: it cannot be re-read);
    ``resend(current, lost)`` sends the request once more from ``current``, for
    ``policy.resend_if_unchanged``. Took effect: the fresh state; unknown:
    :class:`~loop_async.errors.OutcomeUnknownError` carrying it.
    """
    method = link.method.upper()
    try:
        return await send()
    except LoopError as exc:
        if not is_uncertain(method, exc):
            raise  # refused, or never sent: nothing happened
        lost = exc
    if reread is None:
        raise _unknown(link, url, lost, None, "and there is no self URL to re-read it from") from lost
    logger.info("%s %s: outcome uncertain (%s); re-reading the resource", method, url, lost)
    current: N | None = None
    for read in range(policy.reads):
        if read:
            await asyncio.sleep(policy.interval)  # let a slow server finish what it read
        try:
            current = await reread(lost)
        except LoopError as reread_error:
            raise _unknown(link, url, lost, current, f"and re-reading it failed ({reread_error})") from lost
        if changed(format, baseline, current):
            logger.info("%s took effect (the resource changed); not sending it again", link.rel)
            return current
    assert current is not None
    if is_refusal(lost):
        # A replayed request refused for real (a DELETE whose repetition answers 404) and
        # no earlier attempt left a trace: the refusal stands.
        raise lost
    if not policy.resend_if_unchanged:
        raise _unknown(link, url, lost, current, f"and the resource was unchanged in {policy.reads} read(s)") from lost
    logger.warning("%s: unchanged after %d read(s); sending it once more (resend_if_unchanged)", link.rel, policy.reads)
    try:
        return await resend(current, lost)
    except LoopError as again:
        if is_uncertain(method, again):
            raise _unknown(link, url, again, current, "(sent twice, by resend_if_unchanged)") from again
        raise
