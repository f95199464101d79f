"""A warehouse's day with one return: receive → grade → assess → process → ``return.closed``.

Runs against the embedded fake Loop server (``python examples/warehouse_walkthrough.py``);
against Loop itself the same calls apply, with your own key, base URL and webhook endpoint.

1. Subscribe to ``return.closed`` and serve a webhook endpoint (signature checked).
2. Receive: a return arrives (seeded on the fake server); read its line items.
3. Grade each item's condition, then assess its disposition (batches of 30 are handled for you).
4. Process the return: Loop *queues* it; the outcome arrives as the ``return.closed`` webhook.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from typing import Any

from aiohttp import web

from loop_async import LoopClient
from loop_async.models.webhook_events import ReturnEvent
from loop_async.resources.dispositions import Assessment, Grading
from loop_async.testing import FakeLoopServer
from loop_async.webhooks import WebhookRouter, webhook_handler

PROCESSOR = "dock-3@warehouse.example.com"


async def walkthrough(server: FakeLoopServer) -> dict[str, Any]:
    """The walk-through against a started fake server; returns what happened, for the test."""
    closed = asyncio.Event()
    events: list[ReturnEvent] = []
    router = WebhookRouter()

    @router.on("return", trigger="return.closed")
    async def on_closed(event: ReturnEvent) -> None:
        events.append(event)
        closed.set()

    # 1. A webhook endpoint (on loopback here) and the subscription.
    app = web.Application()
    app.router.add_post("/loop/webhooks", webhook_handler(router, server.webhook_secret))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        async with LoopClient(server.api_key, base_url=server.url) as loop:
            await loop.webhooks.create("return", "return.closed", f"http://{host}:{port}/loop/webhooks")

            # 2. Receive: the customer's parcel arrives; find its return and line items.
            order = server.orders[0]
            return_id = server.seed_return(order.name, line_item_ids=[li.id for li in order.eligible_line_items])
            ret = await loop.returns.get(return_id=return_id)
            line_items = [item.line_item_id for item in ret.line_items if item.line_item_id is not None]
            print(f"received return {ret.id} of order {ret.order_name}: line items {line_items}")

            # 3. Inspect: grade the condition, then decide the disposition.
            inspected = datetime.now(timezone.utc)
            grades = await loop.dispositions.grade(
                [
                    Grading(
                        line_item_id=line_item,
                        description="Grade A: no refurbishment needed",
                        condition_category="grade_a",
                        return_processor=PROCESSOR,
                        inspected_at=inspected,
                    )
                    for line_item in line_items
                ]
            )
            assessments = await loop.dispositions.assess(
                [
                    Assessment(
                        line_item_id=line_item,
                        outcome="back_to_stock",
                        return_processor=PROCESSOR,
                        note="bagged and tagged",
                        inspected_at=inspected,
                    )
                    for line_item in line_items
                ]
            )
            for name, batches in (("grade", grades.batches), ("assess", assessments.batches)):
                for batch in batches:
                    print(f"{name} batch {batch.index}: {batch.outcome.value} ({len(batch.items)} items)")
            if not (grades.ok and assessments.ok):
                raise SystemExit("some items were not graded or assessed; see the batches above")

            # 4. Process: queued, not finished. The webhook says when it is done.
            result = await loop.returns.process(return_id)
            print(f"process: queued={result.queued}")
            await asyncio.wait_for(closed.wait(), timeout=30)
            after = await loop.returns.get(return_id=return_id)
            print(f"return.closed received; state {after.state}")
    finally:
        await runner.cleanup()
    return {
        "return_id": return_id,
        "line_items": line_items,
        "graded": [g.line_item_id for g in grades.results],
        "assessed": [a.line_item_id for a in assessments.results],
        "closed_event": events[0],
        "final": after,
    }


async def main() -> None:
    async with FakeLoopServer() as server:
        await walkthrough(server)
        await server.wait_idle()


if __name__ == "__main__":
    asyncio.run(main())
