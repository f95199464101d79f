"""WebhookRouter and RetryLater: dispatch by topic and trigger, and events whose payload drifted."""

from __future__ import annotations

import pytest

from loop_async.models.webhook_events import WebhookTopic, WebhookTrigger
from loop_async.webhooks import RetryLater, ReturnEvent, UnknownWebhookEvent, WebhookEvent, WebhookRouter, parse_event
from tests.webhooks._support import BODY, DRIFTED, typed_return_handler

# -- router --------------------------------------------------------------------------------


async def test_router_dispatches_by_topic_and_trigger_in_order() -> None:
    router = WebhookRouter()
    seen: list[str] = []

    @router.on("return", trigger="return.closed")
    async def closed(event: ReturnEvent) -> None:
        seen.append(f"closed:{event.return_id}")

    @router.on(WebhookTopic.RETURN)
    async def any_return(event: ReturnEvent) -> None:
        seen.append(f"return:{event.trigger}")

    @router.on("return", trigger=WebhookTrigger.RETURN_CREATED)
    async def created(event: ReturnEvent) -> None:
        seen.append("created")

    @router.on_any()
    async def everything(event: WebhookEvent) -> None:
        seen.append(f"any:{event.topic}")

    ran = await router.dispatch(parse_event(BODY))
    assert ran == 3
    assert seen == ["closed:1", "return:return.closed", "any:return"]
    seen.clear()
    assert await router.dispatch(parse_event(b'{"topic":"label","trigger":"label.created"}')) == 1
    assert seen == ["any:label"]


async def test_router_with_no_match_runs_nothing() -> None:
    router = WebhookRouter()
    assert await router.dispatch(parse_event(BODY)) == 0


def test_router_rejects_bad_registrations() -> None:
    router = WebhookRouter()
    with pytest.raises(ValueError, match="topic"):
        router.on("")
    with pytest.raises(ValueError, match="trigger"):
        router.on("return", trigger="")
    with pytest.raises(TypeError):
        router.on("return")(42)  # type: ignore[arg-type]


def test_retry_later_validates_and_caps() -> None:
    assert RetryLater(0.2).header_value == "1"
    assert RetryLater(120).header_value == "120"
    assert RetryLater(10**6).header_value == "1800"
    for bad in (-1, float("nan"), float("inf"), True, "5"):
        with pytest.raises(ValueError, match="retry_after"):
            RetryLater(bad)  # type: ignore[arg-type]


# -- schema drift (issue 12, point 15) ---------------------------------------------------------


async def test_an_undecodable_event_skips_its_topic_handlers_and_reaches_the_fallback() -> None:
    router = WebhookRouter()
    typed = typed_return_handler(router)
    order: list[str] = []

    @router.on_undecodable()
    async def drifted(event: UnknownWebhookEvent) -> None:
        order.append(f"fallback:{event.raw['shop_id']}:{event.decode_error is not None}")

    @router.on_any()
    async def everything(event: WebhookEvent) -> None:
        order.append(f"any:{type(event).__name__}")

    event = parse_event(DRIFTED)
    assert router.handlers_for(event) == [drifted, everything]
    assert await router.dispatch(event) == 2
    assert typed == [] and order == ["fallback:9:True", "any:UnknownWebhookEvent"]
    # A well-formed event still goes to its typed handler, never to the fallback.
    order.clear()
    assert await router.dispatch(parse_event(BODY)) == 2
    assert typed == [1] and order == ["any:ReturnEvent"]


async def test_an_unknown_topic_still_reaches_its_own_handlers() -> None:
    # No typed class exists for it, so nobody expects one: it is not "undecodable".
    router = WebhookRouter()
    seen: list[UnknownWebhookEvent] = []

    @router.on("ship-by-loop")
    async def ship(event: UnknownWebhookEvent) -> None:
        seen.append(event)

    @router.on_undecodable()
    async def drifted(event: UnknownWebhookEvent) -> None:
        raise AssertionError("not a drifted event")

    assert await router.dispatch(parse_event(b'{"topic":"ship-by-loop","trigger":"x.requested"}')) == 1
    assert len(seen) == 1 and seen[0].decode_error is None
