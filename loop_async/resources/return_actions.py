"""Return actions: ``process``, ``cancel``, ``close``, ``remove_line_items``, ``flag``, notes,
deep links and fraud reports, the writing half of ``loop.returns``.

The resource side of :mod:`loop_async.models.return_actions` (the same concept at two layers).
None of these actions is idempotent: one that may have reached Loop is never sent again but
raises :class:`~loop_async.errors.OutcomeUnknownError` (the rule is
:mod:`loop_async._sansio.outcome`). Where Loop's guide and reference disagree the reference
wins (see ``docs/return-actions.md``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs
from yarl import URL

from loop_async._response import Response
from loop_async._sansio.outcome import is_uncertain
from loop_async._sansio.problems import Problems
from loop_async._sansio.protocol import is_true_body
from loop_async._transport import NO_BODY, Transport
from loop_async.errors import (
    DecodeError,
    LoopError,
    OutcomeUnknownError,
    PartialOutcomeError,
    UnprocessableEntityError,
)
from loop_async.models._convert import structure
from loop_async.models.return_actions import DeepLink, DeepLinkQR, Note
from loop_async.models.support import FraudCategory, FraudReport

__all__ = ["NOTE_MAX_LENGTH", "QR_IMAGE_TYPES", "ActionResult", "ReturnActions"]

NOTE_MAX_LENGTH = 255
QR_IMAGE_TYPES = frozenset({"png", "eps", "svg"})


@attrs.frozen(kw_only=True)
class ActionResult:
    """Loop accepted a return action (it answered ``true``). ``response`` is the raw answer."""

    return_id: int
    action: str
    response: Response = attrs.field(repr=False)

    @property
    def queued(self) -> bool:
        """``True`` for ``process``: accepted and queued, not finished (see webhooks)."""
        return self.action == "process"


@attrs.frozen
class _NotesPage:
    notes: tuple[Note, ...] = ()


def _unknown(action: str, return_id: int, url: URL, error: LoopError) -> OutcomeUnknownError:
    return OutcomeUnknownError(
        f"{action} of return {return_id}: the outcome is unknown and it was not sent again (check the return first)",
        error=error,
        method="POST",
        url=url,
    )


class ReturnActions:
    """The actions of ``loop.returns`` on existing returns (composed into ``ReturnsResource``)."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    async def _action(
        self,
        action: str,
        return_id: int,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = NO_BODY,
    ) -> ActionResult:
        url = self._transport.url("warehouse", "return", return_id, action)
        try:
            response = await self._transport.request("POST", url, params=params, json=json)
        except LoopError as exc:
            if is_uncertain("POST", exc):
                raise _unknown(action, return_id, url, exc) from exc
            raise
        if not is_true_body(response.data):
            unreadable = DecodeError(
                f"{action}: expected Loop's success body true, got something else",
                excerpt=response.excerpt,
                status=response.status,
            )
            raise _unknown(action, return_id, url, unreadable) from unreadable
        return ActionResult(return_id=return_id, action=action, response=response)

    async def process(self, return_id: int, details: Mapping[str, Any] | None = None) -> ActionResult:
        """Process a return: trigger its refunds, exchanges or store credit.

        Success means **queued**, not finished: the outcome arrives later by the webhook
        ``return.closed`` or ``return.processing.failed``. ``details`` (optional key/values)
        are added to any Shopify order that processing creates.
        """
        problems = Problems("returns.process")
        problems.positive_id("return_id", return_id)
        if details is not None and not isinstance(details, Mapping):
            problems.add("details", f"must be a mapping of key/values, got {type(details).__name__}")
        problems.raise_if_any()
        return await self._action("process", return_id, json=dict(details) if details is not None else NO_BODY)

    async def cancel(self, return_id: int, reason: str | None = None) -> ActionResult:
        """Cancel a return; the customer may return the same items again.

        ``reason`` is sent (as the query parameter the guide documents) only when given.
        """
        problems = Problems("returns.cancel")
        problems.positive_id("return_id", return_id)
        problems.text("reason", reason, required=False)
        problems.raise_if_any()
        return await self._action("cancel", return_id, params={"reason": reason} if reason else None)

    async def close(self, return_id: int) -> ActionResult:
        """Close a return without outcomes (also in Shopify); its items cannot be returned again."""
        problems = Problems("returns.close")
        problems.positive_id("return_id", return_id)
        problems.raise_if_any()
        return await self._action("close", return_id)

    async def remove_line_items(self, return_id: int, line_item_ids: Iterable[int]) -> ActionResult:
        """Remove line items from a return.

        **Warning:** this also processes and closes the return. Only items with a refund or
        store-credit outcome qualify; others get a 422 (:class:`UnprocessableEntityError`).
        """
        ids = list(line_item_ids) if not isinstance(line_item_ids, int | str) else [line_item_ids]
        problems = Problems("returns.remove_line_items")
        problems.positive_id("return_id", return_id)
        if not ids:
            problems.add("line_item_ids", "must name at least one line item id")
        for index, item in enumerate(ids):
            problems.positive_id(f"line_item_ids[{index}]", item)
        problems.raise_if_any()
        joined = ",".join(str(i) for i in dict.fromkeys(ids))
        return await self._action("remove", return_id, params={"line_item_id": joined})

    async def flag(self, return_id: int, reason: str | None = None) -> ActionResult:
        """Flag a return for review; automated processing stops until a person reviews it.

        Loop's flag takes no parameters, so a ``reason`` is recorded as a note on the return
        after the flag succeeds. If only the note fails, :class:`~loop_async.errors.PartialOutcomeError`
        says that the return *was* flagged (``done`` is the flag's result, ``error`` the note's).
        """
        problems = Problems("returns.flag")
        problems.positive_id("return_id", return_id)
        problems.text("reason", reason, required=False, max_length=NOTE_MAX_LENGTH)
        problems.raise_if_any()
        result = await self._action("flag", return_id)
        if reason and reason.strip():
            try:
                await self.create_note(return_id, reason)
            except LoopError as exc:
                raise PartialOutcomeError(
                    f"return {return_id} WAS flagged; only recording the reason as a note failed "
                    "(do not flag it again: add the note)",
                    done=result,
                    error=exc,
                ) from exc
        return result

    async def list_notes(self, return_id: int) -> list[Note]:
        """The notes on a return, oldest first; an empty list when there are none.

        (Loop answers 422 when a return has no notes; that becomes ``[]``.)
        """
        problems = Problems("returns.list_notes")
        problems.positive_id("return_id", return_id)
        problems.raise_if_any()
        url = self._transport.url("warehouse", "return", return_id, "notes")
        try:
            response = await self._transport.request("GET", url)
        except UnprocessableEntityError as exc:
            if exc.status == 422:  # Loop's "no notes" answer; a 422-like body with 200 is a real error
                return []
            raise
        return list(structure(response.data, _NotesPage, what="notes").notes)

    async def create_note(self, return_id: int, text: str) -> ActionResult:
        """Add a note (1 to 255 characters) to a return's timeline. Sent as ``content``."""
        problems = Problems("returns.create_note")
        problems.positive_id("return_id", return_id)
        problems.text("text", text, max_length=NOTE_MAX_LENGTH)
        problems.raise_if_any()
        return await self._action("note", return_id, json={"content": text})

    async def deep_link(self, *, order_name: str, zip: str, gift: bool = False) -> DeepLink:
        """A link that opens Loop's return flow for an order (scope Orders).

        ``zip`` is the order's postal code, or its email or phone, per the shop's settings.
        """
        body = self._deep_link_body("returns.deep_link", order_name, zip, gift)
        response = await self._transport.request("POST", self._transport.url("order", "link"), json=body)
        return structure(response.data, DeepLink)

    async def deep_link_qr(
        self,
        *,
        order_name: str,
        zip: str,
        gift: bool = False,
        image_type: str | None = None,
        size: int | None = None,
    ) -> DeepLinkQR:
        """A QR code image (``png`` by default, or ``eps``/``svg``) for the order's deep link."""
        body = self._deep_link_body("returns.deep_link_qr", order_name, zip, gift, image_type=image_type, size=size)
        response = await self._transport.request("POST", self._transport.url("order", "qr"), json=body)
        return structure(response.data, DeepLinkQR)

    @staticmethod
    def _deep_link_body(
        action: str, order_name: str, zip: str, gift: bool, *, image_type: str | None = None, size: int | None = None
    ) -> dict[str, Any]:
        problems = Problems(action)
        problems.text("order_name", order_name)
        problems.text("zip", zip)
        if not isinstance(gift, bool):
            problems.add("gift", f"must be a bool, got {type(gift).__name__}")
        if image_type is not None:
            problems.one_of("image_type", image_type, sorted(QR_IMAGE_TYPES))
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size <= 0):
            problems.add("size", f"must be a positive integer, got {size!r}")
        problems.raise_if_any()
        body: dict[str, Any] = {"name": order_name, "zip": zip, "gift": gift}
        if image_type is not None:
            body["type"] = image_type
        if size is not None:
            body["size"] = size
        return body

    async def report_fraud(
        self, return_id: int, category: str | FraudCategory, comment: str | None = None
    ) -> FraudReport:
        """Attach a fraud report to a return (``POST /returns/{id}/fraud-report``, answered 201).

        ``category`` is one of :class:`~loop_async.models.FraudCategory`; ``comment`` is required
        for ``other``. Not idempotent: never re-sent on an uncertain outcome.
        """
        problems = Problems("returns.report_fraud")
        problems.positive_id("return_id", return_id)
        problems.one_of("category", category, [member.value for member in FraudCategory])
        problems.text("comment", comment, required=category == FraudCategory.OTHER)
        problems.raise_if_any()
        body = {"category": str(category)}
        if comment is not None:
            body["comment"] = comment
        url = self._transport.url("returns", return_id, "fraud-report")
        response = await self._transport.request("POST", url, json=body)
        return structure(response.data, FraudReport, what="fraud report")
