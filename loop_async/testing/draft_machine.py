"""The draft-return state machine: transitions, links per state, totals, and the JSON envelope.

States: ``created`` → (``finalize-items``) → ``returning-items-finalized`` → (``submit-draft-return``)
→ ``submitted``; ``cancel-draft-return`` leads to ``cancelled`` from either open state, and a
draft past its expiry (or expired by the test) is ``expired``. Terminal states have no links.
Every refused transition answers 409 ``invalid-state-transition`` in Loop's draft-error shape;
bad input answers 422 ``validation-failed`` (or a more specific kebab-case code).

Two renderings of the same envelope: :meth:`DraftMachine.render` with Loop's ``links[]`` (API
``v1``/``2026-07``) and :meth:`DraftMachine.render_hal_forms` with HAL-FORMS ``_links`` and
``_templates`` (``2026-10``), both from the one list of links :meth:`DraftMachine.links` gives.

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

from yarl import URL

from loop_async._convert import structure, unstructure
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
    "hal_property",
    "hal_template",
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
            message = f"Draft return {draft.id} is {draft.state}; no action is available."
        else:
            message = f"Draft return {draft.id} is {draft.state}; this action needs state {' or '.join(states)}."
        raise draft_error(409, "invalid-state-transition", message)

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
        if credit_type not in self.credit_types(draft):
            allowed = ", ".join(self.credit_types(draft))
            raise validation_error({"credit_type": [f"The credit type must be one of: {allowed}."]})
        draft.credit_type = str(credit_type)

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
        raw = body.get("address")
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

    def submit(self, draft: FakeDraft) -> FakeReturn:
        """``returning-items-finalized`` → ``submitted``: creates the return (state ``open``)."""
        self._require(draft, FINALIZED)
        if draft.credit_type is None or draft.return_method_id is None:
            raise draft_error(422, "validation-failed", "Set a credit type and a return method before submitting.")
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
        """Totals in minor units, recomputed from the draft (see the README for the rules)."""
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

    def links(self, draft: FakeDraft, api_root: URL) -> list[Link]:
        """The actions valid now, in a stable order; none in a terminal state."""
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
                            Field(name="comment", type=FieldType.STRING, description="Optional comment"),
                        ),
                        is_required=item.reason_id is None,
                    )
                )
            links.append(self._set_customer_link(href))
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
            links.append(
                Link(
                    rel="set-address",
                    href=str(href / "address"),
                    method="POST",
                    description="Set the shipping address",
                    fields=(
                        Field(
                            name="address",
                            type=FieldType("object"),  # not a documented FieldType: kept as an open value
                            description="address1, address2, city, state, country, country_code, zip",
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
                        ),
                    ),
                )
            )
            if draft.credit_type is not None and draft.return_method_id is not None:
                links.append(
                    Link(
                        rel="submit-draft-return",
                        href=str(href / "submit"),
                        method="POST",
                        description="Submit the draft return",
                        is_required=True,
                    )
                )
            links.append(self._cancel_link(href))
        return links

    @staticmethod
    def _set_customer_link(href: URL) -> Link:
        return Link(
            rel="set-customer",
            href=str(href / "customer"),
            method="POST",
            description="Set the customer's email",
            fields=(Field(name="email", type=FieldType.STRING, description="Email address", is_required=True),),
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
                        ProductVariant(id=vid, title=vtitle, sku=sku, price=price, available=ok)
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
            processing_type=ProcessingType.REGULAR,
            return_policy=ReturnPolicy(id=1, name="Standard 30-day return", return_window_days=30),
            totals=self.totals(draft),
            customer=Customer(email=draft.customer_email),
            shipping_address=address,
            returning_items=tuple(items),
            cart_items=tuple(cart),
            selected_return_method=method,
        )

    def render(self, draft: FakeDraft, api_root: URL, errors: Sequence[ApiErrorEntry] = ()) -> Any:
        """The full envelope ``{draft_return, context, links, errors}`` as JSON-ready data."""
        response = DraftReturnResponse(
            draft_return=self.draft_model(draft),
            context=self.context(draft),
            links=tuple(self.links(draft, api_root)),
            errors=tuple(errors),
        )
        return unstructure(response)

    def render_hal_forms(self, draft: FakeDraft, api_root: URL, errors: Sequence[ApiErrorEntry] = ()) -> Any:
        """The same envelope in HAL-FORMS (API ``2026-10``): ``links`` becomes ``_links`` + ``_templates``.

        ``draft_return``, ``context`` and ``errors`` are those of :meth:`render`; ``_links`` holds
        ``self`` (the draft's GET URL) and ``_templates`` one template per link of :meth:`links`,
        keyed by rel (see :func:`hal_template`). A terminal state has no templates.
        """
        body = unstructure(
            DraftReturnResponse(draft_return=self.draft_model(draft), context=self.context(draft), errors=tuple(errors))
        )
        del body["links"]
        return {
            "draft_return": body.pop("draft_return"),
            "context": body.pop("context"),
            "_links": {"self": {"href": str(api_root / "draft-returns" / str(draft.id))}},
            "_templates": {link.rel: hal_template(link) for link in self.links(draft, api_root)},
            **body,  # errors, and any envelope key the model gains later
        }


# HAL-FORMS property types are HTML input types: the two with an HTML name use it, the others
# ("int", "enum", "object", "array") keep the links[] name, which HalFormsFormat reads back as is.
_HAL_INPUT_TYPES = {FieldType.STRING: "text", FieldType.BOOL: "checkbox"}


def hal_property(field: Field) -> dict[str, Any]:
    """One ``links[]`` field as a HAL-FORMS property (``allowed_values`` → ``options.inline``, description → prompt)."""
    prop: dict[str, Any] = {"name": field.name, "required": field.is_required}
    if field.type is not None:
        prop["type"] = _HAL_INPUT_TYPES.get(field.type, field.type.value)
    if field.description is not None:
        prop["prompt"] = field.description
    if field.allowed_values is not None:
        prop["options"] = {"inline": list(field.allowed_values)}
    return prop


def hal_template(link: Link) -> dict[str, Any]:
    """One ``links[]`` link as a HAL-FORMS template (``description`` → ``title``, ``href`` → ``target``).

    HAL-FORMS has no "required action" flag: a required link gets ``"required": true`` on the
    template, the extension :class:`~loop_async.hypermedia.HalFormsFormat` reads.
    """
    template: dict[str, Any] = {"method": link.method, "contentType": "application/json", "target": link.href}
    if link.description is not None:
        template["title"] = link.description
    template["properties"] = [hal_property(field) for field in link.fields]
    if link.is_required:
        template["required"] = True
    return template
