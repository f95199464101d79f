"""Field validation: every rule, all problems at once, and a property test against an oracle."""

from __future__ import annotations

import math
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loop_async.errors import FieldValidationError
from loop_async.hypermedia import Field
from loop_async.hypermedia.validation import check_values, validate_values
from loop_async.models import Address, FieldType


def field(
    name: str, type_: str | None = None, *, allowed: tuple[Any, ...] | None = None, required: bool = False
) -> Field:
    return Field(
        name=name, type=None if type_ is None else FieldType(type_), allowed_values=allowed, is_required=required
    )


LINE_ITEM = field("order_line_item_id", "int", allowed=(74, 75), required=True)
COMMENT = field("comment", "string")


def test_valid_values_pass_and_optional_none_is_dropped() -> None:
    assert validate_values([LINE_ITEM, COMMENT], {"order_line_item_id": 74, "comment": None}) == {
        "order_line_item_id": 74
    }


def test_every_problem_is_reported_at_once_with_a_hint() -> None:
    fields = [LINE_ITEM, COMMENT, field("credit_type", "enum", allowed=("refund", "gift"), required=True)]
    with pytest.raises(FieldValidationError) as caught:
        validate_values(fields, {"order_line_item_id": 99, "coment": "hi", "comment": 5}, action="add-returning-item")
    err = caught.value
    assert err.names == ("order_line_item_id", "comment", "credit_type", "coment")
    messages = {p.name: p.message for p in err.problems}
    assert "99 is not allowed" in messages["order_line_item_id"]
    assert "74" in messages["order_line_item_id"]
    assert messages["comment"].startswith("must be a string")
    assert messages["credit_type"] == "is required"
    assert "did you mean 'comment'" in messages["coment"]
    assert "add-returning-item" in str(err)
    assert "nothing was sent" in str(err)


def test_required_field_given_as_none_is_missing() -> None:
    assert [p.message for p in check_values([LINE_ITEM], {"order_line_item_id": None})] == ["is required"]


def test_bool_is_not_an_int_and_one_is_not_true() -> None:
    assert check_values([field("n", "int")], {"n": True})[0].message.startswith("must be an int")
    assert check_values([field("flag", "bool", allowed=(True,))], {"flag": True}) == []
    assert check_values([field("x", None, allowed=(1,))], {"x": True}) != []
    assert check_values([field("x", None, allowed=(True,))], {"x": 1}) != []


@pytest.mark.parametrize(
    ("type_", "good", "bad"),
    [
        ("int", 3, 3.0),
        ("integer", 3, "3"),
        ("string", "x", 1),
        ("bool", False, 0),
        ("enum", "refund", {"a": 1}),
        ("number", 2.5, float("nan")),
        ("object", {"city": "Chicago"}, ["city"]),
        ("object", Address(city="Chicago"), "Chicago"),
        ("array", [1, 2], "12"),
    ],
)
def test_types(type_: str, good: Any, bad: Any) -> None:
    assert check_values([field("v", type_)], {"v": good}) == []
    assert len(check_values([field("v", type_)], {"v": bad})) == 1


def test_unknown_type_is_accepted_as_the_server_judges_it() -> None:
    f = field("when", "date-time")
    assert not FieldType("date-time").is_known
    assert check_values([f], {"when": "2026-01-01"}) == []
    assert check_values([f], {"when": 5}) == []


def test_array_allowed_values_apply_to_each_element() -> None:
    f = field("ids", "array", allowed=(1, 2, 3))
    assert check_values([f], {"ids": [1, 3]}) == []
    [problem] = check_values([f], {"ids": [1, 4]})
    assert "[4]" in problem.message


def test_an_action_without_fields_refuses_any_value() -> None:
    [problem] = check_values([], {"force": True})
    assert problem.message == "unknown field: this action takes no fields"


def test_empty_allowed_values_allow_nothing() -> None:
    [problem] = check_values([field("id", "int", allowed=())], {"id": 1})
    assert "no value is allowed now" in problem.message


# -- property: validation accepts exactly what the metadata allows ----------------------------

NAMES = ["a", "b", "c", "d"]
TYPES = ["int", "string", "bool", "enum", "number", "object", "array", "geo-point", None]
scalars = st.one_of(
    st.integers(-3, 3),
    st.booleans(),
    st.sampled_from(["x", "y", "refund", ""]),
    st.sampled_from([0.5, -1.5, 2.0]),
)
values_st = st.one_of(
    st.none(),
    scalars,
    st.lists(scalars, max_size=3),
    st.dictionaries(st.sampled_from(["k", "z"]), scalars, max_size=2),
)


@st.composite
def fields_st(draw: st.DrawFn) -> list[Field]:
    names = draw(st.lists(st.sampled_from(NAMES), unique=True, max_size=4))
    result = []
    for name in names:
        allowed = draw(st.one_of(st.none(), st.lists(scalars, max_size=4).map(tuple)))
        result.append(field(name, draw(st.sampled_from(TYPES)), allowed=allowed, required=draw(st.booleans())))
    return result


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number" if isinstance(value, float) else "int"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "object"
    return "array"


ACCEPTS = {
    "int": {"int"},
    "string": {"string"},
    "bool": {"bool"},
    "enum": {"bool", "int", "number", "string"},
    "number": {"int", "number"},
    "object": {"object"},
    "array": {"array"},
}


def _member(value: Any, allowed: tuple[Any, ...]) -> bool:
    # JSON equality: booleans apart from numbers, 2 == 2.0.
    kind = "bool" if isinstance(value, bool) else "x"
    return any(("bool" if isinstance(a, bool) else "x") == kind and a == value for a in allowed)


def oracle(fields: list[Field], values: dict[str, Any]) -> bool:
    by_name = {f.name: f for f in fields}
    if set(values) - set(by_name):
        return False
    for f in fields:
        value = values.get(f.name)
        if value is None:
            if f.is_required:
                return False
            continue
        type_name = None if f.type is None else f.type.value
        if type_name in ACCEPTS:
            if _json_kind(value) not in ACCEPTS[type_name]:
                return False
            if type_name == "number" and not math.isfinite(value):
                return False
        if f.allowed_values is not None:
            items = value if type_name == "array" else [value]
            if not all(_member(item, f.allowed_values) for item in items):
                return False
    return True


@settings(max_examples=400, deadline=None)
@given(fields=fields_st(), values=st.dictionaries(st.sampled_from([*NAMES, "e"]), values_st, max_size=5))
def test_validation_accepts_exactly_what_the_metadata_allows(fields: list[Field], values: dict[str, Any]) -> None:
    problems = check_values(fields, values)
    assert (not problems) == oracle(fields, values)
    if not problems:
        assert validate_values(fields, values) == {k: v for k, v in values.items() if v is not None}
    else:
        with pytest.raises(FieldValidationError) as caught:
            validate_values(fields, values)
        assert caught.value.problems == tuple(problems)
        assert {p.name for p in problems} <= set(values) | {f.name for f in fields}


def test_hypermedia_field_is_the_models_field() -> None:
    from loop_async import models

    assert Field is models.Field
    assert attrs.fields(Field).is_required.default is False
