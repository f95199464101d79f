"""The converter's generated fast path against a plain cattrs decode, and the navigator's lazy resource.

The fast converter builds models with code generated per class (``object.__new__`` and slot
stores); the detailed converter still goes through cattrs' own hooks and the classes'
``__init__``. Whatever the fast path builds must be indistinguishable from what cattrs builds:
``==``, ``repr``, ``attrs.asdict``, pickling, hashing, frozenness, the same refusals.
"""

from __future__ import annotations

import copy
import json
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from loop_async import DecodeError, LoopClient
from loop_async.hypermedia._lazy import UNDECODED as _UNDECODED
from loop_async.models import DraftReturn, DraftReturnResponse, Link, Money, ReturnsPage
from loop_async.models._convert import _detailed, _fast, converter, structure
from tests.scripted import ScriptedServer

REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "loop-api" / "draft-return-response.json"
if not REFERENCE.exists():  # a checkout without shared/ beside it: use the copy in tests/data
    REFERENCE = Path(__file__).resolve().parents[1] / "data" / "draft-return-response.json"


def reference() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(REFERENCE.read_text())
    return data


def cattrs_decode(data: Any, cls: type[Any]) -> Any:
    """The plain cattrs decode: the detailed converter (cattrs' generated hooks, the classes' __init__)."""
    return _detailed.structure(data, cls)


def objects(value: Any) -> Iterator[Any]:
    """Every attrs instance inside ``value``, depth first."""
    if attrs.has(type(value)):
        yield value
        for field in attrs.fields(type(value)):
            yield from objects(getattr(value, field.name))
    elif isinstance(value, tuple):
        for item in value:
            yield from objects(item)


def test_the_fast_path_is_generated_code() -> None:
    # Guards the rest of this file: if the generator silently fell back, nothing here would test it.
    assert converter.get_structure_hook(DraftReturnResponse).__name__ == "fast_structure_DraftReturnResponse"
    assert converter.get_structure_hook(Money).__name__ == "fast_structure_Money"
    assert not _detailed.get_structure_hook(Money).__name__.startswith("fast_")


def test_reference_payload_fast_equals_cattrs() -> None:
    fast, plain = structure(reference(), DraftReturnResponse), cattrs_decode(reference(), DraftReturnResponse)
    assert fast == plain
    assert repr(fast) == repr(plain)
    assert attrs.asdict(fast) == attrs.asdict(plain)
    assert attrs.astuple(fast) == attrs.astuple(plain)
    assert hash(fast.draft_return.totals) == hash(plain.draft_return.totals)
    fast_objects, plain_objects = list(objects(fast)), list(objects(plain))
    assert len(fast_objects) == len(plain_objects) > 30
    assert [type(o) for o in fast_objects] == [type(o) for o in plain_objects]
    for a, b in zip(fast_objects, plain_objects, strict=True):
        # Every field set, with values of the same types (a missing slot would raise here).
        assert [type(getattr(a, f.name)) for f in attrs.fields(type(a))] == [
            type(getattr(b, f.name)) for f in attrs.fields(type(b))
        ]


def test_fast_models_pickle_copy_and_evolve_like_cattrs_ones() -> None:
    fast, plain = structure(reference(), DraftReturnResponse), cattrs_decode(reference(), DraftReturnResponse)
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        again = pickle.loads(pickle.dumps(fast, protocol=protocol))
        assert again == plain and repr(again) == repr(plain)
    assert copy.deepcopy(fast) == plain and copy.copy(fast) == fast
    moved = attrs.evolve(fast.draft_return, state="submitted")
    assert moved == attrs.evolve(plain.draft_return, state="submitted")


def test_fast_models_stay_frozen() -> None:
    fast = structure(reference(), DraftReturnResponse)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        fast.draft_return.id = 1  # type: ignore[misc]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        del fast.links[0].rel  # type: ignore[misc]
    assert fast.draft_return.id == 12345


def _variants(data: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    """(path, mutated payload) for every key of every object: removed, null, and a few wrong types."""
    if isinstance(data, dict):
        for key, value in data.items():
            here = (*path, key)
            yield (*here, "<removed>"), _without(reference(), here)
            for junk in (None, "junk", 1.5, True, 7, [], {}, ["junk"], [{}]):
                yield (*here, junk), _replaced(reference(), here, junk)
            yield from _variants(value, here)
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _variants(value, (*path, index))


def _at(data: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        data = data[step]
    return data


def _without(data: Any, path: tuple[Any, ...]) -> Any:
    del _at(data, path[:-1])[path[-1]]
    return data


def _replaced(data: Any, path: tuple[Any, ...], value: Any) -> Any:
    _at(data, path[:-1])[path[-1]] = value
    return data


def test_every_mutation_of_the_reference_payload_decodes_alike_or_fails_alike() -> None:
    # Each key of each object removed, nulled, or given a wrong type: the fast path must accept
    # exactly what cattrs accepts, with an equal result, and refuse the rest.
    checked = refused = 0
    for label, data in _variants(reference()):
        try:
            expected = cattrs_decode(data, DraftReturnResponse)
        except Exception:  # any refusal counts as a refusal
            expected = None
        try:
            got = _fast.structure(data, DraftReturnResponse)
        except Exception:
            got = None
        assert (got is None) == (expected is None), f"{label}: fast={got!r:.80}, cattrs={expected!r:.80}"
        if expected is None:
            refused += 1
            with pytest.raises(DecodeError):
                structure(data, DraftReturnResponse)
        else:
            assert got == expected and repr(got) == repr(expected), label
        checked += 1
    assert checked > 1000 and refused > 100  # the mutations exercise both outcomes


def test_decode_error_names_the_field_on_the_fast_path() -> None:
    data = reference()
    data["draft_return"]["totals"]["fees"]["refund"]["amount"] = "12.50"
    with pytest.raises(DecodeError, match=r"\$\.draft_return\.totals\.fees\.refund\.amount"):
        structure(data, DraftReturnResponse)
    data = reference()
    del data["draft_return"]["id"]
    with pytest.raises(DecodeError, match=r"\$\.draft_return\.id"):
        structure(data, DraftReturnResponse)


def test_renamed_keys_and_defaults_on_the_fast_path() -> None:
    page = structure({"returns": [], "nextPageUrl": "https://x/next"}, ReturnsPage)
    assert page == cattrs_decode({"returns": [], "nextPageUrl": "https://x/next"}, ReturnsPage)
    assert page.next_page_url == "https://x/next" and page.previous_page_url is None
    link = structure({"rel": "r", "href": "/h"}, Link)
    assert (link.method, link.fields, link.is_required) == ("GET", (), False)
    assert link == Link(rel="r", href="/h")


@attrs.frozen
class _Checked:
    count: int = attrs.field(validator=attrs.validators.ge(0))
    tags: list[str] = attrs.Factory(list)


@attrs.frozen
class _Tree:
    name: str
    children: tuple[_Tree, ...] = ()


def test_classes_the_generator_does_not_cover_keep_cattrs_semantics() -> None:
    # A validator runs (the generator leaves such classes to cattrs' hook and __init__).
    assert structure({"count": 2}, _Checked) == _Checked(count=2, tags=[])
    with pytest.raises(DecodeError):
        structure({"count": -1}, _Checked)
    # A class that contains itself decodes at every depth.
    tree = structure({"name": "a", "children": [{"name": "b", "children": [{"name": "c"}]}]}, _Tree)
    assert tree == _Tree("a", (_Tree("b", (_Tree("c"),)),))


def test_unknown_enum_values_and_extra_keys_alike() -> None:
    data = reference()
    data["draft_return"]["state"] = "archived-in-2030"
    data["draft_return"]["brand_new_key"] = {"nested": [1, 2]}
    data["context"]["available_credit_types"] = ["gift", "crypto"]
    fast, plain = structure(data, DraftReturnResponse), cattrs_decode(data, DraftReturnResponse)
    assert fast == plain
    assert fast.draft_return.state == "archived-in-2030" and not fast.draft_return.state.is_known
    assert [c.is_known for c in fast.context.available_credit_types] == [True, False]  # type: ignore[union-attr]


# --- the navigator's lazy resource -----------------------------------------------------------

DRAFT = "/draft-returns/12345"


async def test_a_navigators_resource_is_decoded_on_first_access(scripted: ScriptedServer, client: LoopClient) -> None:
    scripted.answer(DRAFT, reference())
    nav = await client.draft_returns.get(12345)
    assert nav._resource._value is _UNDECODED  # not decoded yet (the private cell, to see it)
    assert nav.rels and nav.link(nav.rels[0]).href  # links are there without the resource
    eager = structure(reference(), DraftReturnResponse)
    assert nav.resource == eager and repr(nav.resource) == repr(eager)
    assert attrs.asdict(nav.resource) == attrs.asdict(eager)
    assert pickle.loads(pickle.dumps(nav.resource)) == eager
    assert nav.resource is nav.resource  # decoded once, then kept
    assert nav.data == reference()  # the raw JSON is still there (parsed again from the body)


async def test_a_lazily_decoded_resource_that_fails_raises_the_eager_decode_error(
    scripted: ScriptedServer, client: LoopClient
) -> None:
    broken = reference()
    broken["draft_return"]["returning_items"][0]["order_line_item_id"] = "seventy"
    with pytest.raises(DecodeError) as eager:
        structure(broken, DraftReturnResponse, what="DraftReturnResponse")
    scripted.answer(DRAFT, broken)
    nav = await client.draft_returns.get(12345)  # links decode: the navigator is usable
    assert "Navigator" in repr(nav)  # a repr never raises
    for _ in range(2):  # the same error at every access, naming the field
        with pytest.raises(DecodeError) as lazy:
            _ = nav.resource
        assert str(lazy.value) == str(eager.value)
        assert "$.draft_return.returning_items[0].order_line_item_id" in str(lazy.value)


async def test_links_that_do_not_decode_fail_at_once(scripted: ScriptedServer, client: LoopClient) -> None:
    broken = reference()
    broken["links"][0]["rel"] = {"not": "text"}
    scripted.answer(DRAFT, broken)
    with pytest.raises(DecodeError, match="links"):
        await client.draft_returns.get(12345)


def test_draft_return_requires_its_state() -> None:
    # A required enum field: absent is an error on both paths, not a default.
    data = {"id": 1}
    with pytest.raises(DecodeError, match="state"):
        structure(data, DraftReturn)


def test_vocabulary_strings_are_shared_between_decodes() -> None:
    # Two answers parsed separately: their rels, methods and currency codes are one object each.
    first, second = structure(reference(), DraftReturnResponse), structure(reference(), DraftReturnResponse)
    assert first.links[0].rel is second.links[0].rel
    assert first.links[0].method is second.links[0].method
    totals_a, totals_b = first.draft_return.totals, second.draft_return.totals
    assert totals_a is not None and totals_b is not None
    assert totals_a.return_total is not None and totals_b.return_total is not None
    assert totals_a.return_total.currency is totals_b.return_total.currency
    assert first == second  # interning changes identity only


async def test_a_navigator_holds_the_body_not_its_parsed_json(scripted: ScriptedServer, client: LoopClient) -> None:
    scripted.answer(DRAFT, reference(), times=1)
    nav = await client.draft_returns.get(12345)
    assert nav.response is not None
    assert nav.response._data is not reference() and not isinstance(nav.response._data, dict)  # released
    assert not hasattr(nav._resource, "_parsed")  # the lazy resource keeps the response only
    assert nav.resource == structure(reference(), DraftReturnResponse)  # decoded from the body
