"""Return actions: process (queued, finishing in the background), remove, cancel, close, flag, notes.

Every handler reads its raw body first (its only ``await``), then checks, parses and mutates:
two concurrent requests cannot both pass a check the first one's change fails. Each effect is
counted in ``side_effects[(action, return_id)]``, the tests' "at most once" oracle.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Any

from aiohttp import web

from loop_async.testing.error_bodies import LoopHTTPError, action_error, json_response, validation_error
from loop_async.testing.handlers._request import Route, int_param, parse_object
from loop_async.testing.store import FakeNote, FakeReturn, Store
from loop_async.testing.webhook_payloads import giftcard_payload, restock_payload, return_payload
from loop_async.testing.webhook_sender import WebhookDispatcher

__all__ = ["CLOSED_STATES", "ReturnActions"]

CLOSED_STATES = frozenset({"closed", "cancelled", "expired"})


class ReturnActions:
    """The ``/warehouse/return/{id}/...`` actions, and the queued processing they start."""

    def __init__(
        self,
        store: Store,
        dispatcher: WebhookDispatcher,
        side_effects: Counter[tuple[str, int]],
        processing_delay: Callable[[], float | None],
    ) -> None:
        self.store = store
        self.dispatcher = dispatcher
        self.side_effects = side_effects
        self._processing_delay = processing_delay
        self.fail_next: dict[int, str | None] = {}
        self.processing_released = asyncio.Event()
        self.tasks: set[asyncio.Task[None]] = set()

    def routes(self, scope: str) -> list[Route]:
        """The routes, all needing ``scope``."""
        return [
            ("POST", "/warehouse/return/{return_id}/process", scope, self._process),
            ("POST", "/warehouse/return/{return_id}/remove", scope, self._remove),
            ("POST", "/warehouse/return/{return_id}/cancel", scope, self._cancel),
            ("POST", "/warehouse/return/{return_id}/close", scope, self._close),
            ("POST", "/warehouse/return/{return_id}/flag", scope, self._flag),
            ("GET", "/warehouse/return/{return_id}/notes", scope, self._list_notes),
            ("POST", "/warehouse/return/{return_id}/note", scope, self._create_note),
        ]

    def emit_return(self, trigger: str, ret: FakeReturn) -> None:
        """Send the ``return`` webhook ``trigger`` for ``ret``."""
        self.dispatcher.emit("return", trigger, return_payload(ret, self.store.clock()))

    def set_state(self, ret: FakeReturn, state: str) -> None:
        """Move ``ret`` to ``state`` now."""
        ret.state = state
        ret.updated_at = self.store.clock()

    # -- background processing ---------------------------------------------------------------

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _complete_processing(self, ret: FakeReturn) -> None:
        """Finish a queued processing: close the return, unless it changed while queued.

        A return cancelled, closed or flagged meanwhile keeps that state: the processing is
        dropped and, as for any failed processing, a ``return.processing.failed`` webhook says why.
        """
        # Queued: finishes after the 200 was sent, after the delay or when the test says so.
        delay = self._processing_delay()
        if delay is None:
            await self.processing_released.wait()
        else:
            await asyncio.sleep(delay)
        ret.processing = False
        failing = ret.id in self.fail_next
        message = self.fail_next.pop(ret.id, None)
        if ret.state != "open" or ret.flagged:
            failing = True
            why = "flagged for review" if ret.flagged else ret.state
            message = f"Return {ret.id} is {why}; processing was dropped."
        if failing:
            payload = {"return_id": ret.id, "return_state": ret.state, "message": message, "source": "api"}
            self.dispatcher.emit("return.processing", "return.processing.failed", payload)
            return
        self.set_state(ret, "closed")
        self.emit_return("return.closed", ret)
        # What Loop sends when processing finishes (when the shop restocks by webhook, and
        # uses a third-party gift card provider).
        self.dispatcher.emit("restock", "restock.requested", restock_payload(ret))
        if ret.credit_type == "gift":
            gift_card_id = self.store.next_id("gift_card")
            self.dispatcher.emit("giftcard", "giftcard.requested", giftcard_payload(ret, gift_card_id))

    # -- lookups -----------------------------------------------------------------------------

    def _find_return(self, request: web.Request) -> FakeReturn:
        return_id = int_param(request, "return_id")
        ret = self.store.returns.get(return_id)
        if ret is None:
            # As Loop does: status 200, an error body without a code.
            raise LoopHTTPError(200, {"errors": {"message": "No return found with this ID."}})
        return ret

    def _actionable(self, request: web.Request) -> FakeReturn:
        ret = self._find_return(request)
        if ret.state in CLOSED_STATES:
            # Loop refuses actions on a closed, cancelled or expired return with status 200.
            raise action_error(200, "UNPROCESSABLE_RETURN", f"Return {ret.id} is {ret.state} and cannot be changed.")
        return ret

    # -- handlers ----------------------------------------------------------------------------

    async def _process(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        ret = self._actionable(request)
        if ret.flagged:
            raise action_error(200, "UNPROCESSABLE_FLAGGED_RETURN", f"Return {ret.id} is flagged for review.")
        if ret.processing:
            raise action_error(422, "UNPROCESSABLE_RETURN", f"Return {ret.id} is already queued for processing.")
        ret.process_details = parse_object(raw)
        ret.processing = True
        self.side_effects[("process", ret.id)] += 1
        self._spawn(self._complete_processing(ret))
        return json_response(True)

    async def _remove(self, request: web.Request) -> web.StreamResponse:
        ret = self._actionable(request)
        raw = request.query.get("line_item_id", "")
        parts = [p.strip() for p in raw.split(",") if p.strip()]
        if not parts or not all(p.isdigit() for p in parts):
            raise validation_error({"line_item_id": ["The line item id field is required (comma-separated ids)."]})
        chosen = []
        for line_item_id in map(int, parts):
            item = next((i for i in ret.line_items if line_item_id in (i.id, i.line_item.id)), None)
            if item is None:
                raise action_error(422, "UNPROCESSABLE_RETURN", f"Line item {line_item_id} is not on return {ret.id}.")
            if item.outcome not in ("refund", "store-credit"):
                raise action_error(
                    422, "UNPROCESSABLE_RETURN", f"Line item {line_item_id} has outcome {item.outcome}: not removable."
                )
            chosen.append(item)
        ret.line_items = [i for i in ret.line_items if i not in chosen]
        self.side_effects[("remove", ret.id)] += 1
        self.set_state(ret, "closed")  # Loop processes and closes the return on removal
        self.emit_return("return.closed", ret)
        return json_response(True)

    async def _cancel(self, request: web.Request) -> web.StreamResponse:
        ret = self._actionable(request)
        ret.cancel_reason = request.query.get("reason")
        self.side_effects[("cancel", ret.id)] += 1
        self.set_state(ret, "cancelled")
        self.emit_return("return.updated", ret)
        return json_response("true")  # Loop often sends the JSON string "true"

    async def _close(self, request: web.Request) -> web.StreamResponse:
        ret = self._actionable(request)
        self.side_effects[("close", ret.id)] += 1
        self.set_state(ret, "closed")
        self.emit_return("return.closed", ret)
        return json_response("true")

    async def _flag(self, request: web.Request) -> web.StreamResponse:
        ret = self._actionable(request)
        ret.flagged = True
        self.side_effects[("flag", ret.id)] += 1
        self.set_state(ret, "review")
        self.emit_return("return.updated", ret)
        return json_response(True)

    async def _list_notes(self, request: web.Request) -> web.StreamResponse:
        ret = self._find_return(request)
        if not ret.notes:
            raise action_error(422, "UNPROCESSABLE_RETURN", f"Return {ret.id} has no notes.")
        notes = [{"id": n.id, "content": n.content, "created_at": n.created_at.isoformat()} for n in ret.notes]
        return json_response({"notes": notes})

    async def _create_note(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        ret = self._actionable(request)
        body = parse_object(raw, required=True)
        content = body.get("content", body.get("note"))  # the guide calls it "note"
        if not isinstance(content, str) or not content.strip():
            raise validation_error({"content": ["The content field is required."]})
        if len(content) > 255:
            raise validation_error({"content": ["The content may not be greater than 255 characters."]})
        now: datetime = self.store.clock()
        ret.notes.append(FakeNote(id=self.store.next_id("note"), content=content, created_at=now))
        self.side_effects[("note", ret.id)] += 1
        return json_response(True)
