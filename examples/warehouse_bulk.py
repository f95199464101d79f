"""A warehouse's overnight job: process many returns, and say what became of each one.

Every item ends in one of the SDK's outcome kinds: ``ok`` (Loop queued it), ``failed`` (nothing
happened: safe to run again) or ``unknown`` (it may have happened: check the return before
trying again; Loop has no idempotency key, so the SDK never re-sends it on its own).

    python examples/warehouse_bulk.py             # against the embedded fake server (also: --fake)

    # against Loop (a key with the Returns scope); ids one per line:
    LOOP_API_KEY=... python examples/warehouse_bulk.py --input ids.txt

On the fake server one return is flagged (Loop refuses to process it: ``failed``) and one
request is answered 504 while the server still acts on it (``unknown``). For a job you can
resume after a crash, use the command line instead: ``loop-async bulk process --input ids.csv
--output out.jsonl`` (see "Bulk jobs").
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from loop_async import LoopClient, RetryPolicy, bulk
from loop_async.bulk import OutcomeKind


async def process_all(loop: LoopClient, return_ids: Iterable[int], *, concurrency: int = 8) -> Counter[str]:
    """Process every return; print one line per outcome and return the count of each kind."""
    kinds: Counter[str] = Counter()
    async with bulk.run(return_ids, loop.returns.process, concurrency=concurrency) as job:
        async for outcome in job:
            kinds[outcome.kind.value] += 1
            if outcome.kind is OutcomeKind.OK:
                print(f"{outcome.item}: ok")
            elif outcome.kind is OutcomeKind.FAILED:
                print(f"{outcome.item}: failed, nothing happened ({outcome.error}); safe to run again")
            else:
                print(f"{outcome.item}: {outcome.kind.value}, it may have happened ({outcome.error}); check it first")
    print(f"{job.report.started} started: " + ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items())))
    return kinds


async def on_fake() -> Counter[str]:
    from loop_async.testing import FakeLoopServer

    async with FakeLoopServer() as server:
        return_ids = [server.seed_return() for _ in range(10)]
        async with LoopClient(
            server.api_key, base_url=server.url, retry_policy=RetryPolicy(backoff_base=0.01, backoff_max=0.1)
        ) as loop:
            await loop.returns.flag(return_ids[3])  # a flagged return: Loop refuses to process it
            # One process request is answered 504 at once, and Loop acts on it a moment later.
            server.faults.inject("late_effect", route="POST /warehouse/return/{return_id}/process", delay=0.2)
            kinds = await process_all(loop, return_ids)
        await server.wait_idle()
        processed = sum(server.side_effects[("process", return_id)] for return_id in return_ids)
        print(f"the fake server processed {processed} of {len(return_ids)} returns (each at most once)")
        return kinds


async def on_loop(ids: list[int]) -> Counter[str]:
    async with LoopClient() as loop:  # LOOP_API_KEY; paced at Loop's 300 requests per minute
        return await process_all(loop, ids)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Process returns in bulk and report each outcome.")
    parser.add_argument("--fake", action="store_true", help="run against the embedded fake server (the default)")
    parser.add_argument("--input", type=Path, help="a file of return ids, one per line (against Loop)")
    args = parser.parse_args(argv)
    if args.fake or args.input is None:
        asyncio.run(on_fake())  # the failed and unknown items are the demonstration
        return 0
    kinds = asyncio.run(on_loop([int(line) for line in args.input.read_text().split()]))
    return 0 if set(kinds) <= {"ok"} else 1  # like `loop-async bulk`: 1 when any item was not ok


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
