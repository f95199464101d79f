"""The links a draft return offers: one declarative table, a row per action, per state.

A row says where the action goes, what it asks for and when it is offered or required; a
field's ``hal`` holds the HAL-FORMS constraints the ``links[]`` format leaves out, and
``formats`` says which formats carry the field at all. :func:`offered_links` turns the table
into the links of one draft now, in a stable order; terminal states offer none.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs
from yarl import URL

from loop_async.testing.catalog import CART_PRODUCTS, RETURN_METHODS
from loop_async.testing.drafts.states import (
    CREATED,
    FINALIZED,
    REASON_NAMES,
    credit_types,
    processing_types,
    ready_to_submit,
)
from loop_async.testing.store import FakeDraft, FakeReturningItem

__all__ = ["LINK_TABLE", "FieldSpec", "LinkSpec", "OfferedField", "OfferedLink", "offered_links"]

Values = tuple[Any, ...] | Callable[[FakeDraft], tuple[Any, ...]] | None
BOTH = frozenset({"links", "hal"})
HAL_ONLY = frozenset({"hal"})
LINKS_ONLY = frozenset({"links"})

_CATALOG = tuple(v[0] for _, _, _, variants in CART_PRODUCTS for v in variants)
_AVAILABLE = tuple(v[0] for _, _, _, variants in CART_PRODUCTS for v in variants if v[4])


@attrs.frozen
class FieldSpec:
    """One input of an action. ``type`` is Loop's (``int``, ``string``, ``enum``; ``object`` and
    ``array`` are not documented ones); ``hal`` the HAL-FORMS constraints (``regex``,
    ``min_length``, ``max_length``, ``read_only``, ``value``, ``min_items``)."""

    name: str
    type: str
    description: str | None = None
    allowed: Values = None
    is_required: bool = False
    multiple: bool = False
    hal: Mapping[str, Any] = attrs.field(factory=dict)
    formats: frozenset[str] = BOTH


@attrs.frozen
class LinkSpec:
    """One action: ``rel`` and ``path`` may hold ``{item}``, the returning item's id (one link per item)."""

    rel: str
    path: str
    description: str
    method: str = "POST"
    prompt: str | None = None
    fields: tuple[FieldSpec, ...] = ()
    offered: Callable[[FakeDraft], bool] = lambda draft: True
    required: Callable[[FakeDraft, FakeReturningItem | None], bool] = lambda draft, item: False

    @property
    def per_item(self) -> bool:
        """Whether the row gives one link per returning item."""
        return "{item}" in self.rel


@attrs.frozen
class OfferedField:
    """A field of an offered link, its allowed values resolved for the draft."""

    name: str
    type: str
    description: str | None
    allowed_values: tuple[Any, ...] | None
    is_required: bool
    multiple: bool
    hal: Mapping[str, Any]


@attrs.frozen
class OfferedLink:
    """An action the draft offers now, in one format."""

    rel: str
    href: str
    method: str
    description: str | None
    prompt: str | None
    fields: tuple[OfferedField, ...]
    is_required: bool


def _remaining(draft: FakeDraft) -> tuple[int, ...]:
    added = {item.line_item.id for item in draft.returning_items}
    return tuple(li.id for li in draft.order.eligible_line_items if li.id not in added)


def _all_reasoned(draft: FakeDraft) -> bool:
    return bool(draft.returning_items) and all(item.reason_id is not None for item in draft.returning_items)


_TEXT = "string"
_ADDRESS_FIELDS = (
    FieldSpec(
        "address",
        "object",
        "address1, address2, city, state, country, country_code, zip",
        is_required=True,
        formats=LINKS_ONLY,
    ),
    # 2026-10 (HAL-FORMS): a flat body, with name, company and phone.
    FieldSpec("name", _TEXT, hal={"max_length": 255}, formats=HAL_ONLY),
    FieldSpec("company", _TEXT, hal={"max_length": 255}, formats=HAL_ONLY),
    FieldSpec("address1", _TEXT, is_required=True, hal={"min_length": 1, "max_length": 255}, formats=HAL_ONLY),
    FieldSpec("address2", _TEXT, hal={"max_length": 255}, formats=HAL_ONLY),
    FieldSpec("city", _TEXT, is_required=True, hal={"min_length": 1, "max_length": 255}, formats=HAL_ONLY),
    FieldSpec("state", _TEXT, hal={"max_length": 255}, formats=HAL_ONLY),
    FieldSpec("zip", _TEXT, is_required=True, hal={"min_length": 1, "max_length": 20}, formats=HAL_ONLY),
    FieldSpec("country", _TEXT, hal={"max_length": 255}, formats=HAL_ONLY),
    FieldSpec("country_code", _TEXT, is_required=True, hal={"regex": "[A-Z]{2}"}, formats=HAL_ONLY),
    FieldSpec("phone", _TEXT, hal={"regex": r"\+?[0-9 ()\-]{5,20}"}, formats=HAL_ONLY),
)

_ACCEPT_POLICY = LinkSpec(
    "accept-return-policy",
    "accept-return-policy",
    "Accept the return policy",
    # On HAL-FORMS the policy id rides along as a read-only property with its value (a guess).
    fields=(FieldSpec("return_policy_id", "int", hal={"read_only": True, "value": 1}, formats=HAL_ONLY),),
    offered=lambda draft: not draft.return_policy_accepted,
)
_CANCEL = LinkSpec("cancel-draft-return", "cancel", "Cancel the draft")

#: Every action, by the state that offers it, in the order the links are listed.
LINK_TABLE: Mapping[str, tuple[LinkSpec, ...]] = {
    CREATED: (
        LinkSpec(
            "add-returning-item",
            "returning-items",
            "Add a line item to the return",
            prompt="Which item would you like to return?",
            fields=(
                FieldSpec("order_line_item_id", "int", "ID of the line item to return", _remaining, is_required=True),
            ),
            offered=lambda draft: bool(_remaining(draft)),
            required=lambda draft, item: not draft.returning_items,
        ),
        LinkSpec(
            "remove-returning-item-{item}",
            "returning-items/{item}",
            "Remove returning item {item} from the return",
            method="DELETE",
        ),
        LinkSpec(
            "set-returning-item-return-reason-{item}",
            "returning-items/{item}/return-reason",
            "Set the return reason of returning item {item}",
            prompt="Why are you returning this item?",
            fields=(
                FieldSpec(
                    "return_reason_id",
                    "int",
                    "ID of a return reason from context.return_reasons",
                    tuple(REASON_NAMES),
                    is_required=True,
                ),
                FieldSpec("comment", _TEXT, "Optional comment", hal={"max_length": 500}),
            ),
            required=lambda draft, item: item is not None and item.reason_id is None,
        ),
        LinkSpec(
            "set-customer",
            "customer",
            "Set the customer's email",
            fields=(
                FieldSpec(
                    "email",
                    _TEXT,
                    "Email address",
                    is_required=True,
                    hal={"regex": r"[^@\s]+@[^@\s]+\.[^@\s]+", "max_length": 255},
                ),
            ),
        ),
        LinkSpec(
            "finalize-items",
            "finalize-items",
            "Finalize the returning items",
            offered=_all_reasoned,
            required=lambda draft, item: True,
        ),
        _ACCEPT_POLICY,
        _CANCEL,
    ),
    FINALIZED: (
        LinkSpec(
            "set-credit-type",
            "credit-type",
            "Choose how the customer is credited",
            prompt="How would you like to be credited?",
            fields=(
                FieldSpec(
                    "credit_type", "enum", "One of context.available_credit_types", credit_types, is_required=True
                ),
            ),
            required=lambda draft, item: draft.credit_type is None,
        ),
        LinkSpec(
            "select-return-method",
            "return-method",
            "Select how the items are sent back",
            prompt="How would you like to send your items back?",
            fields=(
                FieldSpec(
                    "return_method_id",
                    "int",
                    "ID of a return method from context.return_methods",
                    tuple(m[0] for m in RETURN_METHODS),
                    is_required=True,
                ),
            ),
            required=lambda draft, item: draft.return_method_id is None,
        ),
        LinkSpec("set-address", "address", "Set the shipping address", fields=_ADDRESS_FIELDS),
        LinkSpec(
            "set-processing-type",
            "processing-type",
            "Set the processing type",
            fields=(
                FieldSpec(
                    "processing_type",
                    "enum",
                    "One of _embedded.processing_type_options",
                    processing_types,
                    is_required=True,
                ),
            ),
            offered=lambda draft: len(processing_types(draft)) > 1 or draft.processing_type != "regular",
        ),
        LinkSpec(
            "add-cart-item",
            "cart-items",
            "Add a new item to the cart",
            fields=(
                FieldSpec(
                    "variant_id",
                    "int",
                    "ID of an available variant from context.cart_products (or variant_ids)",
                    _AVAILABLE,
                ),
                FieldSpec(
                    "variant_ids",
                    "array",
                    "IDs of variants from context.cart_products; unavailable ones come "
                    "back in errors[] (or variant_id)",
                    _CATALOG,
                    multiple=True,
                    hal={"min_items": 1},
                ),
            ),
        ),
        LinkSpec(
            "set-cart",
            "cart",
            "Set the whole cart",
            fields=(
                FieldSpec(
                    "variant_ids",
                    "array",
                    "IDs of available variants from context.cart_products: the new cart",
                    _AVAILABLE,
                    is_required=True,
                    multiple=True,
                ),
            ),
        ),
        LinkSpec(
            "submit-draft-return",
            "submit",
            "Submit the draft return",
            offered=ready_to_submit,
            required=lambda draft, item: True,
        ),
        _ACCEPT_POLICY,
        _CANCEL,
    ),
}


def _field(spec: FieldSpec, draft: FakeDraft, fmt: str) -> OfferedField:
    allowed = spec.allowed(draft) if callable(spec.allowed) else spec.allowed
    hal = spec.hal if fmt == "hal" else {}
    return OfferedField(spec.name, spec.type, spec.description, allowed, spec.is_required, spec.multiple, hal)


def _link(spec: LinkSpec, draft: FakeDraft, href: URL, fmt: str, item: FakeReturningItem | None) -> OfferedLink:
    item_id = "" if item is None else str(item.id)
    path = spec.path.replace("{item}", item_id)
    return OfferedLink(
        rel=spec.rel.replace("{item}", item_id),
        href=str(href.joinpath(*path.split("/"))),
        method=spec.method,
        description=spec.description.replace("{item}", item_id),
        prompt=spec.prompt,
        fields=tuple(_field(f, draft, fmt) for f in spec.fields if fmt in f.formats),
        is_required=spec.required(draft, item),
    )


def offered_links(draft: FakeDraft, api_root: URL, fmt: str) -> list[OfferedLink]:
    """The links ``draft`` offers now, for ``fmt`` (``"links"`` or ``"hal"``).

    Consecutive per-item rows are listed item by item (remove, then reason, for each item).
    """
    href = api_root / "draft-returns" / str(draft.id)
    rows = LINK_TABLE.get(draft.state, ())
    links: list[OfferedLink] = []
    index = 0
    while index < len(rows):
        if not rows[index].per_item:
            if rows[index].offered(draft):
                links.append(_link(rows[index], draft, href, fmt, None))
            index += 1
            continue
        group_end = index
        while group_end < len(rows) and rows[group_end].per_item:
            group_end += 1
        for item in draft.returning_items:
            links += [_link(row, draft, href, fmt, item) for row in rows[index:group_end] if row.offered(draft)]
        index = group_end
    return links
