"""A 3PL confirms receipt of a return: ``process`` it, then wait for the signed ``return.closed``.

``process`` only *queues* the work at Loop; the outcome arrives later as a webhook
(``return.closed``, or ``return.processing.failed`` with a message). So the 3PL serves a webhook
endpoint, subscribes it, processes the return, and waits for one of the two.

    python examples/confirm_receipt.py            # against the embedded fake server (also: --fake)

    # against Loop: a key with the Returns and Developer Tools scopes, a public URL that reaches
    # this machine's --port, and the webhook secret Loop shows for your account:
    LOOP_API_KEY=... LOOP_WEBHOOK_SECRET=... python examples/confirm_receipt.py \\
        --return-id 123 --public-url https://wms.example.com/loop/webhooks --port 8080
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from aiohttp import web

from loop_async import LoopClient
from loop_async.models.webhook_events import ReturnEvent, ReturnProcessingEvent
from loop_async.webhooks import WebhookRouter, webhook_handler

PATH = "/loop/webhooks"


async def confirm_receipt(
    loop: LoopClient, return_id: int, *, secret: str, port: int = 0, public_url: str | None = None, timeout: float = 600
) -> str:
    """Process ``return_id`` and wait for its outcome; returns ``"closed"`` or raises ``RuntimeError``."""
    outcome: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    router = WebhookRouter()

    @router.on("return", trigger="return.closed")
    async def closed(event: ReturnEvent) -> None:
        if event.return_id == return_id and not outcome.done():
            outcome.set_result("closed")

    @router.on("return.processing", trigger="return.processing.failed")
    async def failed(event: ReturnProcessingEvent) -> None:
        if event.return_id == return_id and not outcome.done():
            outcome.set_exception(RuntimeError(f"processing failed: {event.message}"))

    app = web.Application()
    app.router.add_post(PATH, webhook_handler(router, secret))  # a bad signature gets 401
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1" if public_url is None else "0.0.0.0", port).start()
        host, bound = runner.addresses[0][:2]
        url = public_url or f"http://{host}:{bound}{PATH}"
        hook = await loop.webhooks.create("return", "return.closed", url)
        failed_hook = await loop.webhooks.create("return.processing", "return.processing.failed", url)
        try:
            result = await loop.returns.process(return_id)  # never re-sent by the SDK: see "Reliability"
            print(f"return {return_id}: process queued={result.queued}; waiting for the webhook")
            return await asyncio.wait_for(outcome, timeout)
        finally:
            for subscription in (hook, failed_hook):
                await loop.webhooks.delete(subscription.id)
    finally:
        await runner.cleanup()


async def on_fake() -> None:
    from loop_async.testing import FakeLoopServer

    async with FakeLoopServer() as server:
        return_id = server.seed_return()  # the parcel that arrived at the dock
        async with LoopClient(server.api_key, base_url=server.url) as loop:
            state = await confirm_receipt(loop, return_id, secret=server.webhook_secret, timeout=30)
            ret = await loop.returns.get(return_id=return_id)
        print(f"return {return_id}: {state} (its state at Loop: {ret.state and ret.state.value})")
        await server.wait_idle()


async def on_loop(args: argparse.Namespace) -> None:
    async with LoopClient() as loop:  # LOOP_API_KEY (and LOOP_BASE_URL, if set)
        state = await confirm_receipt(
            loop, args.return_id, secret=os.environ["LOOP_WEBHOOK_SECRET"], port=args.port, public_url=args.public_url
        )
        print(f"return {args.return_id}: {state}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--fake", action="store_true", help="run against the embedded fake server (the default)")
    parser.add_argument("--return-id", type=int, help="the return to process (against Loop)")
    parser.add_argument("--public-url", help="the URL Loop delivers webhooks to")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args(argv)
    if args.fake or args.return_id is None:
        asyncio.run(on_fake())
    elif args.public_url is None:
        parser.error("--public-url is needed against Loop (it must reach --port on this machine)")
    else:
        asyncio.run(on_loop(args))


if __name__ == "__main__":
    main(sys.argv[1:])
