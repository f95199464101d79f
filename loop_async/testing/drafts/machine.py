"""The draft-return state machine: the transitions, and Loop's refusals of what a state does not allow.

Applies each action to the store's :class:`~loop_async.testing.store.FakeDraft` or raises
:class:`~loop_async.testing.error_bodies.LoopHTTPError` with Loop's draft-error body. What the
draft offers is :mod:`.link_table`, how it is sent :mod:`.rendering`; the states, rules and
error codes are described in ``docs/testing.md`` ("Draft returns").
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from loop_async.testing.catalog import CREDIT_TYPES, RETURN_METHODS
from loop_async.testing.drafts.objects import normalize_address
from loop_async.testing.drafts.states import (
    CANCELLED,
    CREATED,
    EXPIRED,
    FINALIZED,
    OPEN_STATES,
    REASON_NAMES,
    REASON_NEEDS_COMMENT,
    SUBMITTED,
    TERMINAL_STATES,
    credit_types,
    processing_types,
    ready_to_submit,
)
from loop_async.testing.error_bodies import LoopHTTPError, draft_error, validation_error
from loop_async.testing.store import (
    FakeCartItem,
    FakeDraft,
    FakeReturn,
    FakeReturningItem,
    Store,
)

__all__ = ["DraftMachine"]


def _int_value(body: Mapping[str, Any], name: str) -> int:
    value = body.get(name)
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)  # form-ish clients send ids as strings; Loop accepts them
    if isinstance(value, bool) or not isinstance(value, int):
        raise validation_error({name: [f"The {name} field is required and must be an integer."]})
    return value


class DraftMachine:
    """Applies draft-return actions to the store; every method raises :class:`LoopHTTPError` to refuse."""

    def __init__(self, store: Store, ttl: timedelta) -> None:
        self.store = store
        self.ttl = ttl
        #: Moved by the ``volatile_context`` fault: catalog prices drift, as Loop's context does.
        self.volatile_epoch = 0
        #: Order names whose submit answers 422 ``returns-unavailable-for-order``.
        self.returns_unavailable: set[str] = set()

    def make_returns_unavailable(self, order_name: str) -> None:
        """Make the submit of every draft for ``order_name`` fail with ``returns-unavailable-for-order``."""
        self.returns_unavailable.add(order_name)

    def set_payment_intent(self, draft_id: int, payment_intent_id: str = "pi_test") -> None:
        """Give an instant draft its payment intent (Loop's Create Payment Intent, not modelled)."""
        self.get(draft_id).payment_intent = {"id": payment_intent_id, "status": "requires_capture"}

    def shift_volatile_context(self) -> None:
        """Change what ``context`` shows (catalog prices), with no action on any draft."""
        self.volatile_epoch += 1

    # -- lookup and lifecycle ---------------------------------------------------------------

    def create(self, body: Mapping[str, Any]) -> FakeDraft:
        """``POST /draft-returns``: find the order, check the secondary input, start a draft."""
        problems: dict[str, list[str]] = {}
        name, secondary = body.get("order_name"), body.get("secondary_input")
        is_gift = body.get("is_gift", False)
        if not isinstance(name, str) or not name.strip():
            problems["order_name"] = ["The order name field is required."]
        if not isinstance(secondary, str) or not secondary.strip():
            problems["secondary_input"] = ["The secondary input field is required."]
        if not isinstance(is_gift, bool):
            problems["is_gift"] = ["The is gift field must be true or false."]
        if problems:
            raise draft_error(422, "validation-failed", "; ".join(m for ms in problems.values() for m in ms))
        assert isinstance(name, str)
        assert isinstance(secondary, str)
        order = self.store.order(name)
        if order is None:
            raise draft_error(404, "order-not-found", f"No order named {name} was found.")
        if secondary.strip().lower() not in (order.zip.lower(), order.email.lower()):
            raise draft_error(422, "secondary-input-mismatch", "The zip code or email does not match the order.")
        now = self.store.clock()
        draft = FakeDraft(
            id=self.store.next_id("draft"),
            order=order,
            state=CREATED,
            is_gift=is_gift,
            created_at=now,
            expires_at=now + self.ttl,
            customer_email=order.email,
        )
        self.store.drafts[draft.id] = draft
        return draft

    def get(self, draft_id: int) -> FakeDraft:
        """The draft (expired first if its time is up), or 404 ``draft-return-not-found``."""
        draft = self.store.drafts.get(draft_id)
        if draft is None:
            raise draft_error(404, "draft-return-not-found", f"Draft return {draft_id} was not found.")
        if draft.state in OPEN_STATES and self.store.clock() >= draft.expires_at:
            draft.state = EXPIRED
        return draft

    def expire(self, draft_id: int) -> None:
        """Expire a draft now (as if its time were up); a terminal draft stays as it is."""
        draft = self.get(draft_id)
        if draft.state in OPEN_STATES:
            draft.state = EXPIRED

    @staticmethod
    def _require(draft: FakeDraft, *states: str) -> None:
        if draft.state in states:
            return
        if draft.state in TERMINAL_STATES:
            raise draft_error(
                422, "terminal-state", f"Draft return {draft.id} is {draft.state}; no action is available."
            )
        message = f"Draft return {draft.id} is {draft.state}; this action needs state {' or '.join(states)}."
        raise draft_error(422, "action-validation-failed", message)

    @staticmethod
    def _item(draft: FakeDraft, returning_item_id: int) -> FakeReturningItem:
        for item in draft.returning_items:
            if item.id == returning_item_id:
                return item
        raise draft_error(404, "returning-item-not-found", f"Returning item {returning_item_id} is not in this draft.")

    # -- state `created` --------------------------------------------------------------------

    def add_returning_item(self, draft: FakeDraft, body: Mapping[str, Any]) -> None:
        """Add an eligible, not yet added line item."""
        self._require(draft, CREATED)
        line_item_id = _int_value(body, "order_line_item_id")
        line_item = draft.order.line_item(line_item_id)
        if line_item is None:
            raise draft_error(422, "validation-failed", f"Line item {line_item_id} is not on order {draft.order.name}.")
        if line_item.ineligibility_code is not None:
            raise draft_error(
                422, "validation-failed", f"Line item {line_item_id} is not eligible: {line_item.ineligibility_code}."
            )
        if any(item.line_item.id == line_item_id for item in draft.returning_items):
            raise draft_error(422, "validation-failed", f"Line item {line_item_id} is already being returned.")
        draft.returning_items.append(FakeReturningItem(id=self.store.next_id("returning_item"), line_item=line_item))

    def remove_returning_item(self, draft: FakeDraft, returning_item_id: int) -> None:
        """Remove a returning item (and any exchange cart item made for it)."""
        self._require(draft, CREATED)
        item = self._item(draft, returning_item_id)
        draft.returning_items.remove(item)
        draft.cart_items = [c for c in draft.cart_items if c.exchange_for_returning_item_id != item.id]

    def set_return_reason(self, draft: FakeDraft, returning_item_id: int, body: Mapping[str, Any]) -> None:
        """Set an item's reason (a top-level or child reason id); some reasons need a comment."""
        self._require(draft, CREATED)
        item = self._item(draft, returning_item_id)
        reason_id = _int_value(body, "return_reason_id")
        comment = body.get("comment")
        if reason_id not in REASON_NAMES:
            raise validation_error({"return_reason_id": [f"The selected return reason {reason_id} is invalid."]})
        if comment is not None and not isinstance(comment, str):
            raise validation_error({"comment": ["The comment must be a string."]})
        if reason_id in REASON_NEEDS_COMMENT and not (comment or "").strip():
            raise validation_error({"comment": ["A comment is required for this return reason."]})
        item.reason_id, item.reason_comment = reason_id, comment

    def set_user_input(self, draft: FakeDraft, returning_item_id: int, user_input_id: int, body: Any) -> None:
        """Record the answer to a merchant question (any JSON value, or ``{"value": ...}``)."""
        self._require(draft, CREATED)
        item = self._item(draft, returning_item_id)
        value = body.get("value") if isinstance(body, Mapping) and "value" in body else body
        item.user_input[user_input_id] = value

    def set_exchange_item(self, draft: FakeDraft, returning_item_id: int, body: Mapping[str, Any]) -> None:
        """Exchange an item for a catalog variant; an unavailable one is 422 ``product-variant-unavailable``."""
        self._require(draft, *OPEN_STATES)
        item = self._item(draft, returning_item_id)
        variant_id = self._available_variant(_int_value(body, "variant_id"))
        draft.cart_items = [c for c in draft.cart_items if c.exchange_for_returning_item_id != item.id]
        draft.cart_items.append(
            FakeCartItem(
                id=self.store.next_id("cart_item"), variant_id=variant_id, exchange_for_returning_item_id=item.id
            )
        )
        item.exchange_variant_id = variant_id

    def set_customer(self, draft: FakeDraft, body: Mapping[str, Any]) -> None:
        """Set the customer's email."""
        self._require(draft, *OPEN_STATES)
        email = body.get("email")
        if not isinstance(email, str) or "@" not in email or email.strip() != email:
            raise validation_error({"email": ["The email must be a valid email address."]})
        draft.customer_email = email

    def finalize_items(self, draft: FakeDraft) -> None:
        """``created`` → ``returning-items-finalized``: needs items, each with a reason."""
        self._require(draft, CREATED)
        if not draft.returning_items:
            raise draft_error(422, "validation-failed", "Add at least one returning item before finalizing.")
        missing = [item.id for item in draft.returning_items if item.reason_id is None]
        if missing:
            raise draft_error(422, "validation-failed", f"Returning items {missing} have no return reason.")
        draft.state = FINALIZED

    def cancel(self, draft: FakeDraft) -> None:
        """Cancel an open draft."""
        self._require(draft, *OPEN_STATES)
        draft.state = CANCELLED

    # -- state `returning-items-finalized` ---------------------------------------------------

    def set_credit_type(self, draft: FakeDraft, body: Mapping[str, Any]) -> None:
        """Choose how the customer is credited (one of ``context.available_credit_types``)."""
        self._require(draft, FINALIZED)
        credit_type = body.get("credit_type")
        if not isinstance(credit_type, str) or credit_type not in CREDIT_TYPES:
            raise validation_error({"credit_type": [f"The credit type must be one of: {', '.join(CREDIT_TYPES)}."]})
        if credit_type not in credit_types(draft):
            allowed = ", ".join(credit_types(draft))
            raise draft_error(422, "action-validation-failed", f"Credit type {credit_type} is not offered: {allowed}.")
        draft.credit_type = credit_type

    def select_return_method(self, draft: FakeDraft, body: Mapping[str, Any]) -> None:
        """Choose a return shipping method from ``context.return_methods``."""
        self._require(draft, FINALIZED)
        method_id = _int_value(body, "return_method_id")
        if method_id not in {m[0] for m in RETURN_METHODS}:
            raise validation_error({"return_method_id": [f"The selected return method {method_id} is invalid."]})
        draft.return_method_id = method_id

    def set_address(self, draft: FakeDraft, body: Mapping[str, Any]) -> None:
        """Set the shipping address (an object with the documented address keys)."""
        self._require(draft, FINALIZED)
        raw = body.get("address", body if "address1" in body else None)  # wrapped (2026-07) or flat (2026-10)
        if not isinstance(raw, Mapping):
            raise validation_error({"address": ["The address field is required and must be an object."]})
        problems = {
            f"address.{key}": [f"The address {key} field is required."]
            for key in ("address1", "city", "zip", "country_code")
            if not isinstance(raw.get(key), str) or not raw[key].strip()
        }
        if problems:
            raise validation_error(problems)
        draft.shipping_address = normalize_address(raw)

    def add_cart_items(self, draft: FakeDraft, body: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Add ``variant_id``, or each of ``variant_ids`` (partial success: errors returned)."""
        self._require(draft, FINALIZED)
        if "variant_ids" in body:
            ids = body["variant_ids"]
            if not isinstance(ids, list) or not ids or not all(type(v) is int for v in ids):
                raise validation_error({"variant_ids": ["The variant ids must be a non-empty list of integers."]})
            errors: list[dict[str, Any]] = []
            added = 0
            for variant_id in ids:
                try:
                    self._available_variant(variant_id)
                except LoopHTTPError:
                    message = f"Variant {variant_id} is not available."
                    errors.append({"code": "product-variant-unavailable", "message": message})
                    continue
                draft.cart_items.append(FakeCartItem(id=self.store.next_id("cart_item"), variant_id=variant_id))
                added += 1
            if not added:
                raise draft_error(422, "product-variant-unavailable", "None of the variants is available.")
            return errors
        variant_id = self._available_variant(_int_value(body, "variant_id"))
        draft.cart_items.append(FakeCartItem(id=self.store.next_id("cart_item"), variant_id=variant_id))
        return []

    def accept_return_policy(self, draft: FakeDraft) -> None:
        """Record that the shopper accepted the return policy (either open state)."""
        self._require(draft, *OPEN_STATES)
        draft.return_policy_accepted = True

    def set_processing_type(self, draft: FakeDraft, body: Mapping[str, Any]) -> None:
        """``regular`` or ``instant`` (one of the options); ``regular`` drops any payment intent."""
        kind = body.get("processing_type")
        if kind not in ("regular", "instant"):
            raise validation_error({"processing_type": ["The processing type must be regular or instant."]})
        self._require(draft, FINALIZED)
        if kind not in processing_types(draft):
            raise draft_error(422, "action-validation-failed", f"Processing type {kind} is not available.")
        draft.processing_type = str(kind)
        if kind == "regular":
            draft.payment_intent = None

    def set_cart(self, draft: FakeDraft, body: Mapping[str, Any]) -> None:
        """Replace the shop-now cart with ``variant_ids`` (exchange items for returning items stay)."""
        self._require(draft, FINALIZED)
        ids = body.get("variant_ids")
        if not isinstance(ids, list) or not all(type(v) is int for v in ids) or len(set(ids)) != len(ids):
            raise validation_error({"variant_ids": ["The variant ids must be a list of distinct integers."]})
        for variant_id in ids:
            self._available_variant(variant_id)
        kept = [c for c in draft.cart_items if c.exchange_for_returning_item_id is not None]
        draft.cart_items = kept + [FakeCartItem(id=self.store.next_id("cart_item"), variant_id=v) for v in ids]

    def submit(self, draft: FakeDraft) -> FakeReturn:
        """``returning-items-finalized`` → ``submitted``: creates the return (state ``open``)."""
        self._require(draft, FINALIZED)
        if not ready_to_submit(draft) or draft.credit_type is None:
            raise draft_error(
                422,
                "action-validation-failed",
                "Set a credit type and a return method (and, for instant processing, a payment intent) first.",
            )
        if draft.order.name in self.returns_unavailable:
            raise draft_error(422, "returns-unavailable-for-order", f"Returns are unavailable for {draft.order.name}.")
        method = next(m for m in RETURN_METHODS if m[0] == draft.return_method_id)
        ret = self.store.create_return(
            draft.order,
            [item.line_item for item in draft.returning_items],
            credit_type=draft.credit_type,
            return_method=method[1],
            reasons={i.line_item.id: REASON_NAMES[i.reason_id] for i in draft.returning_items if i.reason_id},
        )
        draft.state = SUBMITTED
        draft.return_id = ret.id
        return ret

    def _available_variant(self, variant_id: int) -> int:
        found = self.store.variant(variant_id)
        if found is None:
            raise validation_error({"variant_id": [f"The selected variant {variant_id} is invalid."]})
        if not found[5]:
            raise draft_error(422, "product-variant-unavailable", f"Variant {variant_id} is out of stock.")
        return variant_id
