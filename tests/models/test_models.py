"""Models and the converter: the reference payload, forward compatibility, junk."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loop_async import DecodeError
from loop_async.models import (
    CreditType,
    DraftReturnResponse,
    DraftReturnState,
    ExchangeType,
    FieldType,
    IneligibilityCode,
    Money,
    Note,
    ProcessingType,
    Resolution,
    Return,
    ReturnMethodType,
    ReturnType,
    StoreCreditType,
)
from loop_async.models._convert import structure, unstructure

REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "loop-api" / "draft-return-response.json"
if not REFERENCE.exists():  # a checkout without shared/ beside it: use the copy in tests/data
    REFERENCE = Path(__file__).resolve().parents[1] / "data" / "draft-return-response.json"


def load_reference() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(REFERENCE.read_text())
    return data


def test_reference_payload_decodes_with_every_field() -> None:
    r = structure(load_reference(), DraftReturnResponse)
    d = r.draft_return
    assert (d.id, d.return_id, d.state, d.currency, d.language) == (
        12345,
        67890,
        DraftReturnState.CREATED,
        "<string>",
        "en",
    )
    assert d.credit_type is None
    assert d.store_credit_type is StoreCreditType.GIFT_CARD
    assert d.processing_type is ProcessingType.REGULAR
    assert d.return_policy is not None and (d.return_policy.id, d.return_policy.return_window_days) == (1, 30)
    t = d.totals
    assert t is not None and t.fees is not None and t.credit is not None
    assert t.return_total == Money(amount=5000, currency="USD")
    assert t.new_item_total == Money(amount=3000, currency="USD")
    assert t.total_bonus_offered == t.bonus_used == Money(amount=500, currency="USD")
    assert t.fees.applied == Money(amount=300, currency="USD")
    assert t.fees.refund == t.fees.credit == t.fees.exchange == Money(amount=100, currency="USD")
    assert t.amount_due == Money(amount=0, currency="USD")
    assert t.credit.remaining_credit == t.credit.refund_credit == Money(amount=2000, currency="USD")
    assert t.credit.store_credit == Money(amount=0, currency="USD")
    assert t.net is not None and t.net.decimal == Decimal("20.00")
    assert d.customer is not None and d.customer.email == "[email protected]"
    a = d.shipping_address
    assert a is not None and (a.name, a.company, a.zip, a.country_code, a.phone) == (
        "Jane Doe",
        None,
        "60622",
        "US",
        "555-555-5555",
    )
    [item] = d.returning_items
    assert (item.id, item.order_line_item_id, item.return_type, item.resolution) == (
        1,
        12346,
        ReturnType.CREDIT,
        Resolution.RETURN,
    )
    assert item.reason is not None and (item.reason.id, item.reason.name, item.reason.comment) == (
        2,
        "Item didn't fit",
        None,
    )
    assert item.user_input[0].value is True and item.user_input[0].prompt
    assert item.image_uploads == ("https://cdn.example.com/return-images/abc123.jpg",)
    assert item.has_exchange_item is False
    [cart] = d.cart_items
    assert (cart.id, cart.variant_id, cart.product_id, cart.sku) == (201, 501, 100, "SHIRT-RED-S")
    assert cart.price == Money(amount=2500, currency="USD")
    assert cart.exchange_type is ExchangeType.EXCHANGE and cart.exchange_for_returning_item_id == 1
    assert d.selected_return_method == "UPS Ground"
    c = r.context
    assert c is not None and c.order is not None
    assert (c.order.id, c.order.currency) == (42, "USD")
    [line] = c.order.line_items
    assert (line.id, line.provider_product_id, line.provider_variant_id, line.price) == (
        74,
        7804939829359,
        43045586894959,
        2250,
    )
    assert [e.order_line_item_id for e in c.items_eligible_to_return] == [74]
    [ineligible] = c.items_not_eligible_to_return
    assert ineligible.ineligibility_code is IneligibilityCode.NOT_ELIGIBLE_FOR_RETURN
    [reason] = c.return_reasons
    assert (reason.id, reason.requires_comment, reason.child_reasons[0].id) == (1, False, 10)
    [method] = c.return_methods
    assert (method.type, method.cost, method.carrier) == (ReturnMethodType.LABEL, 0, "UPS")
    assert c.available_credit_types == (CreditType.REFUND,)
    assert c.cart_products[0].variants[0].available is True
    [link] = r.links
    assert (link.rel, link.method, link.is_required, link.prompt) == (
        "<string>",
        "<string>",
        True,
        "Which item would you like to return?",
    )
    [field] = link.fields
    assert (field.name, field.type, field.is_required) == ("order_line_item_id", FieldType.INT, True)
    assert field.allowed_values == ("refund", "gift", "exchange")
    assert [(e.code, e.message) for e in r.errors] == [("<string>", "<string>")]


def test_reference_payload_reencodes_to_equal_json() -> None:
    data = load_reference()
    again = json.loads(json.dumps(unstructure(structure(data, DraftReturnResponse))))
    assert again == data


def test_items_finalized_alias_and_unknown_enum_values() -> None:
    data = load_reference()
    data["draft_return"]["state"] = "items-finalized"
    data["draft_return"]["processing_type"] = "teleport"
    r = structure(data, DraftReturnResponse)
    assert r.draft_return.state is DraftReturnState.RETURNING_ITEMS_FINALIZED
    assert r.draft_return.processing_type == "teleport"
    assert r.draft_return.processing_type is not None and not r.draft_return.processing_type.is_known


def test_nulls_where_allowed() -> None:
    data = load_reference()
    data["draft_return"].update(totals=None, returning_items=None, customer=None)
    data["links"] = None
    r = structure(data, DraftReturnResponse)
    assert r.draft_return.totals is None
    assert r.draft_return.returning_items == ()
    assert r.links == ()


def test_decode_error_names_the_path() -> None:
    data = load_reference()
    data["draft_return"]["totals"]["net"]["amount"] = 12.5  # money is never a float
    with pytest.raises(DecodeError, match=r"\$\.draft_return\.totals\.net\.amount"):
        structure(data, DraftReturnResponse)


def test_string_money_is_decimal_never_float() -> None:
    ret = structure({"id": 1, "currency": "EUR", "total": "10.10", "line_items": [{"price": "0.10"}]}, Return)
    assert ret.total == Decimal("10.10")
    assert isinstance(ret.line_items[0].price, Decimal)
    assert ret.money(ret.total) is not None and ret.money(ret.total).currency == "EUR"  # type: ignore[union-attr]


def test_note_datetime_formats() -> None:
    a = structure({"id": 1, "content": "x", "created_at": "2026-11-23 10:00:00"}, Note)
    b = structure({"id": 1, "content": "x", "created_at": "2026-11-23T10:00:00Z"}, Note)
    assert a.created_at == b.created_at and a.created_at is not None and a.created_at.tzinfo is not None


json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=10,
)


def _with_extras(obj: Any, extras: dict[str, Any]) -> Any:
    if isinstance(obj, dict):
        out = {k: _with_extras(v, extras) for k, v in obj.items()}
        out.update({f"zz_new_{k}": v for k, v in extras.items()})
        return out
    if isinstance(obj, list):
        return [_with_extras(v, extras) for v in obj]
    return obj


@settings(max_examples=50, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.text(min_size=1, max_size=8), json_values, max_size=3))
def test_extra_keys_anywhere_are_ignored(extras: dict[str, Any]) -> None:
    data = _with_extras(load_reference(), extras)
    assert structure(data, DraftReturnResponse) == structure(load_reference(), DraftReturnResponse)


@settings(max_examples=50)
@given(st.text(min_size=1, max_size=20))
def test_unknown_enum_strings_decode_and_keep_the_raw_value(value: str) -> None:
    data = load_reference()
    data["draft_return"]["state"] = value
    data["context"]["available_credit_types"] = [value]
    r = structure(data, DraftReturnResponse)
    assert r.draft_return.state == (DraftReturnState.RETURNING_ITEMS_FINALIZED if value == "items-finalized" else value)
    assert r.context is not None and r.context.available_credit_types[0] == value


@settings(max_examples=200)
@given(json_values)
def test_random_junk_raises_decode_error_and_nothing_else(junk: Any) -> None:
    try:
        structure(junk, DraftReturnResponse)
    except DecodeError:
        pass


@settings(max_examples=100)
@given(st.sampled_from(["draft_return", "context", "links", "errors"]), json_values)
def test_junk_in_a_field_raises_decode_error_only(key: str, junk: Any) -> None:
    data = load_reference()
    data[key] = junk
    try:
        structure(data, DraftReturnResponse)
    except DecodeError:
        pass


def test_money_decimal_follows_the_currency_minor_unit() -> None:
    assert Money(amount=2500, currency="USD").decimal == Decimal("25.00")
    assert Money(amount=2500, currency="JPY").decimal == Decimal("2500")
    assert Money(amount=2500, currency="KWD").decimal == Decimal("2.500")
    assert Money(amount=5).decimal == Decimal("0.05")


@pytest.mark.parametrize("junk", [{"a": 1}, ["x"], True, None])
def test_text_fields_refuse_non_text(junk: Any) -> None:
    with pytest.raises(DecodeError, match=r"\$\.content"):
        structure({"id": 1, "content": junk}, Note)
