"""A Temporal worker that runs the Loop workflows and activities with a client pool.

::

    pool = build_pool(EnvKeys(), redis_url="redis://redis:6379/0")   # one budget per key, all workers
    async with pool, create_worker(temporal_client, "loop", pool):
        await stop_event.wait()
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from temporalio.client import Client
from temporalio.worker import Replayer, Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from loop_async.bulk import ClientPool
from loop_async.ratelimit import RateLimiter
from loop_async.temporal._types import merchant_queue
from loop_async.temporal.activities import LoopActivities
from loop_async.temporal.keys import KeyProvider, resolve_keys
from loop_async.temporal.policies import DraftPolicy
from loop_async.temporal.workflows import BulkWorkflow, DraftReturnWorkflow

__all__ = [
    "WORKFLOWS",
    "build_pool",
    "create_merchant_workers",
    "create_replayer",
    "create_worker",
    "redis_bucket",
    "workflow_runner",
]

WORKFLOWS = (BulkWorkflow, DraftReturnWorkflow)


def workflow_runner() -> SandboxedWorkflowRunner:
    """Temporal's sandbox, with the SDK (and orjson, a C extension) passed through, not re-imported.

    The workflows only use the SDK's plain data types; re-importing the whole package in every
    sandbox is wasted work, and re-importing orjson there crashes CPython 3.13.
    """
    restrictions = SandboxRestrictions.default.with_passthrough_modules("loop_async", "orjson")
    return SandboxedWorkflowRunner(restrictions=restrictions)


def create_replayer(**options: Any) -> Replayer:
    """A :class:`temporalio.worker.Replayer` of the Loop workflows, with the same sandbox as the workers."""
    return Replayer(workflows=list(WORKFLOWS), workflow_runner=workflow_runner(), **options)


def redis_bucket(merchant: str, prefix: str = "loop:ratelimit:") -> str:
    """The Redis key of ``merchant``'s shared budget (named by merchant, never by API key)."""
    return prefix + merchant


def build_pool(
    keys: KeyProvider | Mapping[str, str],
    *,
    redis_url: str | None = None,
    rate_limit: float | None = 300,
    redis_prefix: str = "loop:ratelimit:",
    **client_options: Any,
) -> ClientPool:
    """A :class:`~loop_async.bulk.pool.ClientPool` with every merchant of ``keys``.

    With ``redis_url`` each merchant's ``rate_limit`` (requests per minute) is one
    :class:`~loop_async.ratelimit.redis.RedisRateLimiter` bucket shared by every worker on every
    machine, which is what keeps a key under Loop's limit however many workers run. Without it
    each worker has its own limiter at ``rate_limit``: give each worker its share then
    (``None`` or 0: no client-side limit).
    """
    api_keys = dict(keys) if isinstance(keys, Mapping) else resolve_keys(keys)
    factory = None
    if redis_url is not None and rate_limit:
        from loop_async.ratelimit.redis import RedisRateLimiter

        def factory(merchant: str) -> RateLimiter:
            return RedisRateLimiter(redis_url, redis_bucket(merchant, redis_prefix), rate_limit)

    return ClientPool(api_keys, rate_limit=rate_limit, limiter_factory=factory, **client_options)


def create_worker(
    client: Client,
    task_queue: str,
    pool: ClientPool,
    *,
    policies: Mapping[str, DraftPolicy] | None = None,
    heartbeat_every: float = 1.0,
    **worker_options: Any,
) -> Worker:
    """A :class:`temporalio.worker.Worker` on ``task_queue`` with both workflows and every activity.

    ``policies`` adds named draft policies to the defaults (``auto``, ``approve-submit``);
    ``worker_options`` go to the ``Worker`` (e.g. ``max_concurrent_activities``, ``identity``).
    The caller closes ``pool`` after the worker has shut down.
    """
    activities = LoopActivities(pool, policies=policies, heartbeat_every=heartbeat_every)
    # Eager dispatch would run a job's activities on the worker that runs its workflow: off, so
    # every worker on the queue shares them.
    worker_options.setdefault("disable_eager_activity_execution", True)
    worker_options.setdefault("workflow_runner", workflow_runner())
    return Worker(
        client,
        task_queue=task_queue,
        workflows=list(WORKFLOWS),
        activities=activities.all(),
        **worker_options,
    )


def create_merchant_workers(
    client: Client,
    task_queue: str,
    pool: ClientPool,
    *,
    per_minute: float,
    heartbeat_every: float = 1.0,
    **worker_options: Any,
) -> list[Worker]:
    """One activity-only worker per merchant of ``pool``, on :func:`~._types.merchant_queue`.

    For jobs with ``queue_per_merchant``: Temporal's server then dispatches at most
    ``per_minute`` activities a minute from each merchant's queue, across every worker that
    polls it (``max_task_queue_activities_per_second``). That bounds *activities*, not requests:
    see ``docs/temporal.md`` ("Per-key rate across workers") for why the Redis limiter is the default.
    """
    activities = LoopActivities(pool, heartbeat_every=heartbeat_every)
    return [
        Worker(
            client,
            task_queue=merchant_queue(task_queue, merchant),
            activities=activities.all(),
            max_task_queue_activities_per_second=per_minute / 60,
            **worker_options,
        )
        for merchant in pool
    ]
