"""What travels through Temporal: workflow and activity inputs and results, as plain dataclasses.

Everything here ends up in workflow history, so it carries merchant names and return ids,
never an API key. Pure data (no I/O, no SDK imports beyond the standard library) so that the
workflow sandbox can import it freely.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ActionInput",
    "ActionOutcome",
    "BulkItem",
    "BulkJobInput",
    "BulkJobResult",
    "BulkProgress",
    "DraftCreateInput",
    "DraftInput",
    "DraftPlan",
    "DraftPlanInput",
    "DraftResult",
    "DraftStepInput",
    "DraftStepOutcome",
    "ErrorInfo",
    "ItemResult",
    "merchant_queue",
]

#: The outcome kinds (the values of :class:`loop_async._sansio.outcome.OutcomeKind`).
OK, FAILED, UNKNOWN, PARTIAL = "ok", "failed", "unknown", "partial"


@dataclass(frozen=True)
class ErrorInfo:
    """Why an item did not simply succeed: the exception's type, Loop's code (or HTTP status) and message."""

    type: str
    code: str
    message: str
    status: int | None = None


@dataclass(frozen=True)
class ActionInput:
    """One return action for one merchant (the activity's input)."""

    action: str
    merchant: str
    return_id: int
    reason: str | None = None
    text: str | None = None
    line_item_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class ActionOutcome:
    """What one return action did: ``kind`` is ok / failed / unknown / partial."""

    kind: str
    error: ErrorInfo | None = None
    queued: bool | None = None


@dataclass(frozen=True)
class AssessItem:
    """One item to disposition (as :class:`loop_async.resources.dispositions.Assessment`, plain data)."""

    line_item_id: int
    outcome: str
    return_processor: str | None = None
    note: str | None = None
    inspected_at: str | None = None  # ``YYYY-MM-DD HH:MM:SS``, UTC


@dataclass(frozen=True)
class AssessInput:
    """One ``dispositioning/assess`` call for one merchant: at most 30 items (one request)."""

    merchant: str
    items: tuple[AssessItem, ...]


@dataclass(frozen=True)
class BulkItem:
    """One item of a bulk job; ``line`` is the input line it came from (0 when there is none)."""

    merchant: str
    return_id: int
    reason: str | None = None
    text: str | None = None
    line_item_ids: tuple[int, ...] = ()
    line: int = 0


@dataclass(frozen=True)
class BulkJobInput:
    """A bulk job: ``action`` over ``items``, at most ``concurrency`` items in flight per merchant.

    ``activity_task_queue`` sends the activities to another queue than the workflow's;
    ``start_to_close_seconds`` bounds one attempt (rate-limit wait included);
    ``heartbeat_seconds`` is how soon a dead worker's items are given up (as ``unknown``);
    ``queue_per_merchant`` sends each merchant's activities to its own queue
    (:func:`merchant_queue`), for Temporal's task-queue rate limits instead of the Redis limiter.
    """

    action: str
    items: list[BulkItem]
    concurrency: int = 8
    activity_task_queue: str | None = None
    start_to_close_seconds: float = 300.0
    heartbeat_seconds: float = 10.0
    queue_per_merchant: bool = False


def merchant_queue(task_queue: str, merchant: str) -> str:
    """The task queue of ``merchant``'s activities when a job has ``queue_per_merchant``."""
    return f"{task_queue}/merchant/{merchant}"


@dataclass(frozen=True)
class ItemResult:
    """The one outcome of one item: its position ``index`` in the job's items, and what happened."""

    index: int
    merchant: str
    return_id: int
    line: int
    kind: str
    error: ErrorInfo | None = None


@dataclass(frozen=True)
class BulkProgress:
    """The workflow's progress query: items finished by kind, in flight, and the total."""

    total: int
    done: int
    in_flight: int
    ok: int
    failed: int
    unknown: int
    partial: int


@dataclass(frozen=True)
class BulkJobResult:
    """Every item's outcome, in the items' order."""

    action: str
    results: list[ItemResult] = field(default_factory=list)


@dataclass(frozen=True)
class DraftInput:
    """A draft-return flow: continue ``draft_id``, or create one for ``order_name`` (``secondary_input``:
    the zip or e-mail Loop asks for). ``policy`` names a policy registered with the worker.

    When the policy says :class:`~loop_async.temporal.Wait`, the workflow sleeps durably for
    ``poll_seconds`` (or until a ``nudge`` signal) and asks again, for ``max_wait_seconds`` at most.
    ``heartbeat_seconds``: how soon a dead worker's step is given up (as ``unknown``).
    """

    merchant: str
    policy: str = "auto"
    draft_id: int | None = None
    order_name: str | None = None
    secondary_input: str | None = None
    max_steps: int = 50
    poll_seconds: float = 60.0
    max_wait_seconds: float = 7 * 24 * 3600.0
    activity_task_queue: str | None = None
    heartbeat_seconds: float = 10.0


@dataclass(frozen=True)
class DraftCreateInput:
    merchant: str
    order_name: str
    secondary_input: str


@dataclass(frozen=True)
class DraftPlanInput:
    merchant: str
    draft_id: int
    policy: str
    signals: tuple[str, ...] = ()


@dataclass(frozen=True)
class DraftPlan:
    """The policy's answer for the draft's current state.

    ``decision`` is ``follow`` (``rel`` with ``values``), ``wait``, ``stop``, ``terminal``,
    ``idle`` (links remain, none is required) or ``failed`` (Loop refused the read).
    ``fingerprint`` identifies the state the plan was made for: the step is only sent if the
    draft is still in it.
    """

    decision: str
    state: str
    fingerprint: str
    rel: str | None = None
    values: dict[str, Any] = field(default_factory=dict)
    reason: str = ""
    return_id: int | None = None


@dataclass(frozen=True)
class DraftStepInput:
    merchant: str
    draft_id: int
    rel: str
    values: dict[str, Any]
    fingerprint: str


@dataclass(frozen=True)
class DraftStepOutcome:
    """One navigator step: ``kind`` as for actions, plus ``stale`` (the draft had moved on: nothing sent)."""

    kind: str
    state: str | None = None
    draft_id: int | None = None
    stale: bool = False
    error: ErrorInfo | None = None


@dataclass(frozen=True)
class DraftResult:
    """How a draft flow ended: ``outcome`` is terminal / stopped / idle / unknown / failed / timed-out."""

    merchant: str
    draft_id: int | None
    outcome: str
    state: str | None = None
    return_id: int | None = None
    steps: list[str] = field(default_factory=list)
    reason: str = ""
    error: ErrorInfo | None = None
