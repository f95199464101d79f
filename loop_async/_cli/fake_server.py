"""``loop-async fake-server``: run the fake Loop API until interrupted, logging each request."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from loop_async.testing import FakeLoopServer

__all__ = ["register", "run", "serve"]


def register(subparsers: Any) -> None:
    """Add the ``fake-server`` subcommand."""
    parser = subparsers.add_parser(
        "fake-server",
        help="run the embedded fake Loop API",
        description="Serve a fake Loop API (seeded orders, returns, draft returns, webhooks) until Ctrl-C.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port (default 8080; 0 picks a free one)")
    parser.add_argument("--orders", type=int, default=50, help="number of seeded orders (default 50)")
    parser.add_argument(
        "--seed", type=int, default=0, metavar="N", help="create N open returns and print their ids (default 0)"
    )
    parser.add_argument("--data-seed", type=int, default=0, help="seed of the deterministic data (default 0)")
    parser.add_argument("--rate-limit", type=int, default=None, help="requests per minute per key (default: off)")
    parser.add_argument("--webhook-secret", default="whsec_test", help="secret that signs webhook deliveries")
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="SPEC",
        help="inject a fault (repeatable), e.g. 'slow_after_read,route=POST /warehouse/return/{return_id}/process,"
        "times=5,delay=3' (kinds: loop_async.testing.faults)",
    )
    parser.set_defaults(handler=run)


async def serve(args: argparse.Namespace, on_started: Callable[[FakeLoopServer], None] | None = None) -> None:
    """Run the server described by ``args`` until cancelled; ``on_started`` gets it once it listens."""
    from loop_async.testing import FakeLoopServer

    server = FakeLoopServer(
        host=args.host,
        port=args.port,
        orders=args.orders,
        seed=args.data_seed,
        rate_limit_per_minute=args.rate_limit,
        webhook_secret=args.webhook_secret,
    )
    async with server:
        for spec in args.fault:
            server.faults.inject_spec(spec)
        first = server.orders[0]
        seeded = [server.seed_return() for _ in range(args.seed)]
        print(
            f"fake Loop API at {server.api_root}\n"
            f"  api key: {server.api_key}   e.g. order {first.name}, zip {first.zip}\n"
            "  Ctrl-C to stop",
            file=sys.stderr,
            flush=True,
        )
        if seeded:
            # On stdout, one id a line: `loop-async fake-server --seed 100 > ids.txt` is a bulk input.
            print("return_id", *seeded, sep="\n", flush=True)
            print(
                f"  {len(seeded)} open returns created (ids on stdout); orders for draft returns: "
                + ", ".join(f"{o.name} (zip {o.zip})" for o in server.orders[:3]),
                file=sys.stderr,
                flush=True,
            )
        if on_started is not None:
            on_started(server)
        await asyncio.Event().wait()  # until cancelled (Ctrl-C)


async def _serve_until_signalled(args: argparse.Namespace) -> None:
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    if task is not None:
        # SIGTERM (docker stop, kill) stops as cleanly as Ctrl-C: the server's context exits.
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGTERM, task.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        try:
            await serve(args)
        except OSError as exc:
            # e.g. the port is taken: one line, not a traceback.
            raise _CannotListen(f"error: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted (Ctrl-C or SIGTERM)."""
    from loop_async.testing.faults import parse_fault_spec

    for spec in args.fault:  # refused before the server starts, with the reason
        try:
            parse_fault_spec(spec)
        except ValueError as exc:
            print(f"error: --fault {spec!r}: {exc}", file=sys.stderr)
            return 2
    if args.seed < 0:
        print("error: --seed must be 0 or more", file=sys.stderr)
        return 2
    # Each request is logged at INFO whatever the global verbosity: that is this command's output.
    request_logger = logging.getLogger("loop_async.testing")
    level = request_logger.level
    request_logger.setLevel(logging.INFO)
    if not logging.getLogger().handlers:
        logging.basicConfig(stream=sys.stderr, format="%(asctime)s %(message)s")
    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_serve_until_signalled(args))
    except _CannotListen as exc:
        print(exc, "(choose another --port, or 0 for a free one)", file=sys.stderr)
        return 2
    finally:
        request_logger.setLevel(level)  # in-process callers (tests) get their logging back
    return 0


class _CannotListen(Exception):
    """The server could not start listening; its message is the whole report."""
