"""A FastAPI service: one LoopClient for the app's lifetime, a webhook route, and ``process``
followed to ``return.closed``.

- The client is opened in the app's lifespan and closed on shutdown (one aiohttp session, one
  rate limiter for the whole app); routes reach it as ``app.state.loop``.
- ``POST /loop/webhooks`` checks Loop's signature over the raw body (401 when it is wrong) and
  dispatches the event; ``return.closed`` and ``return.processing.failed`` settle the return.
- ``POST /returns/{id}/process`` queues the processing (202); ``GET /returns/{id}?wait=30``
  answers when the webhook has said how it ended (or after ``wait`` seconds).

    python examples/fastapi_app.py                # against the embedded fake server (also: --fake)

    # against Loop (FastAPI and uvicorn: pip install fastapi uvicorn):
    LOOP_API_KEY=... LOOP_WEBHOOK_SECRET=... APP_PUBLIC_URL=https://wms.example.com \\
        uvicorn examples.fastapi_app:app --port 8080
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress

from fastapi import FastAPI, HTTPException, Request, Response

from loop_async import LoopAPIError, LoopClient, OutcomeUnknownError
from loop_async.models.webhook_events import ReturnEvent, ReturnProcessingEvent
from loop_async.webhooks import InvalidWebhookError, RetryLater, WebhookRouter, parse_event, verify_signature

WEBHOOK_PATH = "/loop/webhooks"
SUBSCRIPTIONS = (("return", "return.closed"), ("return.processing", "return.processing.failed"))


def create_app(
    *,
    secret: str | None = None,
    public_url: str | None = None,
    client_factory: Callable[[], LoopClient] = LoopClient,
) -> FastAPI:
    """The app. ``secret`` defaults to ``LOOP_WEBHOOK_SECRET``, ``public_url`` (where Loop reaches
    this app; the webhooks are subscribed at startup when it is set) to ``APP_PUBLIC_URL``, and the
    client to ``LoopClient()``, which reads ``LOOP_API_KEY`` and ``LOOP_BASE_URL``."""
    statuses: dict[int, str] = {}
    settled: defaultdict[int, asyncio.Event] = defaultdict(asyncio.Event)
    router = WebhookRouter()

    @router.on("return", trigger="return.closed")
    async def closed(event: ReturnEvent) -> None:
        statuses[event.return_id] = "closed"
        settled[event.return_id].set()

    @router.on("return.processing", trigger="return.processing.failed")
    async def failed(event: ReturnProcessingEvent) -> None:
        statuses[event.return_id] = f"failed: {event.message}"
        settled[event.return_id].set()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with client_factory() as loop:
            app.state.loop = loop
            url = public_url or os.environ.get("APP_PUBLIC_URL")
            if url:
                await subscribe(loop, url.rstrip("/") + WEBHOOK_PATH)
            yield

    app = FastAPI(title="returns desk", lifespan=lifespan)

    @app.post(WEBHOOK_PATH)
    async def loop_webhook(request: Request) -> Response:
        body = await request.body()  # the raw bytes: the signature is over them
        key = secret or os.environ["LOOP_WEBHOOK_SECRET"]
        if not verify_signature(key, body, request.headers.get("X-Loop-Signature")):
            return Response(status_code=401)
        try:
            event = parse_event(body)
        except InvalidWebhookError:
            return Response(status_code=400)  # signed, but not a webhook: Loop does not retry a 4xx
        try:
            await router.dispatch(event)
        except RetryLater as later:  # Loop delivers again after Retry-After
            return Response(status_code=503, headers={"Retry-After": str(int(later.retry_after or 60))})
        return Response(status_code=200)

    @app.post("/returns/{return_id}/process", status_code=202)
    async def process(return_id: int) -> dict[str, object]:
        loop: LoopClient = app.state.loop
        try:
            await loop.returns.process(return_id)
        except OutcomeUnknownError as exc:  # never re-sent: say so, and let a person check
            detail = f"unknown whether Loop processed it; check the return first ({exc.error})"
            raise HTTPException(502, detail) from exc
        except LoopAPIError as exc:
            raise HTTPException(502, f"Loop refused: {exc.code or exc.status} {exc.message}") from exc
        statuses[return_id] = "queued"
        return {"return_id": return_id, "status": "queued"}

    @app.get("/returns/{return_id}")
    async def status(return_id: int, wait: float = 0) -> dict[str, object]:
        if statuses.get(return_id) == "queued" and wait > 0:
            with suppress(asyncio.TimeoutError):
                await asyncio.wait_for(settled[return_id].wait(), min(wait, 60))
        return {"return_id": return_id, "status": statuses.get(return_id, "not processed here")}

    return app


async def subscribe(loop: LoopClient, url: str) -> None:
    """Make sure ``url`` receives the two webhooks (an existing subscription is kept)."""
    existing = {(str(hook.topic), str(hook.trigger)) for hook in await loop.webhooks.list() if hook.url == url}
    for topic, trigger in SUBSCRIPTIONS:
        if (topic, trigger) not in existing:
            await loop.webhooks.create(topic, trigger, url)


app = create_app()  # for `uvicorn examples.fastapi_app:app`


async def on_fake() -> str:
    """Serve the app with uvicorn on a free port, with the fake server as Loop; process one return."""
    import aiohttp
    import uvicorn

    from loop_async.testing import FakeLoopServer

    async with FakeLoopServer() as fake:
        listener = socket.create_server(("127.0.0.1", 0))  # bound first, so the URL is known before start
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        demo = create_app(
            secret=fake.webhook_secret,
            public_url=url,
            client_factory=lambda: LoopClient(fake.api_key, base_url=fake.url),
        )
        web = uvicorn.Server(uvicorn.Config(demo, log_level="warning", lifespan="on"))
        serving = asyncio.create_task(web.serve(sockets=[listener]))
        try:
            return_id = fake.seed_return()
            async with aiohttp.ClientSession(url) as http:
                async with http.post(f"/returns/{return_id}/process") as answer:
                    print(answer.status, await answer.json())
                async with http.get(f"/returns/{return_id}", params={"wait": "30"}) as answer:
                    result = await answer.json()
                    print(answer.status, result)
        finally:
            web.should_exit = True
            await serving
            listener.close()
        await fake.wait_idle()
    return str(result["status"])


if __name__ == "__main__":
    if set(sys.argv[1:]) - {"--fake"}:
        sys.exit(f"usage: python {sys.argv[0]} [--fake]; against Loop, run it with uvicorn (see the docstring)")
    sys.exit(0 if asyncio.run(on_fake()) == "closed" else 1)
