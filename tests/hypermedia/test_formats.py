"""Link-format adapters: Loop's links[] and HAL-FORMS turn into the same generic links."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from loop_async.errors import DecodeError, RelNotAvailableError
from loop_async.hypermedia import (
    Field,
    HalFormsFormat,
    Link,
    LinkFormat,
    LinkSet,
    LoopLinksFormat,
    NegotiatedFormat,
)
from loop_async.models import ApiErrorEntry, FieldType

SAMPLE = Path("/work/shared/loop-api/draft-return-response.json")


def test_both_adapters_satisfy_the_protocol() -> None:
    assert isinstance(LoopLinksFormat(), LinkFormat)
    assert isinstance(HalFormsFormat(), LinkFormat)


@pytest.mark.skipif(not SAMPLE.exists(), reason="the shared payload sample is not on this machine")
def test_loop_links_of_the_real_payload() -> None:
    data = json.loads(SAMPLE.read_text())
    fmt = LoopLinksFormat()
    [link] = fmt.links(data)
    assert link.is_required is True
    assert link.fields[0].name == "order_line_item_id"
    assert link.fields[0].type == FieldType.INT
    assert link.fields[0].allowed_values == ("refund", "gift", "exchange")
    assert fmt.errors(data) == (ApiErrorEntry(code="<string>", message="<string>"),)
    assert fmt.self_href(data) is None


def test_loop_links_missing_or_null_mean_terminal_and_errors_are_lenient() -> None:
    fmt = LoopLinksFormat()
    assert fmt.links({"links": None}) == ()
    assert fmt.links({}) == ()
    assert fmt.errors({"errors": ["validation-failed", {"code": 422, "message": "bad"}]}) == (
        ApiErrorEntry(code="validation-failed"),
        ApiErrorEntry(code="422", message="bad"),
    )
    with pytest.raises(DecodeError):
        fmt.links([1, 2])
    with pytest.raises(DecodeError):
        fmt.links({"links": [{"href": "/x"}]})  # no rel


HAL = {
    "draft_return": {"id": 7, "state": "created"},
    "_links": {
        "self": {"href": "https://api.example.test/api/2026-10/draft-returns/7"},
        "order": {"href": "https://api.example.test/api/2026-10/orders/42"},
        "curies": [{"name": "loop", "href": "https://docs.example.test/{rel}", "templated": True}],
    },
    "_templates": {
        "add-returning-item": {
            "title": "Add a line item to the return",
            "method": "post",
            "contentType": "application/json",
            "target": "https://api.example.test/api/2026-10/draft-returns/7/returning-items",
            "required": True,
            "properties": [
                {
                    "name": "order_line_item_id",
                    "required": True,
                    "type": "number",
                    "prompt": "Which item?",
                    "options": {"inline": [{"prompt": "Shirt", "value": 74}, {"prompt": "Hat", "value": 75}]},
                },
                {"name": "comment", "type": "text"},
                {"name": "size", "options": {"inline": ["S", "M"]}},
                {"name": "store", "options": {"link": {"href": "https://api.example.test/stores"}}},
            ],
        },
        "default": {"method": "DELETE", "title": "Cancel"},
    },
    "errors": [{"code": "partial", "message": "one thing failed"}],
}


def test_hal_forms_templates_become_links_with_fields() -> None:
    fmt = HalFormsFormat()
    links = fmt.links(HAL)
    assert [link.rel for link in links] == ["add-returning-item", "default", "order"]
    add, default, order = links
    assert add.method == "POST"
    assert add.is_required is True
    assert add.description == "Add a line item to the return"
    assert add.href.endswith("/draft-returns/7/returning-items")
    assert add.content_type == "application/json"
    assert add.fields == (
        Field(
            name="order_line_item_id",
            type=FieldType("enum"),  # options decide what is valid, whatever the input type
            description="Which item?",
            allowed_values=(74, 75),
            is_required=True,
            multiple=True,  # no maxItems: the spec sets no upper limit
        ),
        Field(name="comment", type=FieldType("string")),
        Field(name="size", type=FieldType("enum"), allowed_values=("S", "M"), multiple=True),
        # options.link is fetched when the link is followed (hypermedia.options)
        Field(name="store", type=FieldType("enum"), options_link="https://api.example.test/stores", multiple=True),
    )
    # A template without target acts on the resource itself (self).
    assert default.href == HAL["_links"]["self"]["href"]  # type: ignore[index]
    assert (default.method, default.is_required) == ("DELETE", False)
    assert order == Link(rel="order", href="https://api.example.test/api/2026-10/orders/42", method="GET")
    assert fmt.self_href(HAL) == "https://api.example.test/api/2026-10/draft-returns/7"
    assert fmt.errors(HAL) == (ApiErrorEntry(code="partial", message="one thing failed"),)


def test_hal_forms_terminal_and_embedded_errors() -> None:
    fmt = HalFormsFormat()
    body = {"_links": {"self": {"href": "/x"}}, "_embedded": {"errors": [{"code": "late"}]}}
    assert fmt.links(body) == ()
    assert fmt.errors(body) == (ApiErrorEntry(code="late"),)
    with pytest.raises(DecodeError):
        fmt.links({"_templates": {"x": {"method": "POST"}}})  # no target, no self
    with pytest.raises(DecodeError):
        fmt.links({"_links": {"self": {"href": "/x"}}, "_templates": {"x": {"properties": [{"type": "text"}]}}})


def test_linkset_family_member_and_lookup() -> None:
    links = LinkSet(
        [
            Link(rel="set-reason-74", href="/a"),
            Link(rel="set-reason-75", href="/b"),
            Link(rel="set-reason-uuid-1f-2", href="/c"),
            Link(rel="set-reason", href="/d"),
            Link(rel="set-reasonable", href="/e"),
            Link(rel="set-reason-74", href="/duplicate"),
        ]
    )
    assert links.rels == ("set-reason-74", "set-reason-75", "set-reason-uuid-1f-2", "set-reason", "set-reasonable")
    family = links.family("set-reason")
    assert {k: v.href for k, v in family.items()} == {"74": "/a", "75": "/b", "uuid-1f-2": "/c"}
    assert links.member("set-reason", 75).href == "/b"
    with pytest.raises(RelNotAvailableError) as caught:
        links.member("set-reason", 76)
    assert caught.value.available == ("set-reason-74", "set-reason-75", "set-reason-uuid-1f-2")
    assert "set-reason-76" in str(caught.value)
    assert links.get("nope") is None
    with pytest.raises(RelNotAvailableError, match="Did you mean 'set-reasonable'"):
        links["set-reasonabel"]
    assert len(links) == 6
    assert not LinkSet([])


def test_a_format_subclass_that_reads_links_its_own_way_is_honoured() -> None:
    """The decoded resource's links are reused only for the plain Loop format."""
    from loop_async import LoopClient
    from loop_async.hypermedia import Navigator
    from loop_async.models import DraftReturnResponse
    from loop_async.models._convert import structure

    class RequiredOnly(LoopLinksFormat):
        def links(self, data: Any) -> tuple[Link, ...]:
            return tuple(link for link in super().links(data) if link.is_required)

    data = json.loads((Path(__file__).parents[1] / "data" / "draft-return-response.json").read_text())
    data["links"] = [dict(data["links"][0], rel="a"), dict(data["links"][0], rel="b", is_required=False)]
    client = LoopClient("k")

    def decode(d: Any) -> DraftReturnResponse:
        return structure(d, DraftReturnResponse)

    assert Navigator(client.transport, data, format=LoopLinksFormat(), decode=decode).rels == ("a", "b")
    assert Navigator(client.transport, data, format=RequiredOnly(), decode=decode).rels == ("a",)


def test_hal_forms_property_constraints_are_read() -> None:
    body = {
        "_links": {"self": {"href": "/api/2026-10/things/1"}, "edit": {"href": "/api/2026-10/things/1/edit"}},
        "_templates": {
            "edit": {
                "method": "PUT",
                "contentType": "application/x-www-form-urlencoded",
                "properties": [
                    {"name": "code", "type": "text", "regex": "[A-Z]{3}", "minLength": 3, "maxLength": 3},
                    {"name": "qty", "type": "number", "min": 1, "max": "10", "step": 2},
                    {"name": "policy", "type": "hidden", "readOnly": True, "value": "p-1"},
                    {"name": "when", "type": "datetime-local", "min": "2026-01-01"},  # a date bound: not checked
                    {"name": "colour", "type": "made-up-type"},  # unknown: text
                    {"name": "url", "type": "url", "value": "/x/{id}", "templated": True},
                    {
                        "name": "tags",
                        "options": {
                            "inline": [{"label": "Red", "key": "r"}, {"label": "Blue", "key": "b"}],
                            "promptField": "label",
                            "valueField": "key",
                            "minItems": 1,
                            "maxItems": 2,
                            "selectedValues": ["r"],
                        },
                    },
                    {"name": "one", "options": {"inline": ["a", "b"], "maxItems": 1, "selectedValues": ["b"]}},
                    {"name": "remote", "options": {"link": {"href": "/api/2026-10/opts{?q}", "templated": True}}},
                ],
            }
        },
    }
    [edit] = HalFormsFormat().links(body)
    assert edit.href == "/api/2026-10/things/1/edit"  # Loop's form: the href from _links[rel]
    assert edit.content_type == "application/x-www-form-urlencoded"
    code, qty, policy, when, colour, url, tags, one, remote = edit.fields
    assert (code.type, code.regex, code.min_length, code.max_length) == (FieldType.STRING, "[A-Z]{3}", 3, 3)
    assert (qty.type, qty.min, qty.max, qty.step) == (FieldType("number"), 1, 10.0, 2)
    assert (policy.read_only, policy.value, policy.type) == (True, "p-1", FieldType.STRING)
    assert (when.type, when.min) == (FieldType.STRING, None)
    assert colour.type == FieldType.STRING
    assert url.value is None  # a URI Template is not a default
    assert tags.allowed_values == ("r", "b")
    assert (tags.prompt_field, tags.value_field, tags.min_items, tags.max_items) == ("label", "key", 1, 2)
    assert tags.multiple is True and tags.value == ["r"]
    assert one.multiple is False and one.value == "b"
    assert remote.options_link == "/api/2026-10/opts" and remote.allowed_values is None


def test_negotiated_format_follows_content_type_then_shape() -> None:
    fmt = NegotiatedFormat()
    hal_body = {"_links": {"self": {"href": "/x"}}}
    assert isinstance(fmt.for_response(hal_body, "application/prs.hal-forms+json; charset=utf-8"), HalFormsFormat)
    assert isinstance(fmt.for_response(hal_body, "application/json"), HalFormsFormat)
    both = {**hal_body, "links": []}  # both shapes: the content type decides
    assert isinstance(fmt.for_response(both, "application/prs.hal-forms+json"), HalFormsFormat)
    assert isinstance(fmt.for_response(both, "application/json"), LoopLinksFormat)
    with pytest.raises(DecodeError, match=r"served as application/prs\.hal-forms"):
        fmt.for_response({"draft_return": {}}, "application/prs.hal-forms+json")  # no links at all
    assert isinstance(fmt.for_response({"links": []}, "application/json"), LoopLinksFormat)
    assert isinstance(fmt.for_response({"links": []}, None), LoopLinksFormat)
    assert fmt.links(HAL)[0].rel == "add-returning-item"
    assert fmt.self_href(HAL) == HAL["_links"]["self"]["href"]  # type: ignore[index]
    # A body in no known format is an error, not a terminal state with no links.
    with pytest.raises(DecodeError, match="no links in a known format"):
        fmt.links({"draft_return": {"id": 1}})
    with pytest.raises(DecodeError):
        fmt.for_response([1], "application/json")
