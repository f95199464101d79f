"""Bulk jobs: one coroutine per input item, a bounded window in flight, one outcome per item.

::

    async with LoopClient(api_key) as loop:
        async with bulk.run(return_ids, loop.returns.process, concurrency=8) as job:
            async for outcome in job:
                print(outcome.item, outcome.ok)
        print(job.report)

The facade: :mod:`~loop_async.bulk.job` runs one job, :mod:`~loop_async.bulk.pool` one job per
merchant key, :mod:`~loop_async.bulk.job_options` holds their options and
:mod:`~loop_async.bulk.outcomes` what they report. The guide: ``docs/bulk.md``.
"""

from __future__ import annotations

from loop_async._sansio.outcome import OutcomeKind
from loop_async.bulk.job import BulkJob, finish_tasks, run, run_all
from loop_async.bulk.job_options import DEFAULT_CONCURRENCY as DEFAULT_CONCURRENCY
from loop_async.bulk.job_options import JobOptions, JobSettings, PoolSettings, ProgressCallback, StopPredicate
from loop_async.bulk.outcomes import JobReport, Outcome, Progress, without_frames
from loop_async.bulk.pool import ClientPool, PoolJob

__all__ = [
    "BulkJob",
    "ClientPool",
    "JobOptions",
    "JobReport",
    "JobSettings",
    "Outcome",
    "OutcomeKind",
    "PoolJob",
    "PoolSettings",
    "Progress",
    "ProgressCallback",
    "StopPredicate",
    "finish_tasks",
    "run",
    "run_all",
    "without_frames",
]
