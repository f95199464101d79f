"""The workflows: a bulk job over many merchants, and one draft return driven to submitted.

Workflow code only decides; every request is an activity (see :mod:`.activities`). It is
deterministic (no I/O, no clocks but ``workflow.now()``, no randomness) and this module has no
side effects at import, as Temporal's sandbox re-imports it for every run.

Outcome rule on the workflow side: an unsafe activity is scheduled with
``RetryPolicy(maximum_attempts=1)``; when it returns, its outcome kind is the item's; when it
fails instead (its worker died: heartbeat or start-to-close timeout), the request may have been
sent, so the item is ``unknown`` and is never sent again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from loop_async.temporal._types import (
        FAILED,
        OK,
        PARTIAL,
        UNKNOWN,
        ActionInput,
        ActionOutcome,
        BulkItem,
        BulkJobInput,
        BulkJobResult,
        BulkProgress,
        DraftCreateInput,
        DraftInput,
        DraftPlan,
        DraftPlanInput,
        DraftResult,
        DraftStepInput,
        DraftStepOutcome,
        ErrorInfo,
        ItemResult,
        merchant_queue,
    )

__all__ = ["ONCE", "READ_RETRY", "BulkWorkflow", "DraftReturnWorkflow"]

#: Unsafe activities: one attempt, whatever happens (Loop has no idempotency key).
ONCE = RetryPolicy(maximum_attempts=1)
#: Safe activities (reads): Temporal's retries with exponential backoff.
READ_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
    maximum_attempts=30,  # about 25 minutes of an unreadable draft, then the flow ends failed
)
_STOPPED = ErrorInfo("Stopped", "stopped", "the job was stopped before this item was started; nothing was sent")


def _lost(exc: ActivityError) -> ErrorInfo:
    cause = exc.cause if exc.cause is not None else exc
    return ErrorInfo(type(cause).__name__, "activity-lost", f"the activity ended without an outcome: {cause}"[:500])


async def _unsafe_draft_activity(
    job: DraftInput, name: str, arg: DraftCreateInput | DraftStepInput
) -> DraftStepOutcome:
    """Run a draft activity that may change the draft: attempted once (:data:`ONCE`)."""
    outcome: DraftStepOutcome = await workflow.execute_activity(
        name,
        arg,
        result_type=DraftStepOutcome,
        task_queue=job.activity_task_queue,
        start_to_close_timeout=timedelta(minutes=5),
        heartbeat_timeout=timedelta(seconds=job.heartbeat_seconds),
        retry_policy=ONCE,
    )
    return outcome


@workflow.defn(name="loop-async.bulk")
class BulkWorkflow:
    """One action over many items and merchants: ``concurrency`` lanes per merchant, one outcome per item.

    Query ``progress`` for counts and ``outcomes(start)`` for the outcomes finished so far (in
    the order they finished); signal ``stop`` to start no new items (the rest end ``failed``,
    code ``stopped``: nothing was sent for them).
    """

    def __init__(self) -> None:
        self._total = 0
        self._in_flight = 0
        self._finished: list[ItemResult] = []
        self._counts = {OK: 0, FAILED: 0, UNKNOWN: 0, PARTIAL: 0}
        self._stopping = False

    @workflow.run
    async def run(self, job: BulkJobInput) -> BulkJobResult:
        self._total = len(job.items)
        lanes: dict[str, deque[int]] = {}
        for index, item in enumerate(job.items):
            lanes.setdefault(item.merchant, deque()).append(index)
        results: dict[int, ItemResult] = {}

        async def lane(queue: deque[int]) -> None:
            while queue:
                index = queue.popleft()
                results[index] = await self._one(job, index, job.items[index])

        width = max(1, job.concurrency)
        await asyncio.gather(*(lane(queue) for queue in lanes.values() for _ in range(min(width, len(queue)))))
        return BulkJobResult(job.action, [results[index] for index in range(len(job.items))])

    async def _one(self, job: BulkJobInput, index: int, item: BulkItem) -> ItemResult:
        if self._stopping:
            return self._finish(index, item, FAILED, _STOPPED)
        queue = job.activity_task_queue
        if job.queue_per_merchant:
            queue = merchant_queue(queue or workflow.info().task_queue, item.merchant)
        self._in_flight += 1
        try:
            outcome = await workflow.execute_activity(
                "loop-async.return-action",
                ActionInput(job.action, item.merchant, item.return_id, item.reason, item.text, item.line_item_ids),
                result_type=ActionOutcome,
                task_queue=queue,
                start_to_close_timeout=timedelta(seconds=job.start_to_close_seconds),
                heartbeat_timeout=timedelta(seconds=job.heartbeat_seconds),
                retry_policy=ONCE,
            )
            kind, error = outcome.kind, outcome.error
        except ActivityError as exc:
            kind, error = UNKNOWN, _lost(exc)
        finally:
            self._in_flight -= 1
        return self._finish(index, item, kind, error)

    def _finish(self, index: int, item: BulkItem, kind: str, error: ErrorInfo | None) -> ItemResult:
        result = ItemResult(index, item.merchant, item.return_id, item.line, kind, error)
        self._finished.append(result)
        self._counts[kind] = self._counts.get(kind, 0) + 1
        return result

    @workflow.query(name="progress")
    def progress(self) -> BulkProgress:
        return BulkProgress(
            total=self._total,
            done=len(self._finished),
            in_flight=self._in_flight,
            ok=self._counts[OK],
            failed=self._counts[FAILED],
            unknown=self._counts[UNKNOWN],
            partial=self._counts[PARTIAL],
        )

    @workflow.query(name="outcomes")
    def outcomes(self, start: int) -> list[ItemResult]:
        """Outcomes finished so far, from the ``start``-th (in finishing order), 1,000 at most."""
        return self._finished[start : start + 1000]

    @workflow.signal(name="stop")
    def stop(self) -> None:
        self._stopping = True


@workflow.defn(name="loop-async.draft-return")
class DraftReturnWorkflow:
    """Drive one draft return by a named policy until it is terminal (submitted) or the policy stops.

    Each round reads the draft and asks the policy (a safe activity, retried), then follows the
    chosen link (an unsafe activity, once, and only if the draft is still in the state the plan
    was made for). A step whose outcome is unknown (the navigator could not tell, or the worker
    died) is judged by the draft's own state on the next read: if the draft moved on, the flow
    goes on from there; if it did not, the flow ends ``unknown`` and the step is never re-sent.
    When the policy says ``Wait``, the workflow
    sleeps durably (no worker is busy) for ``poll_seconds`` or until a ``nudge`` signal; a
    signal with a name (``"approve"``) is passed to the policy. Query ``status``.
    """

    def __init__(self) -> None:
        self._signals: list[str] = []
        self._nudged = False
        self._status = "starting"
        self._draft_id: int | None = None
        self._state: str | None = None
        self._steps: list[str] = []

    @workflow.signal(name="nudge")
    def nudge(self, name: str = "") -> None:
        if name and name not in self._signals:
            self._signals.append(name)
        self._nudged = True

    @workflow.query(name="status")
    def status(self) -> DraftResult:
        return DraftResult("", self._draft_id, self._status, self._state, steps=list(self._steps))

    def _result(
        self,
        job: DraftInput,
        outcome: str,
        *,
        reason: str = "",
        error: ErrorInfo | None = None,
        return_id: int | None = None,
    ) -> DraftResult:
        self._status = outcome
        steps = list(self._steps)
        return DraftResult(job.merchant, self._draft_id, outcome, self._state, return_id, steps, reason, error)

    @workflow.run
    async def run(self, job: DraftInput) -> DraftResult:
        self._draft_id = job.draft_id
        if self._draft_id is None:
            if not job.order_name or not job.secondary_input:
                return self._result(job, FAILED, reason="no draft_id, nor order_name and secondary_input to create one")
            self._status = "creating"
            try:
                created = await _unsafe_draft_activity(
                    job, "loop-async.draft-create", DraftCreateInput(job.merchant, job.order_name, job.secondary_input)
                )
            except ActivityError as exc:
                return self._result(job, UNKNOWN, error=_lost(exc), reason="the create may have happened")
            if created.kind != OK or created.draft_id is None:
                return self._result(job, created.kind, error=created.error)
            self._draft_id, self._state = created.draft_id, created.state
        draft_id = self._draft_id
        waited = 0.0
        attempts = 0
        uncertain: tuple[str, str, ErrorInfo | None] | None = None  # (rel, fingerprint before, error)
        while True:
            self._status = "reading"
            try:
                plan = await workflow.execute_activity(
                    "loop-async.draft-plan",
                    DraftPlanInput(job.merchant, draft_id, job.policy, tuple(self._signals)),
                    result_type=DraftPlan,
                    task_queue=job.activity_task_queue,
                    start_to_close_timeout=timedelta(minutes=2),
                    heartbeat_timeout=timedelta(seconds=job.heartbeat_seconds),
                    retry_policy=READ_RETRY,
                )
            except ActivityError as exc:  # the reads kept failing: nothing was sent by them
                return self._result(job, FAILED, error=_lost(exc), reason="the draft could not be read")
            self._state = plan.state or self._state
            if plan.decision == "failed":
                return self._result(job, FAILED, reason=plan.reason)
            if uncertain is not None and plan.fingerprint == uncertain[1]:
                # The draft is where it was before a step whose outcome is unknown: it may still
                # land, and Loop has no idempotency key. Never re-sent: a person decides.
                return self._result(job, UNKNOWN, reason=f"{uncertain[0]} may have happened", error=uncertain[2])
            uncertain = None
            if plan.decision == "terminal":
                return self._result(job, "terminal", return_id=plan.return_id)
            if plan.decision in ("idle", "stop"):
                return self._result(job, "stopped" if plan.decision == "stop" else "idle", reason=plan.reason)
            if plan.decision == "wait":
                if waited >= job.max_wait_seconds:
                    return self._result(job, "timed-out", reason=plan.reason)
                self._status, self._nudged = "waiting", False
                started = workflow.now()
                with contextlib.suppress(asyncio.TimeoutError):  # timed out: time to look again
                    await workflow.wait_condition(lambda: self._nudged, timeout=timedelta(seconds=job.poll_seconds))
                waited += (workflow.now() - started).total_seconds()
                continue
            assert plan.rel is not None
            if attempts >= job.max_steps:
                return self._result(job, "stopped", reason=f"max_steps={job.max_steps} steps without an end")
            attempts += 1
            self._status = f"following {plan.rel}"
            try:
                step = await _unsafe_draft_activity(
                    job,
                    "loop-async.draft-step",
                    DraftStepInput(job.merchant, draft_id, plan.rel, plan.values, plan.fingerprint),
                )
            except ActivityError as exc:
                step = DraftStepOutcome(UNKNOWN, error=_lost(exc))
            if step.stale:
                continue
            self._steps.append(f"{plan.rel}: {step.kind}")
            self._state = step.state or self._state
            if step.kind == FAILED:
                return self._result(job, FAILED, error=step.error)
            if step.kind == UNKNOWN:
                uncertain = (plan.rel, plan.fingerprint, step.error)
            # The next read of the draft says where it stands (and whether an unknown step landed).
