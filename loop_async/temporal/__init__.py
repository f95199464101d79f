"""Bulk jobs and draft-return flows as Temporal workflows (extra ``temporal``: ``pip install 'loop-async[temporal]'``).

Nothing else in the SDK imports this package. See the Temporal guide, ``docs/temporal.md``.
"""

from __future__ import annotations

from loop_async.temporal._types import (
    ActionInput,
    ActionOutcome,
    AssessInput,
    AssessItem,
    BulkItem,
    BulkJobInput,
    BulkJobResult,
    BulkProgress,
    DraftInput,
    DraftResult,
    ErrorInfo,
    ItemResult,
    merchant_queue,
)
from loop_async.temporal.activities import RETURN_ACTIONS, LoopActivities
from loop_async.temporal.keys import CallableKeys, EnvKeys, FileKeys, KeyProvider
from loop_async.temporal.policies import DEFAULT_POLICIES, DraftPolicy, Wait, auto_policy, require_signal
from loop_async.temporal.worker import (
    WORKFLOWS,
    build_pool,
    create_merchant_workers,
    create_replayer,
    create_worker,
    workflow_runner,
)
from loop_async.temporal.workflows import BulkWorkflow, DraftReturnWorkflow

__all__ = [
    "DEFAULT_POLICIES",
    "RETURN_ACTIONS",
    "WORKFLOWS",
    "ActionInput",
    "ActionOutcome",
    "AssessInput",
    "AssessItem",
    "BulkItem",
    "BulkJobInput",
    "BulkJobResult",
    "BulkProgress",
    "BulkWorkflow",
    "CallableKeys",
    "DraftInput",
    "DraftPolicy",
    "DraftResult",
    "DraftReturnWorkflow",
    "EnvKeys",
    "ErrorInfo",
    "FileKeys",
    "ItemResult",
    "KeyProvider",
    "LoopActivities",
    "Wait",
    "auto_policy",
    "build_pool",
    "create_merchant_workers",
    "create_replayer",
    "create_worker",
    "merchant_queue",
    "require_signal",
    "workflow_runner",
]
