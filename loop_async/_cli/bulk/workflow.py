"""``loop-async bulk ACTION --temporal HOST:PORT``: the bulk job as Temporal workflows, not run here.

Submits the rows (read and checked by :mod:`.input`) as ``loop-async.bulk`` workflows, follows
them, and writes the same outcome lines to the journal (plus ``merchant``); a re-run attaches
to its workflows and never submits an item twice (how: ``docs/temporal.md``). It sends nothing
to Loop itself: the workers do (``loop-async worker``, :mod:`loop_async._cli.temporal`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import sys
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

from loop_async._cli._common import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from loop_async._cli.bulk.input import BadRow, Row, input_format, read_records, reject, row_key, rows_to_do
from loop_async._cli.bulk.journal import Journal, now, read_done
from loop_async._cli.bulk.summary import status_line
from loop_async._cli.temporal import DEFAULT_TASK_QUEUE, temporal_missing

__all__ = ["add_bulk_options", "merchants_by_line", "run_bulk"]

_QUERY = timedelta(seconds=10)  # a query needs a worker; without one, say so instead of hanging


def add_bulk_options(parser: argparse.ArgumentParser) -> None:
    """The options ``loop-async bulk`` needs to submit a job to Temporal instead of running it."""
    group = parser.add_argument_group("Temporal (run the job on workers; see `loop-async worker`)")
    group.add_argument("--temporal", metavar="HOST:PORT", help="submit the job as a workflow to this Temporal server")
    group.add_argument("--namespace", default="default", help="Temporal namespace (default: %(default)s)")
    group.add_argument("--task-queue", default=DEFAULT_TASK_QUEUE, help="workers' task queue (default: %(default)s)")
    group.add_argument(
        "--merchant", default="default", help="the merchant (as the workers name it) of rows without a merchant column"
    )
    group.add_argument("--workflow-id", help="workflow id (default: derived from input, output and action)")
    group.add_argument(
        "--chunk",
        type=int,
        default=2000,
        help="items per workflow; a longer input runs as several in turn (default: %(default)s)",
    )


def _workflow_base_id(args: argparse.Namespace) -> str:
    if args.workflow_id:
        return str(args.workflow_id)
    seed = f"{args.action}\0{Path(args.input).resolve()}\0{Path(args.output).resolve()}\0{args.merchant}"
    return f"loop-async-bulk-{args.action}-{hashlib.sha256(seed.encode()).hexdigest()[:16]}"


def _no_check(fields: set[str]) -> str | None:
    return None  # the rows were checked already (read_rows)


def _merchant(line: int, value: Any) -> tuple[int, str]:
    return (line, str(value["merchant"])) if isinstance(value, dict) and value.get("merchant") else (line, "")


def merchants_by_line(path: Path, fmt: str) -> dict[int, str]:
    """The ``merchant`` column (CSV) or key (JSON lines) of each input line that has one."""
    found = read_records(path, fmt, header_problem=_no_check, parse=_merchant)
    return dict(entry for entry in found if not isinstance(entry, BadRow) and entry[1])


def _line(action: str, result: Any, row_args: dict[str, Any]) -> dict[str, Any]:
    record: dict[str, Any] = {
        "return_id": result.return_id,
        "action": action,
        "status": result.kind,
        "line": result.line,
        "merchant": result.merchant,
        **row_args,
    }
    if result.error is not None:
        info: dict[str, Any] = {"type": result.error.type, "code": result.error.code, "message": result.error.message}
        if result.error.status is not None:
            info["status"] = result.error.status
        record["error"] = info
    record["at"] = now()
    return record


async def _run_bulk(args: argparse.Namespace) -> int:
    from temporalio.client import Client, WorkflowFailureError, WorkflowQueryFailedError
    from temporalio.common import WorkflowIDConflictPolicy
    from temporalio.service import RPCError, RPCStatusCode

    from loop_async.temporal import BulkItem, BulkJobInput, BulkJobResult, BulkProgress, ErrorInfo, ItemResult

    action: str = args.action
    source, output = Path(args.input), Path(args.output)
    fmt = input_format(source, args.format)
    state = read_done(output, action, retry_failed=args.retry_failed, retry_unknown=args.retry_unknown)
    done = set(state.done)
    statuses: Counter[str] = Counter()
    rows_by_key: dict[tuple[int, int], Any] = {}

    def todo() -> list[Any] | None:
        rows, problems = [], []
        for entry in rows_to_do(source, fmt, action, args, done):
            if isinstance(entry, Row):
                rows.append(entry)
                rows_by_key[row_key(action, entry.line, entry.return_id)] = entry
            elif isinstance(entry, BadRow):
                problems.append(str(entry))
        if problems:
            reject(source, problems)
            return None
        return rows

    rows = todo()
    if rows is None:
        return EXIT_USAGE
    client = await Client.connect(args.temporal, namespace=args.namespace)
    base = _workflow_base_id(args)
    journal = Journal(output)  # on a fresh line after a torn one

    def write(result: ItemResult) -> None:
        key = row_key(action, result.line, result.return_id)
        if key in done:
            return  # already in the output (an earlier run of this command wrote it)
        done.add(key)
        statuses[result.kind] += 1
        row = rows_by_key.get(key)
        journal.write(_line(action, result, row.args() if row is not None else {}))

    async def items_of(handle: Any) -> list[BulkItem]:
        """The items a run was started with (its first history event's input)."""
        history = await handle.fetch_history()
        started = history.events[0].workflow_execution_started_event_attributes
        [job] = await client.data_converter.decode(started.input.payloads, [BulkJobInput])
        return list(job.items)

    async def follow(workflow_id: str) -> None:
        """Write the workflow's outcomes as they come, with progress lines, until it ends.

        A run that ended without a result (terminated, failed, timed out) may have sent any of
        its items that have no outcome: they are written ``unknown``, never submitted again.
        """
        handle = client.get_workflow_handle(workflow_id, result_type=BulkJobResult)
        seen = 0
        last_progress = ""

        async def poll() -> None:
            nonlocal seen, last_progress
            batch = await handle.query("outcomes", seen, result_type=list[ItemResult], rpc_timeout=_QUERY)
            for result in batch:
                write(result)
            seen += len(batch)
            progress = await handle.query("progress", result_type=BulkProgress, rpc_timeout=_QUERY)
            line = (
                f"progress: done={progress.done} total={progress.total} ok={progress.ok} "
                f"failed={progress.failed} unknown={progress.unknown} in_flight={progress.in_flight}"
            )
            if line != last_progress:
                print(line, file=sys.stderr, flush=True)
                last_progress = line

        result_task = asyncio.ensure_future(handle.result())
        try:
            # While it runs: outcomes as they finish, and progress (a finished run is read at once).
            while not result_task.done():
                with contextlib.suppress(asyncio.TimeoutError, WorkflowFailureError):
                    await asyncio.wait_for(asyncio.shield(result_task), timeout=args.progress_interval or 1.0)
                if result_task.done():
                    break
                try:
                    await poll()
                except (RPCError, WorkflowQueryFailedError):
                    # Not answerable (no worker, or the run just closed): its end says the rest.
                    with contextlib.suppress(asyncio.TimeoutError, WorkflowFailureError):
                        await asyncio.wait_for(asyncio.shield(result_task), timeout=_QUERY.total_seconds())
                    if not result_task.done():
                        raise
            try:
                final = result_task.result()
            except WorkflowFailureError as exc:
                print(f"workflow {workflow_id} ended without a result: {exc.cause or exc}", file=sys.stderr)
                with contextlib.suppress(RPCError, WorkflowQueryFailedError):
                    await poll()  # the outcomes it did finish
                why = "the workflow ended while this item may have been in flight"
                ended = ErrorInfo("WorkflowEnded", "workflow-ended", why)
                for item in await items_of(handle):
                    write(ItemResult(-1, item.merchant, item.return_id, item.line, "unknown", ended))
                return
            for result in final.results:
                write(result)
            kinds = Counter(result.kind for result in final.results)
            print(
                f"{workflow_id}: {len(final.results)} items, " + status_line(kinds),
                file=sys.stderr,
                flush=True,
            )
        finally:
            if not result_task.done():
                result_task.cancel()
                await asyncio.gather(result_task, return_exceptions=True)

    try:
        # Earlier runs of this command: take their outcomes (attach to one still running) first.
        run = 0
        while True:
            workflow_id = base if run == 0 else f"{base}-r{run}"
            try:
                description = await client.get_workflow_handle(workflow_id).describe()
            except RPCError as exc:
                if exc.status != RPCStatusCode.NOT_FOUND:
                    raise
                break
            status = description.status.name.lower() if description.status is not None else "unknown"
            print(f"attaching to {workflow_id} ({status})", file=sys.stderr)
            await follow(workflow_id)
            run += 1
        rows = [row for row in rows if row_key(action, row.line, row.return_id) not in done]
        merchant_of = merchants_by_line(source, fmt) if rows else {}
        while rows:
            chunk, rows = rows[: args.chunk], rows[args.chunk :]
            workflow_id = base if run == 0 else f"{base}-r{run}"
            items = [
                BulkItem(
                    merchant=merchant_of.get(row.line, args.merchant),
                    return_id=row.return_id,
                    reason=row.reason or args.reason,
                    text=row.text or args.text,
                    line_item_ids=row.line_item_ids,
                    line=row.line,
                )
                for row in chunk
            ]
            await client.start_workflow(
                "loop-async.bulk",
                BulkJobInput(action, items, concurrency=args.concurrency),
                id=workflow_id,
                task_queue=args.task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            )
            print(f"submitted {len(items)} items as workflow {workflow_id}", file=sys.stderr, flush=True)
            await follow(workflow_id)
            run += 1
    finally:
        journal.close()
    summary = status_line(statuses)
    print(f"done: {summary or 'nothing to do'}", file=sys.stderr)
    earlier = state.statuses["failed"] + state.statuses["unknown"]
    bad = statuses["failed"] + statuses["unknown"] + statuses["partial"]
    return EXIT_FAILED if bad or (earlier and not (args.retry_failed or args.retry_unknown)) else EXIT_OK


def run_bulk(args: argparse.Namespace) -> int:
    """``loop-async bulk ... --temporal``: submit the job as a workflow and write its outcomes."""
    try:
        from loop_async.temporal import RETURN_ACTIONS
    except ImportError:
        return temporal_missing()
    if args.action not in RETURN_ACTIONS:
        print(f"error: {args.action} does not run on Temporal (yet): run it without --temporal", file=sys.stderr)
        return EXIT_USAGE
    if not args.output:
        print("error: --output is required (it is also what makes a re-run resume)", file=sys.stderr)
        return EXIT_USAGE
    if args.chunk < 1 or args.concurrency < 1:
        print("error: --chunk and --concurrency must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    if not Path(args.input).is_file():
        print(f"error: input file {args.input} not found", file=sys.stderr)
        return EXIT_USAGE
    return asyncio.run(_run_bulk(args))
