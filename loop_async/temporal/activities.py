"""The activities: every return action, and the draft-return steps, done by a worker's client pool.

Side-effect safety in Temporal's terms. Loop has no idempotency key, so an *unsafe* activity
(one that can change something at Loop: a return action, creating a draft, following a draft's
link) is attempted once (the workflows give it ``RetryPolicy(maximum_attempts=1)``) and never
raises for a Loop or transport error: it returns the outcome kind the SDK's one rule gives
(:func:`loop_async._sansio.outcome.classify`) as data, so Temporal has nothing to retry. A worker that
dies mid-activity makes the attempt time out (heartbeat), which the workflow records as
``unknown``. *Safe* activities (reads: planning a draft's next step) raise, and Temporal retries
them with backoff.

Activities know merchants by name only; each worker resolves the keys (see
:mod:`loop_async.temporal.keys`) into its :class:`~loop_async.bulk.pool.ClientPool`.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any, TypeVar

from temporalio import activity

from loop_async._callbacks import maybe_await
from loop_async._sansio.outcome import OutcomeKind, classify
from loop_async.bulk import ClientPool
from loop_async.client import LoopClient
from loop_async.errors import (
    FieldValidationError,
    LoopAPIError,
    OutcomeUnknownError,
    PartialOutcomeError,
    RelNotAvailableError,
)
from loop_async.hypermedia import Choose, Navigator, Stop
from loop_async.models._convert import unstructure
from loop_async.models.draft_returns import DraftReturnResponse
from loop_async.resources.dispositions import MAX_BATCH, Assessment
from loop_async.temporal._types import (
    ActionInput,
    ActionOutcome,
    AssessInput,
    DraftCreateInput,
    DraftPlan,
    DraftPlanInput,
    DraftStepInput,
    DraftStepOutcome,
    ErrorInfo,
)
from loop_async.temporal.policies import DEFAULT_POLICIES, DraftPolicy, Wait

__all__ = ["RETURN_ACTIONS", "LoopActivities", "error_info", "fingerprint"]

T = TypeVar("T")
_MESSAGE_MAX = 500


async def _process(loop: LoopClient, job: ActionInput) -> Any:
    return await loop.returns.process(job.return_id)


async def _cancel(loop: LoopClient, job: ActionInput) -> Any:
    return await loop.returns.cancel(job.return_id, reason=job.reason)


async def _close(loop: LoopClient, job: ActionInput) -> Any:
    return await loop.returns.close(job.return_id)


async def _flag(loop: LoopClient, job: ActionInput) -> Any:
    return await loop.returns.flag(job.return_id, reason=job.reason)


async def _note(loop: LoopClient, job: ActionInput) -> Any:
    return await loop.returns.create_note(job.return_id, job.text or "")


async def _remove_line_items(loop: LoopClient, job: ActionInput) -> Any:
    return await loop.returns.remove_line_items(job.return_id, job.line_item_ids)


#: Every action a bulk workflow can run, by the name the CLI uses. Each one makes its
#: request(s) through the merchant's client. New unsafe return actions go here (and nowhere
#: else); ``assess`` works on line items, not returns, so it is an activity of its own.
RETURN_ACTIONS: dict[str, Callable[[LoopClient, ActionInput], Awaitable[Any]]] = {
    "process": _process,
    "cancel": _cancel,
    "close": _close,
    "flag": _flag,
    "note": _note,
    "remove-line-items": _remove_line_items,
}


def error_info(error: BaseException) -> ErrorInfo:
    """What history records of an error: type, code and a bounded message (the SDK keeps keys out of it).

    ``code`` and ``status`` come from Loop's answer, also when it is wrapped (an
    :class:`~loop_async.errors.OutcomeUnknownError` around a 500, a
    :class:`~loop_async.errors.PartialOutcomeError` around the part that failed).
    """
    answer = error.error if isinstance(error, OutcomeUnknownError | PartialOutcomeError) else error
    status = answer.status if isinstance(answer, LoopAPIError) else None
    code = (answer.code or f"HTTP {answer.status}") if isinstance(answer, LoopAPIError) else type(answer).__name__
    return ErrorInfo(type=type(error).__name__, code=code, message=str(error)[:_MESSAGE_MAX], status=status)


def fingerprint(nav: Navigator[DraftReturnResponse]) -> str:
    """Identifies a draft's state (the draft itself and the rels offered; not the context)."""
    body = json.dumps([unstructure(nav.resource.draft_return), list(nav.rels)], sort_keys=True, default=str)
    return hashlib.sha256(body.encode()).hexdigest()[:16]


def _state(nav: Navigator[DraftReturnResponse]) -> str:
    return str(nav.resource.draft_return.state.value)


class LoopActivities:
    """The activities of one worker, bound to its ``pool`` and its named draft ``policies``.

    ``heartbeat_every`` seconds an activity tells Temporal it is alive (while waiting for its
    rate slot too), so a worker that dies is noticed after the workflow's heartbeat timeout.
    """

    def __init__(
        self,
        pool: ClientPool,
        *,
        policies: Mapping[str, DraftPolicy] | None = None,
        heartbeat_every: float = 1.0,
    ) -> None:
        self.pool = pool
        self.policies: dict[str, DraftPolicy] = {**DEFAULT_POLICIES, **(policies or {})}
        self._heartbeat_every = heartbeat_every

    def all(self) -> list[Callable[..., Any]]:
        """Every activity, for ``Worker(activities=...)``."""
        return [self.return_action, self.assess, self.draft_create, self.draft_plan, self.draft_step]

    async def _alive(self, work: Coroutine[Any, Any, T]) -> T:
        """Run ``work``, heartbeating meanwhile (outside an activity, e.g. in a unit test, just run it)."""
        if not activity.in_activity():
            return await work
        task = asyncio.ensure_future(work)
        try:
            while True:
                done, _ = await asyncio.wait({task}, timeout=self._heartbeat_every)
                if done:
                    return task.result()
                activity.heartbeat()
        finally:
            if not task.done():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)

    def _client(self, merchant: str) -> LoopClient | None:
        return self.pool[merchant] if merchant in self.pool else None  # noqa: SIM401 - a pool has no get()

    @staticmethod
    def _no_merchant(merchant: str) -> ErrorInfo:
        return ErrorInfo("UnknownMerchant", "unknown-merchant", f"this worker has no API key for merchant {merchant!r}")

    # -- unsafe: attempted once, outcome returned as data ---------------------------------------

    @activity.defn(name="loop-async.return-action")
    async def return_action(self, job: ActionInput) -> ActionOutcome:
        """One return action (unsafe): its outcome kind, never an exception for a Loop/transport error."""
        run = RETURN_ACTIONS.get(job.action)
        if run is None:
            return ActionOutcome(OutcomeKind.FAILED.value, ErrorInfo("UnknownAction", "unknown-action", job.action))
        loop = self._client(job.merchant)
        if loop is None:
            return ActionOutcome(OutcomeKind.FAILED.value, self._no_merchant(job.merchant))
        try:
            result = await self._alive(maybe_await(run(loop, job)))
        except Exception as exc:  # noqa: BLE001 - classified by the one rule and returned, never retried
            return ActionOutcome(classify(exc).value, error_info(exc))
        return ActionOutcome(OutcomeKind.OK.value, queued=getattr(result, "queued", None))

    @activity.defn(name="loop-async.assess")
    async def assess(self, job: AssessInput) -> ActionOutcome:
        """Disposition up to 30 items in one request (unsafe: attempted once, its outcome kind returned).

        More items would be several requests with outcomes of their own: split them into one
        activity per batch of :data:`~loop_async.resources.dispositions.MAX_BATCH`.
        """
        loop = self._client(job.merchant)
        if loop is None:
            return ActionOutcome(OutcomeKind.FAILED.value, self._no_merchant(job.merchant))
        if len(job.items) > MAX_BATCH:
            problem = f"{len(job.items)} items; one activity sends at most {MAX_BATCH} (split them)"
            return ActionOutcome(OutcomeKind.FAILED.value, ErrorInfo("TooManyItems", "too-many-items", problem))
        items = [Assessment(**vars(item)) for item in job.items]
        try:
            result = await self._alive(loop.dispositions.assess(items))
            result.raise_for_outcome()
        except Exception as exc:  # noqa: BLE001 - classified by the one rule and returned, never retried
            return ActionOutcome(classify(exc).value, error_info(exc))
        return ActionOutcome(OutcomeKind.OK.value)

    @activity.defn(name="loop-async.draft-create")
    async def draft_create(self, job: DraftCreateInput) -> DraftStepOutcome:
        """Create a draft return (unsafe: a lost create cannot be re-read, it stays ``unknown``)."""
        loop = self._client(job.merchant)
        if loop is None:
            return DraftStepOutcome(OutcomeKind.FAILED.value, error=self._no_merchant(job.merchant))
        try:
            nav = await self._alive(loop.draft_returns.create(job.order_name, job.secondary_input))
        except Exception as exc:  # noqa: BLE001 - classified, not retried
            return DraftStepOutcome(classify(exc).value, error=error_info(exc))
        return DraftStepOutcome(OutcomeKind.OK.value, state=_state(nav), draft_id=nav.resource.draft_return.id)

    @activity.defn(name="loop-async.draft-step")
    async def draft_step(self, job: DraftStepInput) -> DraftStepOutcome:
        """Follow one rel on a draft (unsafe), only if the draft is still in the planned state.

        The navigator re-reads the draft when the answer is lost and reports what the draft's own
        state says; if it cannot tell, the step is ``unknown``. A draft that moved on since the
        plan is ``stale``: nothing is sent and the workflow plans again.
        """
        loop = self._client(job.merchant)
        if loop is None:
            return DraftStepOutcome(OutcomeKind.FAILED.value, error=self._no_merchant(job.merchant))

        async def step() -> DraftStepOutcome:
            nav = await loop.draft_returns.get(job.draft_id)
            if fingerprint(nav) != job.fingerprint:
                return DraftStepOutcome(OutcomeKind.FAILED.value, state=_state(nav), draft_id=job.draft_id, stale=True)
            after = await nav.follow_link(nav.link(job.rel), job.values)
            kind = OutcomeKind.PARTIAL if after.errors else OutcomeKind.OK
            errors = "; ".join(f"{e.code}: {e.message}" for e in after.errors)[:_MESSAGE_MAX]
            error = ErrorInfo("PartialFailure", "partial", errors) if after.errors else None
            return DraftStepOutcome(kind.value, state=_state(after), draft_id=job.draft_id, error=error)

        try:
            return await self._alive(step())
        except Exception as exc:  # noqa: BLE001 - classified (a failed GET is "failed"), not retried
            return DraftStepOutcome(classify(exc).value, draft_id=job.draft_id, error=error_info(exc))

    # -- safe: a read, retried by Temporal --------------------------------------------------

    @activity.defn(name="loop-async.draft-plan")
    async def draft_plan(self, job: DraftPlanInput) -> DraftPlan:
        """Read the draft and ask the policy what to do next (a read: Temporal retries it on error).

        A refusal that retrying cannot change (a 4xx, a policy that raises or answers what the
        draft does not accept) is an answer (``failed`` or ``stop``), not an error.
        """
        loop = self._client(job.merchant)
        if loop is None:
            return DraftPlan("stop", "", "", reason=self._no_merchant(job.merchant).message)
        policy = self.policies.get(job.policy)
        if policy is None:
            return DraftPlan("stop", "", "", reason=f"this worker has no draft policy named {job.policy!r}")
        try:
            nav = await self._alive(loop.draft_returns.get(job.draft_id))
        except LoopAPIError as exc:
            if exc.status < 500 and exc.status not in (408, 429):
                # Loop refused the read (no such draft, no scope): asking again would not help.
                return DraftPlan("failed", "", "", reason=str(exc)[:_MESSAGE_MAX])
            raise  # anything else: Temporal retries the read with backoff
        state, mark = _state(nav), fingerprint(nav)
        return_id = nav.resource.draft_return.return_id
        if nav.is_terminal:
            return DraftPlan("terminal", state, mark, return_id=return_id)
        if not nav.required:
            return DraftPlan("idle", state, mark, reason="no required link", return_id=return_id)
        link = nav.required[0]
        try:
            decision = await maybe_await(policy(nav, link, frozenset(job.signals)))
            if isinstance(decision, Wait):
                return DraftPlan("wait", state, mark, reason=decision.reason)
            if isinstance(decision, Stop):
                return DraftPlan("stop", state, mark, reason=decision.reason)
            if isinstance(decision, Choose):
                link, values = nav.link(decision.rel), decision.values
            elif isinstance(decision, Mapping):
                values = decision
            else:
                raise TypeError(f"a draft policy must return a mapping, Stop, Choose or Wait, got {decision!r}")
            payload = nav.validate(link, values)
        except (FieldValidationError, RelNotAvailableError, TypeError) as exc:
            # The policy's answer does not fit the draft: retrying would not change it.
            return DraftPlan("stop", state, mark, reason=f"policy {job.policy!r}: {exc}"[:_MESSAGE_MAX])
        except Exception as exc:  # noqa: BLE001 - the policy's own bug: stop and say so, do not retry it forever
            reason = f"policy {job.policy!r} raised {type(exc).__name__}: {exc}"[:_MESSAGE_MAX]
            return DraftPlan("stop", state, mark, reason=reason)
        return DraftPlan("follow", state, mark, rel=link.rel, values=unstructure(payload))
