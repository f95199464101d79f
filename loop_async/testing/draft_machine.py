"""The draft-return state machine: transitions, links per state, totals, and the JSON envelope.

States: ``created`` → (``finalize-items``) → ``returning-items-finalized`` → (``submit-draft-return``)
→ ``submitted``; ``cancel-draft-return`` leads to ``cancelled`` from either open state, and a
draft past its expiry (or expired by the test) is ``expired``. Terminal states have no links.
Refusals are Loop's documented 422s in its draft-error shape: ``action-validation-failed`` (the
action is not valid in this state, or the value is not one on offer), ``terminal-state`` (the
draft is submitted, cancelled or expired) and ``validation-failed`` (bad input), or a more
specific kebab-case code (``returns-unavailable-for-order`` on submit, for an order the test
made unavailable with :meth:`DraftMachine.make_returns_unavailable`).

Besides the reference's actions: ``accept-return-policy`` (offered until accepted, not needed to
submit: a guess), ``set-processing-type`` (in ``returning-items-finalized``; ``instant`` needs a
payment intent before submit, so submit is not offered until :meth:`set_payment_intent`; gift
returns cannot be instant) and ``set-cart`` (``POST .../cart`` ``{"variant_ids": [...]}``: the
shop-now cart becomes exactly those variants; exchange items stay).

Two renderings of the same envelope: :meth:`DraftMachine.render` with Loop's ``links[]`` (API
``v1``/``2026-07``) and :meth:`DraftMachine.render_hal_forms` with HAL-FORMS (``2026-10``,
``unstable``, or on request): ``_links`` holding each action's href and ``_templates`` its form
(Loop's shape), or with ``targets=True`` the spec's shape, each href in its template's
``target``. Both come from the one list of links :meth:`DraftMachine.links` gives; on HAL-FORMS
the address is the flat ``2026-10`` body (``name``, ``company``, ``phone`` added) and fields
carry HAL-FORMS constraints (``regex``, ``maxLength``, ``step``, ...).

Partial failure (200 with data and a non-empty ``errors[]``): ``add-cart-item`` given a list
``variant_ids`` adds the available variants and reports each unavailable one as a
``product-variant-unavailable`` entry (none available: 422). A single unavailable
``variant_id`` is a 422. The offered ``add-cart-item`` link declares both fields, each
optional (give one): ``variant_id`` (``int``, ``allowed_values`` the variants in stock) and
``variant_ids`` (``array``, ``allowed_values`` every catalog variant, so that an out-of-stock
one reaches the server and comes back in ``errors[]``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

import attrs
from yarl import URL

from loop_async.models import (
    Address,
    ApiErrorEntry,
    CartItem,
    CartProduct,
    ChildReturnReason,
    CreditTotals,
    CreditType,
    Customer,
    DraftReturn,
    DraftReturnContext,
    DraftReturnResponse,
    DraftReturnState,
    EligibleItem,
    ExchangeType,
    Fees,
    Field,
    FieldType,
    IneligibilityCode,
    IneligibleItem,
    Link,
    Money,
    Order,
    OrderLineItem,
    ProcessingType,
    ProductVariant,
    Resolution,
    ReturningItem,
    ReturningItemReason,
    ReturnMethod,
    ReturnMethodType,
    ReturnPolicy,
    ReturnReason,
    ReturnType,
    StoreCreditType,
    Totals,
    UserInput,
)
from loop_async.models._convert import structure, unstructure
from loop_async.testing._shapes import LoopHTTPError, draft_error, validation_error
from loop_async.testing.store import (
    CART_PRODUCTS,
    CREDIT_TYPES,
    RETURN_METHODS,
    RETURN_REASONS,
    FakeCartItem,
    FakeDraft,
    FakeReturn,
    FakeReturningItem,
    Store,
)

__all__ = [
    "CANCELLED",
    "CREATED",
    "EXPIRED",
    "FINALIZED",
    "SUBMITTED",
    "TERMINAL_STATES",
    "DraftMachine",
    "CLIENT_APPLICATION",
    "hal_property",
    "hal_template",
    "links_entry",
]

CREATED = "created"
FINALIZED = "returning-items-finalized"
SUBMITTED = "submitted"
CANCELLED = "cancelled"
EXPIRED = "expired"
TERMINAL_STATES = frozenset({SUBMITTED, CANCELLED, EXPIRED})
_OPEN_STATES = (CREATED, FINALIZED)
_REASON_NAMES = {rid: name for rid, name, _, children in RETURN_REASONS for rid, name in ((rid, name), *children)}
_REASON_NEEDS_COMMENT = {rid for rid, _, needs, _ in RETURN_REASONS if needs}


def _money(amount: int, currency: str) -> Money:
    return Money(amount=amount, currency=currency)


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
        if draft.state in _OPEN_STATES and self.store.clock() >= draft.expires_at:
            draft.state = EXPIRED
        return draft

    def expire(self, draft_id: int) -> None:
        """Expire a draft now (as if its time were up); a terminal draft stays as it is."""
        draft = self.get(draft_id)
        if draft.state in _OPEN_STATES:
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
        if reason_id not in _REASON_NAMES:
            raise validation_error({"return_reason_id": [f"The selected return reason {reason_id} is invalid."]})
        if comment is not None and not isinstance(comment, str):
            raise validation_error({"comment": ["The comment must be a string."]})
        if reason_id in _REASON_NEEDS_COMMENT and not (comment or "").strip():
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
        self._require(draft, *_OPEN_STATES)
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
        self._require(draft, *_OPEN_STATES)
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
        self._require(draft, *_OPEN_STATES)
        draft.state = CANCELLED

    # -- state `returning-items-finalized` ---------------------------------------------------

    def set_credit_type(self, draft: FakeDraft, body: Mapping[str, Any]) -> None:
        """Choose how the customer is credited (one of ``context.available_credit_types``)."""
        self._require(draft, FINALIZED)
        credit_type = body.get("credit_type")
        if not isinstance(credit_type, str) or credit_type not in CREDIT_TYPES:
            raise validation_error({"credit_type": [f"The credit type must be one of: {', '.join(CREDIT_TYPES)}."]})
        if credit_type not in self.credit_types(draft):
            allowed = ", ".join(self.credit_types(draft))
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
        address = structure(dict(raw), Address, what="address")
        draft.shipping_address = unstructure(address)

    def add_cart_items(self, draft: FakeDraft, body: Mapping[str, Any]) -> list[ApiErrorEntry]:
        """Add ``variant_id``, or each of ``variant_ids`` (partial success: errors returned)."""
        self._require(draft, FINALIZED)
        if "variant_ids" in body:
            ids = body["variant_ids"]
            if not isinstance(ids, list) or not ids or not all(type(v) is int for v in ids):
                raise validation_error({"variant_ids": ["The variant ids must be a non-empty list of integers."]})
            errors: list[ApiErrorEntry] = []
            added = 0
            for variant_id in ids:
                try:
                    self._available_variant(variant_id)
                except LoopHTTPError:
                    message = f"Variant {variant_id} is not available."
                    errors.append(ApiErrorEntry(code="product-variant-unavailable", message=message))
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
        self._require(draft, *_OPEN_STATES)
        draft.return_policy_accepted = True

    @staticmethod
    def processing_types(draft: FakeDraft) -> tuple[str, ...]:
        """Processing types on offer: a gift return cannot be instant."""
        return ("regular",) if draft.is_gift else ("regular", "instant")

    def set_processing_type(self, draft: FakeDraft, body: Mapping[str, Any]) -> None:
        """``regular`` or ``instant`` (one of the options); ``regular`` drops any payment intent."""
        kind = body.get("processing_type")
        if kind not in ("regular", "instant"):
            raise validation_error({"processing_type": ["The processing type must be regular or instant."]})
        self._require(draft, FINALIZED)
        if kind not in self.processing_types(draft):
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

    def _ready(self, draft: FakeDraft) -> bool:
        return (
            draft.credit_type is not None
            and draft.return_method_id is not None
            and (draft.processing_type != "instant" or draft.payment_intent is not None)
        )

    def submit(self, draft: FakeDraft) -> FakeReturn:
        """``returning-items-finalized`` → ``submitted``: creates the return (state ``open``)."""
        self._require(draft, FINALIZED)
        if not self._ready(draft) or draft.credit_type is None:
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
            reasons={i.line_item.id: _REASON_NAMES[i.reason_id] for i in draft.returning_items if i.reason_id},
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

    # -- derived data -----------------------------------------------------------------------

    @staticmethod
    def credit_types(draft: FakeDraft) -> tuple[str, ...]:
        """Credit types on offer: a gift return cannot be refunded to the buyer."""
        return ("gift", "exchange") if draft.is_gift else CREDIT_TYPES

    def totals(self, draft: FakeDraft) -> Totals:
        """Totals in minor units, recomputed from the draft (the rules: ``docs/testing.md``, "Draft returns")."""
        cur = draft.order.currency
        return_total = sum(item.line_item.price for item in draft.returning_items)
        new_item_total = 0
        for cart_item in draft.cart_items:
            found = self.store.variant(cart_item.variant_id)
            new_item_total += found[4] if found else 0
        offered = return_total // 10
        bonus_used = offered if draft.credit_type == "gift" else 0
        fee = next((m[3] for m in RETURN_METHODS if m[0] == draft.return_method_id), 0)
        value = return_total + bonus_used - fee
        net = max(0, value - new_item_total)
        zero = _money(0, cur)
        return Totals(
            return_total=_money(return_total, cur),
            new_item_total=_money(new_item_total, cur),
            total_bonus_offered=_money(offered, cur),
            bonus_used=_money(bonus_used, cur),
            fees=Fees(
                applied=_money(fee, cur),
                refund=_money(fee, cur) if draft.credit_type == "refund" else zero,
                credit=_money(fee, cur) if draft.credit_type == "gift" else zero,
                exchange=_money(fee, cur) if draft.credit_type == "exchange" else zero,
            ),
            amount_due=_money(max(0, new_item_total - value), cur),
            credit=CreditTotals(
                remaining_credit=_money(net, cur),
                refund_credit=_money(net if draft.credit_type == "refund" else 0, cur),
                store_credit=_money(net if draft.credit_type == "gift" else 0, cur),
            ),
            net=_money(net, cur),
        )

    def links(self, draft: FakeDraft, api_root: URL, *, hal: bool = False) -> list[Link]:
        """The actions valid now, in a stable order; none in a terminal state.

        ``hal`` gives the HAL-FORMS variant: the flat ``2026-10`` address body and fields with
        HAL-FORMS constraints (which the ``links[]`` rendering leaves out).
        """
        href = api_root / "draft-returns" / str(draft.id)
        links: list[Link] = []
        if draft.state == CREATED:
            added = {item.line_item.id for item in draft.returning_items}
            remaining = [li.id for li in draft.order.eligible_line_items if li.id not in added]
            if remaining:
                links.append(
                    Link(
                        rel="add-returning-item",
                        href=str(href / "returning-items"),
                        method="POST",
                        description="Add a line item to the return",
                        prompt="Which item would you like to return?",
                        fields=(
                            Field(
                                name="order_line_item_id",
                                type=FieldType.INT,
                                description="ID of the line item to return",
                                allowed_values=tuple(remaining),
                                is_required=True,
                            ),
                        ),
                        is_required=not draft.returning_items,
                    )
                )
            reason_ids = tuple(_REASON_NAMES)
            for item in draft.returning_items:
                item_href = href / "returning-items" / str(item.id)
                links.append(
                    Link(
                        rel=f"remove-returning-item-{item.id}",
                        href=str(item_href),
                        method="DELETE",
                        description=f"Remove returning item {item.id} from the return",
                    )
                )
                links.append(
                    Link(
                        rel=f"set-returning-item-return-reason-{item.id}",
                        href=str(item_href / "return-reason"),
                        method="POST",
                        description=f"Set the return reason of returning item {item.id}",
                        prompt="Why are you returning this item?",
                        fields=(
                            Field(
                                name="return_reason_id",
                                type=FieldType.INT,
                                description="ID of a return reason from context.return_reasons",
                                allowed_values=reason_ids,
                                is_required=True,
                            ),
                            Field(
                                name="comment",
                                type=FieldType.STRING,
                                description="Optional comment",
                                max_length=500 if hal else None,
                            ),
                        ),
                        is_required=item.reason_id is None,
                    )
                )
            links.append(self._set_customer_link(href, hal=hal))
            if draft.returning_items and all(item.reason_id is not None for item in draft.returning_items):
                links.append(
                    Link(
                        rel="finalize-items",
                        href=str(href / "finalize-items"),
                        method="POST",
                        description="Finalize the returning items",
                        is_required=True,
                    )
                )
            if not draft.return_policy_accepted:
                links.append(self._accept_policy_link(href, hal=hal))
            links.append(self._cancel_link(href))
        elif draft.state == FINALIZED:
            links.append(
                Link(
                    rel="set-credit-type",
                    href=str(href / "credit-type"),
                    method="POST",
                    description="Choose how the customer is credited",
                    prompt="How would you like to be credited?",
                    fields=(
                        Field(
                            name="credit_type",
                            type=FieldType.ENUM,
                            description="One of context.available_credit_types",
                            allowed_values=self.credit_types(draft),
                            is_required=True,
                        ),
                    ),
                    is_required=draft.credit_type is None,
                )
            )
            links.append(
                Link(
                    rel="select-return-method",
                    href=str(href / "return-method"),
                    method="POST",
                    description="Select how the items are sent back",
                    prompt="How would you like to send your items back?",
                    fields=(
                        Field(
                            name="return_method_id",
                            type=FieldType.INT,
                            description="ID of a return method from context.return_methods",
                            allowed_values=tuple(m[0] for m in RETURN_METHODS),
                            is_required=True,
                        ),
                    ),
                    is_required=draft.return_method_id is None,
                )
            )
            links.append(self._address_link(href, hal=hal))
            if len(self.processing_types(draft)) > 1 or draft.processing_type != "regular":
                links.append(
                    Link(
                        rel="set-processing-type",
                        href=str(href / "processing-type"),
                        method="POST",
                        description="Set the processing type",
                        fields=(
                            Field(
                                name="processing_type",
                                type=FieldType.ENUM,
                                description="One of _embedded.processing_type_options",
                                allowed_values=self.processing_types(draft),
                                is_required=True,
                            ),
                        ),
                    )
                )
            catalog = tuple(v[0] for _, _, _, variants in CART_PRODUCTS for v in variants)
            available = tuple(v[0] for _, _, _, variants in CART_PRODUCTS for v in variants if v[4])
            links.append(
                Link(
                    rel="add-cart-item",
                    href=str(href / "cart-items"),
                    method="POST",
                    description="Add a new item to the cart",
                    fields=(
                        Field(
                            name="variant_id",
                            type=FieldType.INT,
                            description="ID of an available variant from context.cart_products (or variant_ids)",
                            allowed_values=available,
                        ),
                        Field(
                            name="variant_ids",
                            type=FieldType("array"),  # not a documented FieldType: kept as an open value
                            description="IDs of variants from context.cart_products; unavailable ones come "
                            "back in errors[] (or variant_id)",
                            allowed_values=catalog,
                            multiple=True,
                            min_items=1 if hal else None,
                        ),
                    ),
                )
            )
            links.append(
                Link(
                    rel="set-cart",
                    href=str(href / "cart"),
                    method="POST",
                    description="Set the whole cart",
                    fields=(
                        Field(
                            name="variant_ids",
                            type=FieldType("array"),  # not a documented FieldType: kept as an open value
                            description="IDs of available variants from context.cart_products: the new cart",
                            allowed_values=available,
                            is_required=True,
                            multiple=True,
                        ),
                    ),
                )
            )
            if self._ready(draft):
                links.append(
                    Link(
                        rel="submit-draft-return",
                        href=str(href / "submit"),
                        method="POST",
                        description="Submit the draft return",
                        is_required=True,
                    )
                )
            if not draft.return_policy_accepted:
                links.append(self._accept_policy_link(href, hal=hal))
            links.append(self._cancel_link(href))
        return links

    @staticmethod
    def _set_customer_link(href: URL, *, hal: bool) -> Link:
        email = Field(name="email", type=FieldType.STRING, description="Email address", is_required=True)
        if hal:
            email = attrs.evolve(email, regex=r"[^@\s]+@[^@\s]+\.[^@\s]+", max_length=255)
        return Link(
            rel="set-customer",
            href=str(href / "customer"),
            method="POST",
            description="Set the customer's email",
            fields=(email,),
        )

    @staticmethod
    def _accept_policy_link(href: URL, *, hal: bool) -> Link:
        # On HAL-FORMS the policy id rides along as a read-only property with its value (a guess).
        fields = (Field(name="return_policy_id", type=FieldType.INT, read_only=True, value=1),) if hal else ()
        return Link(
            rel="accept-return-policy",
            href=str(href / "accept-return-policy"),
            method="POST",
            description="Accept the return policy",
            fields=fields,
        )

    @staticmethod
    def _address_link(href: URL, *, hal: bool) -> Link:
        if not hal:
            fields: tuple[Field, ...] = (
                Field(
                    name="address",
                    type=FieldType("object"),  # not a documented FieldType: kept as an open value
                    description="address1, address2, city, state, country, country_code, zip",
                    is_required=True,
                ),
            )
        else:  # 2026-10: a flat body, with name, company and phone
            text = FieldType.STRING
            fields = (
                Field(name="name", type=text, max_length=255),
                Field(name="company", type=text, max_length=255),
                Field(name="address1", type=text, is_required=True, min_length=1, max_length=255),
                Field(name="address2", type=text, max_length=255),
                Field(name="city", type=text, is_required=True, min_length=1, max_length=255),
                Field(name="state", type=text, max_length=255),
                Field(name="zip", type=text, is_required=True, min_length=1, max_length=20),
                Field(name="country", type=text, max_length=255),
                Field(name="country_code", type=text, is_required=True, regex="[A-Z]{2}"),
                Field(name="phone", type=text, regex=r"\+?[0-9 ()\-]{5,20}"),
            )
        return Link(
            rel="set-address",
            href=str(href / "address"),
            method="POST",
            description="Set the shipping address",
            fields=fields,
        )

    @staticmethod
    def _cancel_link(href: URL) -> Link:
        return Link(rel="cancel-draft-return", href=str(href / "cancel"), method="POST", description="Cancel the draft")

    def context(self, draft: FakeDraft) -> DraftReturnContext:
        """Everything the next actions need, from the order and the shop's catalog."""
        order = draft.order
        return DraftReturnContext(
            order=Order(
                id=order.id,
                currency=order.currency,
                line_items=tuple(
                    OrderLineItem(
                        id=li.id,
                        provider_product_id=li.product_id,
                        provider_variant_id=li.variant_id,
                        title=li.title,
                        variant_title=li.variant_title,
                        price=li.price,
                        image=f"https://cdn.example.com/products/{li.sku.lower()}.jpg",
                    )
                    for li in order.line_items
                ),
            ),
            items_eligible_to_return=tuple(EligibleItem(order_line_item_id=li.id) for li in order.eligible_line_items),
            items_not_eligible_to_return=tuple(
                IneligibleItem(order_line_item_id=li.id, ineligibility_code=IneligibilityCode(li.ineligibility_code))
                for li in order.line_items
                if li.ineligibility_code is not None
            ),
            return_reasons=tuple(
                ReturnReason(
                    id=rid,
                    name=name,
                    requires_comment=needs,
                    child_reasons=tuple(ChildReturnReason(id=cid, name=cname) for cid, cname in children),
                )
                for rid, name, needs, children in RETURN_REASONS
            ),
            return_methods=tuple(
                ReturnMethod(id=mid, name=name, type=ReturnMethodType(kind), cost=cost, carrier=carrier)
                for mid, name, kind, cost, carrier in RETURN_METHODS
            ),
            available_credit_types=tuple(CreditType(c) for c in self.credit_types(draft)),
            cart_products=tuple(
                CartProduct(
                    id=pid,
                    title=title,
                    product_type=ptype,
                    image=f"https://cdn.example.com/products/{pid}.jpg",
                    variants=tuple(
                        ProductVariant(
                            id=vid,
                            title=vtitle,
                            sku=sku,
                            price=price + self.volatile_epoch,
                            available=ok,
                        )
                        for vid, vtitle, sku, price, ok in variants
                    ),
                )
                for pid, title, ptype, variants in CART_PRODUCTS
            ),
        )

    def draft_model(self, draft: FakeDraft) -> DraftReturn:
        """The ``draft_return`` object."""
        cur = draft.order.currency
        method = next((m[1] for m in RETURN_METHODS if m[0] == draft.return_method_id), None)
        items = []
        for item in draft.returning_items:
            reason = None
            if item.reason_id is not None:
                reason = ReturningItemReason(
                    id=item.reason_id, name=_REASON_NAMES[item.reason_id], comment=item.reason_comment
                )
            items.append(
                ReturningItem(
                    id=item.id,
                    order_line_item_id=item.line_item.id,
                    return_type=ReturnType.EXCHANGE if item.exchange_variant_id else ReturnType.CREDIT,
                    resolution=Resolution.RETURN,
                    reason=reason,
                    user_input=tuple(UserInput(id=k, value=v) for k, v in item.user_input.items()),
                    has_exchange_item=item.exchange_variant_id is not None,
                )
            )
        cart = []
        for cart_item in draft.cart_items:
            product_id, vid, title, sku, price, _ = self.store.variant(cart_item.variant_id) or (0, 0, "", "", 0, False)
            cart.append(
                CartItem(
                    id=cart_item.id,
                    variant_id=vid,
                    product_id=product_id,
                    sku=sku,
                    title=title,
                    price=_money(price, cur),
                    price_currency_code=cur,
                    exchange_type=ExchangeType.EXCHANGE
                    if cart_item.exchange_for_returning_item_id
                    else ExchangeType.STOREFRONT,
                    exchange_for_returning_item_id=cart_item.exchange_for_returning_item_id,
                )
            )
        address = structure(draft.shipping_address, Address) if draft.shipping_address else None
        return DraftReturn(
            id=draft.id,
            state=DraftReturnState(draft.state),
            return_id=draft.return_id,
            currency=cur,
            language="en",
            credit_type=CreditType(draft.credit_type) if draft.credit_type else None,
            store_credit_type=StoreCreditType.GIFT_CARD if draft.credit_type == "gift" else None,
            processing_type=ProcessingType(draft.processing_type),
            return_policy=ReturnPolicy(id=1, name="Standard 30-day return", return_window_days=30),
            totals=self.totals(draft),
            customer=Customer(email=draft.customer_email),
            shipping_address=address,
            returning_items=tuple(items),
            cart_items=tuple(cart),
            selected_return_method=method,
            payment_intent=draft.payment_intent,
            return_policy_accepted=draft.return_policy_accepted,
        )

    def _envelope(self, draft: FakeDraft, errors: Sequence[ApiErrorEntry]) -> dict[str, Any]:
        body = unstructure(
            DraftReturnResponse(draft_return=self.draft_model(draft), context=self.context(draft), errors=tuple(errors))
        )
        return {"draft_return": body["draft_return"], "context": body["context"], "errors": body["errors"]}

    def render(self, draft: FakeDraft, api_root: URL, errors: Sequence[ApiErrorEntry] = ()) -> Any:
        """The full envelope ``{draft_return, context, links, errors}`` as JSON-ready data."""
        body = self._envelope(draft, errors)
        return {
            "draft_return": body["draft_return"],
            "context": body["context"],
            "links": [links_entry(link) for link in self.links(draft, api_root)],
            "errors": body["errors"],
        }

    def render_hal_forms(
        self, draft: FakeDraft, api_root: URL, errors: Sequence[ApiErrorEntry] = (), *, targets: bool = False
    ) -> Any:
        """The same envelope in HAL-FORMS (``2026-10``): ``_links``, ``_templates``, ``_embedded``, and more.

        Loop's shape (the default): ``_links`` holds ``self`` and each action's href keyed by
        rel, ``_templates`` each action's form keyed by the same rel, without ``target``. With
        ``targets=True``, the spec's shape: ``_links`` holds only ``self`` and each template
        carries its href in ``target``. ``_embedded.processing_type_options`` lists the
        processing types on offer once the items are finalized. A terminal state has no
        templates and no action links.
        """
        body = self._envelope(draft, errors)
        links = self.links(draft, api_root, hal=True)
        hal_links: dict[str, Any] = {"self": {"href": str(api_root / "draft-returns" / str(draft.id))}}
        if not targets:
            hal_links.update({link.rel: {"href": link.href} for link in links})
        result: dict[str, Any] = {
            "draft_return": body["draft_return"],
            "context": body["context"],
            "_links": hal_links,
            "_templates": {link.rel: hal_template(link, target=targets) for link in links},
        }
        if draft.state == FINALIZED:
            options = [{"type": kind, "name": kind.title()} for kind in self.processing_types(draft)]
            result["_embedded"] = {"processing_type_options": options}
        result["client_application"] = CLIENT_APPLICATION
        result["errors"] = body["errors"]
        return result

    def render_list(self, api_root: URL, *, targets: bool = False) -> Any:
        """``GET /draft-returns``: every draft in ``_embedded.draft_returns``, each with its self link."""
        items = []
        for draft_id in sorted(self.store.drafts):
            draft = self.get(draft_id)
            model = unstructure(self.draft_model(draft))
            items.append({**model, "_links": {"self": {"href": str(api_root / "draft-returns" / str(draft.id))}}})
        return {
            "_links": {"self": {"href": str(api_root / "draft-returns")}},
            "_embedded": {"draft_returns": items},
            "client_application": CLIENT_APPLICATION,
        }

    def render_totals(self, draft: FakeDraft) -> Any:
        """``GET .../totals``: the totals with money as ``{amount, currencyCode}`` (in an envelope: a guess)."""

        def convert(value: Any) -> Any:
            if isinstance(value, dict):
                return {("currencyCode" if k == "currency" else k): convert(v) for k, v in value.items()}
            return value

        return {"totals": convert(unstructure(self.totals(draft)))}


#: The envelope's ``client_application`` (documented to exist; its shape is a guess).
CLIENT_APPLICATION: dict[str, Any] = {"id": "public-api", "name": "Loop Public API"}


def links_entry(link: Link) -> dict[str, Any]:
    """One ``links[]`` entry with the keys Loop documents (no HAL-FORMS constraint)."""
    return {
        "rel": link.rel,
        "href": link.href,
        "method": link.method,
        "description": link.description,
        "prompt": link.prompt,
        "fields": [
            {
                "name": f.name,
                "type": None if f.type is None else f.type.value,
                "description": f.description,
                "allowed_values": None if f.allowed_values is None else list(f.allowed_values),
                "is_required": f.is_required,
            }
            for f in link.fields
        ],
        "is_required": link.is_required,
    }


def hal_property(field: Field) -> dict[str, Any]:
    """One field as a HAL-FORMS property: an HTML input type, ``options`` for allowed values, constraints.

    ``allowed_values`` become ``options.inline`` (``maxItems: 1`` unless the field is
    ``multiple``); an ``int`` is a ``number`` with ``step: 1``, a ``string`` ``text`` (``email``
    for an email), a ``bool`` a ``checkbox``; ``description`` becomes ``prompt``.
    """
    prop: dict[str, Any] = {"name": field.name, "required": field.is_required}
    if field.allowed_values is not None:
        options: dict[str, Any] = {"inline": list(field.allowed_values)}
        if not field.multiple:
            options["maxItems"] = 1
        if field.min_items is not None:
            options["minItems"] = field.min_items
        prop["options"] = options
    elif field.type == FieldType.INT:
        prop.update(type="number", step=field.step or 1)
    elif field.type == FieldType.BOOL:
        prop["type"] = "checkbox"
    elif field.type is not None:
        prop["type"] = "email" if field.name == "email" else "text"
    if field.description is not None:
        prop["prompt"] = field.description
    constraints = {
        "regex": field.regex,
        "min": field.min,
        "max": field.max,
        "minLength": field.min_length,
        "maxLength": field.max_length,
        "value": field.value,
    }
    prop.update({key: value for key, value in constraints.items() if value is not None})
    if field.read_only:
        prop["readOnly"] = True
    return prop


def hal_template(link: Link, *, target: bool = False) -> dict[str, Any]:
    """One link as a HAL-FORMS template (``description`` → ``title``; its href in ``target`` only when asked).

    HAL-FORMS has no "required action" flag: a required link gets ``"required": true`` on the
    template, the extension :class:`~loop_async.hypermedia.HalFormsFormat` reads (Loop marks
    required templates too; its wire key is not documented).
    """
    template: dict[str, Any] = {"method": link.method, "contentType": "application/json"}
    if target:
        template["target"] = link.href
    if link.description is not None:
        template["title"] = link.description
    template["properties"] = [hal_property(field) for field in link.fields]
    if link.is_required:
        template["required"] = True
    return template
