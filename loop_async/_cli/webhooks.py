"""``loop-async webhooks listen``: receive Loop's webhooks and print each verified event.

It runs :func:`loop_async.webhooks.webhook_handler` on ``--host``/``--port`` at ``--path``
with the secret read from the environment variable named by ``--secret-env`` (never a flag).
Every event whose signature checks out is printed to stdout as one JSON line (the body as Loop
sent it); rejected deliveries are logged on stderr. Stop it with Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
from collections.abc import Callable
from typing import IO, Any

from aiohttp import web
from yarl import URL

from loop_async._cli._common import EXIT_OK, EXIT_USAGE, add_subcommand, run_async
from loop_async._sansio import json as _json
from loop_async.webhooks import WebhookEvent, WebhookRouter, webhook_handler

__all__ = ["register", "serve"]


async def serve(
    args: argparse.Namespace, stdout: IO[str], stderr: IO[str], started: Callable[[URL], None] | None = None
) -> int:
    """Run the receiver until cancelled; ``started`` is called with its URL once it listens."""
    secret = os.environ.get(args.secret_env, "")
    if not secret:
        stderr.write(f"loop-async webhooks listen: the environment variable {args.secret_env} is empty or unset\n")
        return EXIT_USAGE
    router = WebhookRouter()

    @router.on_any()
    async def print_event(event: WebhookEvent) -> None:
        stdout.write(_json.dumps(event.raw).decode("utf-8") + "\n")
        stdout.flush()

    app = web.Application()
    app.router.add_post(args.path, webhook_handler(router, secret))
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, args.host, args.port)
        await site.start()
        host, port = runner.addresses[0][:2]
        url = URL.build(scheme="http", host=host, port=port, path=args.path)
        stderr.write(f"listening on {url} (Ctrl-C to stop)\n")
        stderr.flush()
        if started is not None:
            started(url)
        await asyncio.Event().wait()  # until cancelled
    finally:
        await runner.cleanup()
    return EXIT_OK  # pragma: no cover - only reached through cancellation


def register(subparsers: Any) -> None:
    """Add ``webhooks`` (with ``listen``) to the ``loop-async`` parser."""
    listen = add_subcommand(
        subparsers,
        "webhooks",
        "receive Loop's webhooks",
        __doc__,
        "listen",
        help="run a receiver and print verified events as JSON lines",
    )
    listen.add_argument("--port", type=int, required=True, help="TCP port (0: any free port)")
    listen.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s)")
    listen.add_argument("--path", default="/webhooks", help="URL path Loop posts to (default: %(default)s)")
    listen.add_argument(
        "--secret-env", required=True, metavar="VAR", help="environment variable holding the webhook secret"
    )
    listen.set_defaults(handler=functools.partial(run_async, serve, interrupted=EXIT_OK))
